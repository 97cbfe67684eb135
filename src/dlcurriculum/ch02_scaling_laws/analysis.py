"""Fitting scaling laws: the compute-efficient frontier, power laws, compute-optimal size.

Pure numpy functions of the sweep's result rows, tested on synthetic data with known
exponents. The two fits the learner writes live in fitting.py and arrive through `ns`.
The intervals come from a bootstrap over seeds: each cell's seeds are resampled with
replacement and every fit is redone, so the interval shows how much the exponents move
with the randomness of training alone.

Ref: Kaplan et al. 2020, sec. 1 and 6 (frontier, L(C) and N_opt(C) power laws);
Hoffmann et al. 2022, sec. 3.1-3.2 (IsoFLOP profiles and their minima).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jaxtyping import Float, Int

from dlcurriculum.ch02_scaling_laws.impl import Impl


@dataclass(frozen=True)
class PowerLaw:
    """y = e + a * x^(-alpha), with the R² of log y and the number of points it was fitted on."""

    a: float
    alpha: float
    e: float
    r2: float
    points: int

    def predict(self, x: Float[np.ndarray, " n"]) -> Float[np.ndarray, " n"]:
        """The fitted curve at x."""
        return self.e + self.a * np.asarray(x, dtype=float) ** -self.alpha


NO_FIT = PowerLaw(np.nan, np.nan, np.nan, np.nan, 0)


def fit(
    x: Float[np.ndarray, " n"],
    y: Float[np.ndarray, " n"],
    ns: Impl,
    irreducible: bool = False,
) -> PowerLaw:
    """A power law (optionally plus an irreducible term e >= 0) fitted to (x, y).

    Args:
        x, y: positive data.
        ns: holds `fit_power_law` (the reference's or the learner's).
        irreducible: also fit e, by a grid over [0, min y): a loss cannot fall below the
            entropy of the data (Henighan et al. 2020), which bends the log-log line.

    Returns:
        The fit; NO_FIT (all nan) when there are fewer than 3 points or 2 distinct x.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or len(np.unique(x)) < 2 or (y <= 0).any():
        return NO_FIT
    e = _best_floor(x, y) if irreducible else 0.0
    a, alpha = ns.fit_power_law(x, y - e)
    law = PowerLaw(a, alpha, e, 0.0, len(x))
    residual = np.log(y) - np.log(law.predict(x))
    r2 = 1 - (residual**2).sum() / ((np.log(y) - np.log(y).mean()) ** 2).sum()
    return PowerLaw(a, alpha, e, float(r2), len(x))


def _best_floor(x: np.ndarray, y: np.ndarray, grid: int = 200) -> float:
    """The e in [0, 0.99 min y) whose straight-line fit of log(y - e) best fits log y."""
    floors = np.linspace(0, 0.99 * y.min(), grid)[:, None]  # [grid, 1]
    u, v = np.log(x), np.log(y - floors)  # [n], [grid, n]
    slope = ((u - u.mean()) * (v - v.mean(1, keepdims=True))).sum(1) / ((u - u.mean()) ** 2).sum()
    intercept = v.mean(1) - slope * u.mean()
    pred = floors + np.exp(intercept[:, None] + slope[:, None] * u)  # [grid, n]
    return float(floors[np.argmin(((np.log(y) - np.log(pred)) ** 2).sum(1)), 0])


@dataclass(frozen=True)
class Grid:
    """One condition of the sweep as arrays: cells (width x train size) by seeds."""

    width: Int[np.ndarray, " cells"]
    train_size: Int[np.ndarray, " cells"]
    params: Float[np.ndarray, " cells"]
    examples: Float[np.ndarray, " cells"]
    compute: Float[np.ndarray, " cells"]
    loss: Float[np.ndarray, "cells seeds"]
    error: Float[np.ndarray, "cells seeds"]


def to_grid(rows: Sequence[dict[str, Any]], dropout: float) -> Grid:
    """The rows of one dropout rate as a Grid; every cell must have the same seeds."""
    mine = [r for r in rows if r["dropout"] == dropout]
    cells = sorted({(r["width"], r["train_size"]) for r in mine})
    by_cell = {
        c: sorted((r for r in mine if (r["width"], r["train_size"]) == c), key=_seed) for c in cells
    }
    seeds = {tuple(_seed(r) for r in runs) for runs in by_cell.values()}
    if len(seeds) != 1:
        raise ValueError(f"dropout {dropout}: cells have different seeds {sorted(seeds)}")
    first = [runs[0] for runs in by_cell.values()]
    return Grid(
        width=np.array([c[0] for c in cells], dtype=np.int64),
        train_size=np.array([c[1] for c in cells], dtype=np.int64),
        params=np.array([r["parameters"] for r in first], dtype=float),
        examples=np.array([r["examples"] for r in first], dtype=float),
        compute=np.array([r["compute"] for r in first], dtype=float),
        loss=np.array([[r["val_loss"] for r in runs] for runs in by_cell.values()]),
        error=np.array([[1 - r["val_accuracy"] for r in runs] for runs in by_cell.values()]),
    )


def _seed(row: dict[str, Any]) -> int:
    return int(row["seed"])


