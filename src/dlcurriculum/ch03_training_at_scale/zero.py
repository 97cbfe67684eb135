"""ZeRO stage 1: Adam's moments sharded across the data-parallel ranks.

Ref: Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion
Parameter Models", section 5.1 (P_os, optimizer state partitioning).

Plain data parallelism keeps a full copy of Adam's two moment vectors on every rank:
8 bytes per fp32 parameter, twice the weights themselves. With ZeRO-1 the flat parameter
vector is cut into W equal shards; rank r keeps the moments of shard r only, updates only
that shard of the weights, and an allgather puts the updated shards together on every rank.
Same arithmetic as torch.optim.Adam, 1/W of its state per rank.
"""

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm


class ZeroAdam:
    """Adam (Kingma & Ba 2015, algorithm 1, torch's arithmetic) with sharded moments.

    Call `step()` after the gradients have been averaged over the ranks (e.g. by
    `allreduce_gradients`), as with any data-parallel optimizer.

    Args:
        params: the replica's parameters (the same list, in the same order, on every rank).
        comm: the data-parallel group.
        lr, betas, eps: as in torch.optim.Adam.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        comm: Comm,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params = [p for p in params if p.requires_grad]
        self.comm, self.lr, self.betas, self.eps = comm, lr, betas, eps
        n = sum(p.numel() for p in self.params)
        self.shard = math.ceil(n / comm.world_size)  # the last shard is padded with zeros
        self.lo = min(n, comm.rank * self.shard)
        self.hi = min(n, (comm.rank + 1) * self.shard)
        device = self.params[0].device
        self.exp_avg = torch.zeros(self.hi - self.lo, device=device)
        self.exp_avg_sq = torch.zeros(self.hi - self.lo, device=device)
        self.step_count = 0

    def zero_grad(self) -> None:
        """Drop every parameter's gradient."""
        for p in self.params:
            p.grad = None

    def state_bytes(self) -> int:
        """Bytes of optimizer state this rank holds (the figure ZeRO shrinks by W)."""
        return self.exp_avg.numel() * self.exp_avg.element_size() * 2

    @torch.no_grad()
    def step(self) -> None:
        """Update this rank's shard of the weights, then allgather every shard."""
        self.step_count += 1
        b1, b2 = self.betas
        flat = torch.cat([p.reshape(-1) for p in self.params])
        grad = torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in self.params
            ]
        )
        w, g = flat[self.lo : self.hi], grad[self.lo : self.hi]
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        bias1, bias2 = 1 - b1**self.step_count, 1 - b2**self.step_count
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(self.eps)
        w.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)
        padded = torch.zeros(self.shard, device=flat.device)
        padded[: self.hi - self.lo] = w
        new_flat = torch.cat(self.comm.allgather(padded))
        offset = 0
        for p in self.params:
            p.copy_(new_flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def adam_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in a torch optimizer's state tensors (the unsharded baseline)."""
    total = 0
    for state in optimizer.state.values():
        for v in state.values():
            if isinstance(v, Tensor) and v.numel() > 1:  # skip the scalar step counter
                total += v.numel() * v.element_size()
    return total
