"""The two training exercises: one optimizer step, and accuracy.

The loop that uses them (fit, evaluate, augmentation) is in loop.py, which a learner does
not edit.
"""

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

if TYPE_CHECKING:
    pass


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: Float[Tensor, "batch 1 28 28"],
    labels: Int[Tensor, " batch"],
) -> float:
    """One step of gradient descent on the mean cross-entropy of a batch.

    Args:
        model: maps images to logits [batch, 10]; it is in train mode.
        optimizer: holds the model's parameters.
        images: float32 in [0, 1].
        labels: class indices 0..9, int64.

    Returns:
        The batch's mean cross-entropy loss *before* the update, as a Python float.
    """
    # BEGIN SOLUTION
    # HINT: clear old gradients first (optimizer.zero_grad), or they add up across steps.
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()
    # END SOLUTION


def accuracy(logits: Float[Tensor, "batch 10"], labels: Int[Tensor, " batch"]) -> float:
    """Fraction of examples whose highest logit is the true class.

    Args:
        logits: class scores, one row per example.
        labels: class indices.

    Returns:
        A Python float in [0, 1].
    """
    # BEGIN SOLUTION
    # HINT: the predicted class is the argmax over the class dimension (dim=1), not the batch.
    return (logits.argmax(dim=1) == labels).float().mean().item()
    # END SOLUTION
