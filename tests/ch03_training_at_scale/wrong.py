"""Known-wrong exercise solutions the graders must reject (module level: spawnable)."""

import torch
from torch import nn

from dlcurriculum.ch03_training_at_scale.comm import Comm


@torch.no_grad()
def broadcast_parameters_only(model: nn.Module, comm: Comm, src: int = 0) -> None:
    """Forgets the buffers (batch-norm running statistics)."""
    for p in model.parameters():
        comm.broadcast(p.data, src)


@torch.no_grad()
def allreduce_sum_only(model: nn.Module, comm: Comm) -> None:
    """Sums the gradients instead of averaging them."""
    for p in model.parameters():
        if p.grad is not None:
            comm.allreduce(p.grad)
