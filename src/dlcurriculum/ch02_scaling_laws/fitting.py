"""The two fits of a scaling-law study that the learner writes: the compute-efficient
frontier and a power law. analysis.py applies them to the sweep's rows.

Ref: Kaplan et al. 2020, sec. 1 and 6 (frontier, L(C) power laws).
"""

import numpy as np
from jaxtyping import Float, Int


def compute_frontier(
    compute: Float[np.ndarray, " n"], loss: Float[np.ndarray, " n"]
) -> Int[np.ndarray, " k"]:
    """Indices of the compute-efficient runs: those that beat every run using no more compute.

    Ref: Kaplan et al. 2020, fig. 1 (the frontier is the envelope of all runs).

    Run i is on the frontier when every other run j with compute[j] <= compute[i] has a
    higher loss. Among runs with equal compute only the lowest loss can qualify; exact
    duplicates (same compute and loss) keep the one with the smaller index.

    Args:
        compute: training FLOPs of each run, in any order.
        loss: validation loss of each run.

    Returns:
        int64 indices into the inputs, in increasing order of compute (and so of
        decreasing loss).
    """
    # BEGIN SOLUTION
    # HINT: sort by compute, breaking ties by loss (np.lexsort), then keep each run whose loss
    # HINT: is below the best loss of all the cheaper runs seen so far.
    keep: list[int] = []
    best = np.inf
    for i in np.lexsort((loss, compute)):
        if loss[i] < best:
            keep.append(int(i))
            best = loss[i]
    return np.asarray(keep, dtype=np.int64)
    # END SOLUTION


def fit_power_law(x: Float[np.ndarray, " n"], y: Float[np.ndarray, " n"]) -> tuple[float, float]:
    """Least-squares fit of y = a * x^(-alpha), as a straight line in log-log space.

    Ref: Kaplan et al. 2020, eq. 1.1-1.3 (L(C) = (C_c / C)^alpha_C and its siblings).

    Minimise sum_i (log y_i - (log a - alpha log x_i))^2: ordinary least squares of log y
    on log x, so each point's relative (not absolute) error counts.

    Args:
        x: positive inputs (e.g. compute), at least two distinct values.
        y: positive outputs (e.g. loss).

    Returns:
        (a, alpha) as Python floats. alpha > 0 means y falls as x grows; a growing
        quantity (the optimal model size) gives a negative alpha.
    """
    # BEGIN SOLUTION
    # HINT: log y = log a - alpha * log x is a line; np.polyfit(u, v, 1) returns [slope, intercept].
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(intercept)), float(-slope)
    # END SOLUTION
