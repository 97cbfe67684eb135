"""Learning-rate schedules on the NQM, tuned by black-box search over a parametric family.

The family is "constant, then exponential decay": lr_t = lr_0 for t < t_0 and
lr_0 2^(-(t - t_0) / τ) afterwards. A large early rate removes the bulk of the loss fast
while its noise floor is still below the loss; the decay then lowers the floor so the
target can be reached. The NQM paper instead finds each step's rate by dynamic
programming on the exact recursion; a three-parameter family is cruder but works the
same way for Adam, which has no exact recursion, and is what one would tune in practice.

The search is a grid, evolved all at once: lr_0, t_0 and τ are multiples of the best
constant rate and of its steps to target (the natural scales of the problem), and the grid
includes the constant rate itself, so a tuned schedule is never worse on the grid.

Ref: Zhang et al. 2019, sec. 3.3 (optimal schedules on the NQM) and fig. 6.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch04_optimization import tuning
from dlcurriculum.ch04_optimization.dynamics import Optimizer

PEAKS = (1.0, 1.5, 2.5, 4.0)
"""lr_0 as multiples of the best constant rate."""
STARTS = (0.0, 0.25, 0.5)
"""t_0 as fractions of the constant rate's steps to target."""
HALF_LIVES = (0.1, 0.2, 0.4)
"""τ as fractions of the constant rate's steps to target."""


def decay(start: Tensor, half_life: Tensor) -> Callable[[int], Tensor]:
    """lr multiplier per setting at step t: 1 before `start`, then halving every `half_life`.

    Args:
        start, half_life: one value per setting, same shape (half_life = inf: constant).
    """

    def multiplier(t: int) -> Tensor:
        return torch.exp2(-(t - start).clamp(min=0) / half_life)

    return multiplier


def schedule_grid(lr: float, steps: float) -> dict[str, Tensor]:
    """The candidate schedules around a constant rate `lr` that needs `steps` steps.

    Returns:
        {"lr0", "start", "half_life"}, each of shape [K]; entry 0 is the constant rate.
    """
    rows = [(1.0, 0.0, torch.inf)]
    rows += [(p, s, tau) for p in PEAKS for s in STARTS for tau in HALF_LIVES]
    grid = torch.tensor(rows, dtype=torch.float64)
    scale = max(steps, 1.0)
    return {
        "lr0": lr * grid[:, 0],
        "start": (grid[:, 1] * scale).round(),
        "half_life": (grid[:, 2] * scale).clamp(min=1.0),
    }


def tune_schedule(
    problem: tuple[Tensor, Tensor, Tensor],
    optimizer: Optimizer,
    batch: float,
    lr: float,
    steps: float,
    target: float,
    max_steps: int,
    **grid: Any,
) -> dict[str, float]:
    """The schedule of the family that reaches the target in the fewest steps.

    Args:
        problem: (h, c, theta0) from `dynamics.nqm_problem`.
        batch: the batch size.
        lr, steps: the best constant rate and its steps to target (sets the grid's scales).
        grid: passed to `tuning.steps_grid` (runs, generator, steps_fn, adam, ...).

    Returns:
        {"lr0", "start", "half_life", "steps"} of the best schedule (steps on the grid run).
    """
    cand = schedule_grid(lr, steps)
    # the search stops as soon as the fastest schedule arrives, so it costs no more than it
    # saves: the slower schedules are never evolved to the end
    found = tuning.steps_grid(
        problem, optimizer, torch.tensor([batch]), cand["lr0"][None], target, max_steps,
        schedule=decay(cand["start"][None], cand["half_life"][None]), fewest_only=True,
        **grid,
    )[0]  # fmt: skip
    k = int(found.argmin())
    return {name: float(v[k]) for name, v in cand.items()} | {"steps": float(found[k])}


def schedule_lrs(lr0: float, start: float, half_life: float, steps: int) -> Tensor:
    """The rates of one schedule of the family for `steps` steps, shape [steps]."""
    mult = decay(torch.tensor(start, dtype=torch.float64), torch.tensor(half_life))
    return lr0 * torch.stack([mult(t) for t in range(steps)])
