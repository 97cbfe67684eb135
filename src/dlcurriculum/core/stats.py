"""Small statistics the verdicts share: intervals of proportions and a least-squares line."""

import math
from collections.abc import Sequence

Z95 = 1.959964
"""Two-sided 95% normal quantile."""


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (Wilson 1927); sensible at k = 0,
    and (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exact ends at k = 0 and k = n (rounding would give 1e-17 or 0.9999999999999999)
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


def rise_interval(k0: int, n0: int, k1: int, n1: int, z: float = Z95) -> tuple[float, float]:
    """Interval of the rise k1/n1 - k0/n0 of a proportion, from two independent samples.

    Newcombe's hybrid score interval (Newcombe 1998, method 10): each rate's Wilson interval,
    combined. Unlike the Wald interval it stays inside [-1, 1] and keeps its coverage for
    rates near 0 or 1.
    """
    p0, p1 = k0 / n0, k1 / n1
    l0, u0 = wilson_interval(k0, n0, z)
    l1, u1 = wilson_interval(k1, n1, z)
    d = p1 - p0
    return d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def line_fit(x: Sequence[int | float], y: Sequence[int | float]) -> tuple[float, float, float]:
    """Least-squares line y = a x + b and its R^2 (nan with fewer than 3 points)."""
    n = len(x)
    if n < 3:
        return float("nan"), float("nan"), float("nan")
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    sxy = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True))
    syy = sum((yi - my) ** 2 for yi in y)
    a = sxy / sxx if sxx else 0.0
    b = my - a * mx
    residual = sum((yi - a * xi - b) ** 2 for xi, yi in zip(x, y, strict=True))
    return a, b, 1.0 - residual / syy if syy else 0.0
