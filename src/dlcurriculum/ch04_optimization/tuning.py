"""Tuning on the NQM: steps to a target loss, the best constant learning rate per batch size,
and the fits that summarise them (LR-vs-batch slope, critical batch size).

The best constant learning rate for a batch size is the one that reaches the target loss
in the fewest steps. It is found by an exact search on a log grid of learning rates (every
grid point evolved at once, exactly for SGD and momentum, by simulation for Adam), refined
by a parabola through log-steps at the grid minimum and its two neighbours.

Ref: Zhang et al. 2019, sec. 4.1 and fig. 3-5; McCandlish et al. 2018, eq. 2.11 and fig. 3.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dlcurriculum.ch04_optimization import dynamics
from dlcurriculum.ch04_optimization.dynamics import Optimizer

DIVERGED = 2.0
"""A run whose loss ever exceeds this many times its initial loss has failed, even if it
comes back later: on a quadratic a decaying schedule can undo any blow-up (a rate swept
down through 1/h_i annihilates coordinate i), but in a network such a spike is a NaN."""


StepsFn = Callable[[Tensor, float], Tensor]
AdamFn = Callable[..., tuple[Tensor, Tensor, Tensor]]


def safe_steps(curves: Tensor, target: float, steps_fn: StepsFn) -> Tensor:
    """Steps to target, inf where the loss first passed DIVERGED x its initial value.

    Args:
        curves: loss curves [..., T + 1] (index 0: the initial loss).
        steps_fn: the steps-to-target function (the learner's in `--impl` runs).
    """
    steps = steps_fn(curves, target)
    excess = curves.nan_to_num(math.inf) / (DIVERGED * curves[..., :1])
    blew_up = steps_fn(-excess, -1.0)  # the first step with loss >= DIVERGED x initial
    return torch.where(blew_up < steps, torch.full_like(steps, math.inf), steps)


def _stop_when_bracketed(target: float, steps_fn: StepsFn) -> dynamics.Stop:
    """Stop once every row's best learning rate and its neighbours are settled.

    A neighbour is settled when it has reached the target or diverged, so the parabola
    through the three can be drawn without evolving the slowest learning rates to the end.
    A neighbour that has done neither after 3x the best steps (a slow instability, or a
    far too small rate) is left unsettled: `best_lr` then keeps the grid point.
    """

    def stop(curves: Tensor) -> bool:
        steps = safe_steps(curves, target, steps_fn)  # [nb, L]
        fastest = steps.min(-1).values  # [nb]
        if not fastest.isfinite().all():
            return False
        blown = curves.nan_to_num(math.inf) >= DIVERGED * curves[..., :1]
        done = steps.isfinite() | blown.any(-1)
        best = steps.argmin(-1, keepdim=True)
        idx = torch.cat([best - 1, best + 1], -1).clamp(0, steps.shape[-1] - 1)
        bracketed = done.gather(-1, idx).all(-1)
        given_up = curves.shape[-1] > 3 * fastest + 1
        return bool((bracketed | given_up).all())

    return stop


def _stop_when_any_reached(target: float, steps_fn: StepsFn) -> dynamics.Stop:
    """Stop once every row has one setting at the target: the fewest steps are then known."""

    def stop(curves: Tensor) -> bool:
        steps = safe_steps(curves, target, steps_fn)
        return bool(steps.min(-1).values.isfinite().all())

    return stop


def steps_grid(
    problem: tuple[Tensor, Tensor, Tensor],
    optimizer: Optimizer,
    batch_sizes: Tensor,
    lrs: Tensor,
    target: float,
    max_steps: int,
    *,
    steps_fn: StepsFn,
    adam: AdamFn | None = None,
    runs: int = 8,
    generator: torch.Generator | None = None,
    momentum: float = 0.9,
    schedule: dynamics.Schedule | None = None,
    fewest_only: bool = False,
) -> Tensor:
    """Steps to target for every (batch size, learning rate), shape [nb, L] (`safe_steps`).

    SGD and heavy-ball momentum use the exact expected loss; Adam the mean of `runs`
    simulated trajectories (in float32: the mean over runs and coordinates is what counts),
    with the same noise for every setting so that their comparison is not a lottery.

    Args:
        problem: (h, c, theta0) from `dynamics.nqm_problem`.
        optimizer: "sgd", "momentum" or "adam".
        batch_sizes: shape [nb].
        lrs: learning rates per batch size, shape [nb, L].
        target: the loss to reach.
        max_steps: give up (inf) after this many steps.
        schedule: lr multiplier per step, one per setting (see `dynamics.Schedule`).
        fewest_only: stop as soon as each row's fastest setting is known (the others
            stay inf); otherwise run until the best lr's neighbours are settled too.
        steps_fn, adam: the exercises `search.steps_to_target` and `nqm.adam_step` (the
            learner's in `--impl` runs; adam is needed for "adam" only).
    """
    h, c, theta0 = problem
    if fewest_only:
        stop = _stop_when_any_reached(target, steps_fn)
    else:
        stop = _stop_when_bracketed(target, steps_fn)
    batch = batch_sizes[:, None].to(h.dtype)
    if optimizer == "adam":
        h32, c32, t32 = (x.float() for x in problem)
        losses, _ = dynamics.simulate(
            h32, c32, t32, lrs.float(), batch.float(), max_steps, "adam", runs=runs,
            generator=generator, schedule=schedule, stop=stop, adam=adam, common_noise=True,
        )  # fmt: skip
        losses = losses.double().mean(-2)
    else:
        beta = momentum if optimizer == "momentum" else 0.0
        losses, _, _ = dynamics.exact_dynamics(
            h, c, theta0, lrs.to(h.dtype), batch, max_steps, momentum=beta,
            schedule=schedule, stop=stop,
        )  # fmt: skip
    return safe_steps(losses, target, steps_fn)


def best_lr(lrs: Tensor, steps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Refined argmin of steps over a log-spaced lr grid, per row.

    Returns:
        (best lr [nb], steps at the best grid point [nb], whether the grid minimum is
        interior [nb]: at an edge the optimum may lie outside the grid).
    """
    x, y = lrs.double().log(), steps.double().log()
    k = y.nan_to_num(math.inf).argmin(-1)
    best_x = x.gather(-1, k[:, None])[:, 0]
    interior = (k > 0) & (k < x.shape[-1] - 1)
    out = best_x.clone()
    for i in torch.nonzero(interior)[:, 0].tolist():
        j = int(k[i])
        y3, x3 = y[i, j - 1 : j + 2], x[i, j - 1 : j + 2]
        if torch.isfinite(y3).all():
            # vertex of the parabola through the three points (uniform log grid)
            denom = float(y3[0] - 2 * y3[1] + y3[2])
            if denom > 0:
                shift = 0.5 * float(y3[0] - y3[2]) / denom
                out[i] = x3[1] + shift * (x3[2] - x3[1])
    return out.exp(), steps.gather(-1, k[:, None])[:, 0], interior


def lr_candidates(center: Tensor, n: int, ratio: float) -> Tensor:
    """n learning rates per row, geometric with the given ratio, centred on `center` [nb]."""
    offsets = (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) * math.log(ratio)
    return (center.double().log()[:, None] + offsets).exp()


def tune_lr(
    problem: tuple[Tensor, Tensor, Tensor],
    optimizer: Optimizer,
    batch: float,
    center: float,
    target: float,
    max_steps: int,
    n_lrs: int = 9,
    ratio: float = 2**0.5,
    retries: int = 3,
    **grid: Any,
) -> tuple[float, float, float, bool]:
    """Best constant lr for one batch size, moving the grid while its best point is an edge.

    Each retry recentres the grid on the edge point, so the optimum ends up interior
    wherever the first guess was off by less than ratio^(retries (n_lrs - 1) / 2).

    Args:
        grid: passed to `steps_grid` (steps_fn and adam, runs, generator, ...).

    Returns:
        (refined best lr, best grid lr, steps at the best grid lr, whether it is interior).
    """
    for _ in range(retries + 1):
        lrs = lr_candidates(torch.tensor([center]), n_lrs, ratio)
        steps = steps_grid(
            problem, optimizer, torch.tensor([batch]), lrs, target, max_steps, **grid
        )
        lr, best, interior = best_lr(lrs, steps)
        if bool(interior[0]) or not steps.isfinite().any():
            break
        center = float(lrs[0, int(steps[0].argmin())])
    grid_lr = float(lrs[0, int(steps[0].argmin())])
    return float(lr[0]), grid_lr, float(best[0]), bool(interior[0])


def loss_curve(
    problem: tuple[Tensor, Tensor, Tensor],
    optimizer: Optimizer,
    batch: float,
    lrs: Tensor,
    *,
    expected_loss: Callable[..., Tensor],
    adam: AdamFn | None = None,
    runs: int = 8,
    generator: torch.Generator | None = None,
    momentum: float = 0.9,
) -> Tensor:
    """Expected loss after each step of one schedule `lrs` [steps], shape [steps + 1].

    Exact for SGD (through `expected_loss`, the exercise `nqm.nqm_expected_loss`) and
    momentum; the mean of `runs` simulated trajectories for Adam (through `adam`, the
    exercise `nqm.adam_step`). The learner's exercises in `--impl` runs.
    """
    h, c, theta0 = problem
    if optimizer == "sgd":
        return torch.as_tensor(expected_loss(h, c, theta0, lrs.double(), batch)).double()
    one = torch.tensor(1.0, dtype=h.dtype)
    if optimizer == "momentum":
        losses, _, _ = dynamics.exact_dynamics(
            h, c, theta0, one, batch, len(lrs), momentum=momentum, schedule=lrs.to(h.dtype)
        )
        return losses
    sim, _ = dynamics.simulate(
        h, c, theta0, one, batch, len(lrs), "adam", runs=runs, generator=generator,
        schedule=lrs.to(h.dtype), adam=adam,
    )  # fmt: skip
    return sim.mean(-2)


def fit_slope(x: Any, y: Any) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def fit_critical_batch(batch_sizes: Any, steps: Any) -> dict[str, float]:
    """Fit S(B) = S_min (1 + B_crit / B), the steps-vs-batch law of large-batch training.

    Ref: McCandlish et al. 2018, eq. 2.11: (S/S_min - 1)(E/E_min - 1) = 1 with E = B S
    gives S = S_min (1 + B_crit / B) and E_min = S_min B_crit.

    S is linear in 1/B; weighting each point by 1/S fits relative errors, so the many small
    steps at large batch count as much as the many large ones at small batch.
    """
    b, s = np.asarray(batch_sizes, float), np.asarray(steps, float)
    ok = np.isfinite(s)
    b, s = b[ok], s[ok]
    design = np.stack([np.ones_like(b), 1.0 / b], 1) / s[:, None]
    (s_min, slope), *_ = np.linalg.lstsq(design, np.ones_like(s), rcond=None)
    fitted = s_min + slope / b
    return {
        "s_min": float(s_min),
        "b_crit": float(slope / s_min),
        "e_min": float(slope),
        "max_rel_err": float(np.max(np.abs(fitted / s - 1))),
    }


def local_slopes(batch_sizes: Any, steps: Any) -> tuple[float, float]:
    """(slope of log S vs log B over the first two points, over the last two)."""
    b, s = list(batch_sizes), list(steps)
    return fit_slope(b[:2], s[:2]), fit_slope(b[-2:], s[-2:])
