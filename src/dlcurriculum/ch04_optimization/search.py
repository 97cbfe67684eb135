"""Steps to a target loss: how the experiment scores a learning rate or a schedule.

Ref: Zhang et al. 2019, sec. 4 ("steps required to reach a target loss").
"""

import math

import torch
from torch import Tensor


def steps_to_target(losses: Tensor, target: float) -> Tensor:
    """The first step at which each loss curve is at or below the target.

    Ref: Zhang et al. 2019, sec. 4 ("steps required to reach a target loss").

    Args:
        losses: loss curves, shape [..., T + 1]; index t is the loss after t steps.
        target: the loss to reach.

    Returns:
        Float tensor of shape [...]: the smallest t with losses[..., t] <= target, or
        `inf` where the curve never gets there (including curves that hold NaN).
    """
    # BEGIN SOLUTION
    # HINT: argmax of a boolean tensor returns the first True; check that one exists
    below = losses <= target  # NaN compares False, so a diverged run never "reaches" it
    first = below.to(torch.int64).argmax(-1).to(torch.float64)
    return torch.where(below.any(-1), first, torch.full_like(first, math.inf))
    # END SOLUTION
