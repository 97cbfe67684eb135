"""FlopCounterMode's count of a model's FLOPs: the oracle for `flops.forward_flops`.

Kept apart from flops.py, the module the learner edits, because it answers that exercise.
"""

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def measured_flops(
    model: nn.Module, input_shape: Sequence[int] = (1, 28, 28), backward: bool = False
) -> int:
    """FLOPs per example as `FlopCounterMode` counts them (the oracle for `forward_flops`).

    Args:
        model: the network.
        input_shape: one example's shape.
        backward: count a training step's forward and backward pass (a sum of the logits
            as the loss), not the forward pass alone.
    """
    was_training = model.training
    model.train(backward)
    device = next(model.parameters()).device
    x = torch.rand(2, *input_shape, device=device)  # batch 2: batch norm needs > 1 in train
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.set_grad_enabled(backward):
            out = model(x)
            if backward:
                out.sum().backward()
    finally:
        model.train(was_training)
        model.zero_grad(set_to_none=True)
    return counter.get_total_flops() // 2
