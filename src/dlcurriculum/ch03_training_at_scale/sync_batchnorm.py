"""Batch norm whose statistics cover the global batch, not one rank's shard.

Ref: Peng et al. 2018, "MegDet", section 4 (cross-GPU batch normalization).

A plain BatchNorm2d in a data-parallel replica normalizes with its own shard's mean and
variance, so W processes do not compute what one process computes on the whole batch.
Summing the per-channel sums over the ranks (differentiably) restores exact equality,
which is what the 1-vs-2-process test of the MNIST CNN needs.
"""

from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm


class _AllReduceSum(torch.autograd.Function):
    """y = sum over ranks of x; every rank's loss depends on y, so dL/dx = sum of dL_r/dy."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, comm: Comm) -> Tensor:
        ctx.comm = comm
        y = x.clone()
        comm.allreduce(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        g = grad.clone()
        ctx.comm.allreduce(g)
        return g, None


def allreduce_sum(x: Tensor, comm: Comm) -> Tensor:
    """Differentiable sum of `x` over the ranks of `comm`."""
    if comm.world_size == 1:
        return x
    out: Tensor = _AllReduceSum.apply(x, comm)
    return out


class SyncBatchNorm2d(nn.Module):
    """BatchNorm2d with statistics of the global batch (two allreduces per call in training).

    Holds the same parameters and buffers as the BatchNorm2d it replaces (weight, bias,
    running_mean, running_var, num_batches_tracked), so state dicts stay compatible.
    """

    def __init__(self, bn: nn.BatchNorm2d, comm: Comm):
        super().__init__()
        assert bn.affine and bn.track_running_stats, "only affine, tracking batch norm"
        self.comm, self.eps, self.momentum = comm, bn.eps, bn.momentum or 0.1
        self.weight, self.bias = bn.weight, bn.bias
        self.running_mean: Tensor
        self.running_var: Tensor
        self.num_batches_tracked: Tensor
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, getattr(bn, name))

    def forward(self, x: Tensor) -> Tensor:
        """Normalize each channel with the mean and biased variance over every rank's batch."""
        if not self.training:
            return nn.functional.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        dims = (0, 2, 3)
        count = torch.tensor(float(x.shape[0] * x.shape[2] * x.shape[3]), dtype=x.dtype)
        n = allreduce_sum(count, self.comm) if self.comm.world_size > 1 else count
        mean = allreduce_sum(x.sum(dims), self.comm) / n
        centred = x - mean[None, :, None, None]
        # two passes (mean first) are more accurate than E[x^2] - E[x]^2
        var = allreduce_sum((centred * centred).sum(dims), self.comm) / n
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
            self.num_batches_tracked.add_(1)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return centred * scale[None, :, None, None] + self.bias[None, :, None, None]


def convert_sync_batchnorm(model: nn.Module, comm: Comm) -> nn.Module:
    """Replace every BatchNorm2d in `model` by a SyncBatchNorm2d sharing its tensors, in place."""
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, SyncBatchNorm2d(child, comm))
        else:
            convert_sync_batchnorm(child, comm)
    return model