def isoflop_optima(
    g: Grid, loss: Float[np.ndarray, " cells"]
) -> tuple[Float[np.ndarray, " k"], Float[np.ndarray, " k"]]:
    """(compute, optimal parameters) of each iso-compute profile with an interior minimum.

    Ref: Hoffmann et al. 2022, sec. 3.2 (IsoFLOP profiles, their approach 2).

    Each width step doubles forward FLOPs and each data step doubles the examples, so the
    cells with the same (width rank + data rank) share (nearly) one compute budget. A
    parabola in log(parameters) fitted to each profile of 3+ models puts the optimum
    between grid points; a profile whose parabola has no minimum inside its range of sizes
    only bounds the optimum and is left out.
    """
    width_rank = np.searchsorted(np.unique(g.width), g.width)
    size_rank = np.searchsorted(np.unique(g.train_size), g.train_size)
    budgets, sizes = [], []
    for group in np.unique(width_rank + size_rank):
        members = np.flatnonzero(width_rank + size_rank == group)
        u = np.log(g.params[members])
        if len(members) < 3:
            continue
        curvature, slope, _ = np.polyfit(u, loss[members], 2)
        if curvature <= 0 or not u.min() < -slope / (2 * curvature) < u.max():
            continue
        sizes.append(np.exp(-slope / (2 * curvature)))
        budgets.append(np.exp(np.log(g.compute[members]).mean()))
    return np.array(budgets), np.array(sizes)


FITS = ("frontier", "error", "optimal_size", "isoflop_size", "data", "width")
"""The fitted laws: L(C) and error(C) on their frontiers; N_opt(C) from the frontier's
models (Kaplan et al.) and from iso-compute profiles (Hoffmann et al.); L(D) at the
largest width; L(N) on all the data."""
SIZE_FITS = ("optimal_size", "isoflop_size")
"""Fits of a growing quantity: their exponent is beta in N_opt ∝ C^beta."""


@dataclass(frozen=True)
class ConditionFit:
    """Every fit of one condition, from one set of per-cell mean losses."""

    frontier: Int[np.ndarray, " k"]
    error_frontier: Int[np.ndarray, " j"]
    optima: tuple[np.ndarray, np.ndarray]
    """(compute, parameters) of the iso-compute minima."""
    laws: dict[str, PowerLaw] = field(default_factory=dict)

    def exponent(self, name: str) -> float:
        """alpha of the loss laws; beta of the size laws (the fitted alpha, sign flipped)."""
        return -self.laws[name].alpha if name in SIZE_FITS else self.laws[name].alpha


def fit_condition(
    g: Grid,
    loss: Float[np.ndarray, " cells"],
    error: Float[np.ndarray, " cells"],
    ns: Impl,
    irreducible: bool = False,
) -> ConditionFit:
    """All fits of one condition from per-cell mean loss and error rate."""
    front = ns.compute_frontier(g.compute, loss)
    err_front = ns.compute_frontier(g.compute, error)
    budgets, sizes = isoflop_optima(g, loss)
    widest, most_data = g.width == g.width.max(), g.train_size == g.train_size.max()
    laws = {
        "frontier": fit(g.compute[front], loss[front], ns, irreducible),
        "error": fit(g.compute[err_front], error[err_front], ns, irreducible),
        "optimal_size": fit(g.compute[front], g.params[front], ns),
        "isoflop_size": fit(budgets, sizes, ns),
        "data": fit(g.examples[widest], loss[widest], ns, irreducible),
        "width": fit(g.params[most_data], loss[most_data], ns, irreducible),
    }
    return ConditionFit(front, err_front, (budgets, sizes), laws)


def bootstrap(
    g: Grid, ns: Impl, irreducible: bool = False, n_boot: int = 1000, seed: int = 0
) -> dict[str, Float[np.ndarray, " boot"]]:
    """Each fit's exponent on `n_boot` resamples of every cell's seeds (with replacement)."""
    rng = np.random.default_rng(seed)
    cells, seeds = g.loss.shape
    out: dict[str, list[float]] = {name: [] for name in FITS}
    for _ in range(n_boot if seeds > 1 else 0):
        pick = rng.integers(0, seeds, size=(cells, seeds))
        loss = np.take_along_axis(g.loss, pick, 1).mean(1)
        error = np.take_along_axis(g.error, pick, 1).mean(1)
        result = fit_condition(g, loss, error, ns, irreducible)
        for name in FITS:
            out[name].append(result.exponent(name))
    return {name: np.array(values) for name, values in out.items()}


def analyze(
    rows: Sequence[dict[str, Any]],
    ns: Impl,
    irreducible: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Any]]]:
    """{dropout: {fit: exponent, 95% interval, a, e, R², points}} for every condition.

    Exponents are fitted on the seed means; the interval is the 2.5-97.5 percentile of
    the bootstrap (None with one seed). JSON-ready: nan becomes None.
    """
    out = {}
    for dropout in sorted({r["dropout"] for r in rows}):
        g = to_grid(rows, dropout)
        point = fit_condition(g, g.loss.mean(1), g.error.mean(1), ns, irreducible)
        boots = bootstrap(g, ns, irreducible, n_boot, seed)
        out[f"{dropout:g}"] = {
            name: {
                "exponent": _num(point.exponent(name)),
                "ci": _interval(boots[name]),
                "a": _num(point.laws[name].a),
                "e": _num(point.laws[name].e),
                "r2": _num(point.laws[name].r2),
                "points": point.laws[name].points,
            }
            for name in FITS
        }
    return out


def _interval(values: np.ndarray) -> list[float | None] | None:
    values = values[np.isfinite(values)]
    if len(values) < 10:  # too few finite resamples for percentiles to mean anything
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
