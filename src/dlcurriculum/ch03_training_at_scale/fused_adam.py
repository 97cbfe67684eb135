"""Adam as one Triton kernel over a flat parameter buffer (the chapter's alternative exercise).

Ref: Kingma & Ba 2015, algorithm 1; torch.optim.Adam's arithmetic (L2 weight decay).

An optimizer step is elementwise and memory-bound: per parameter it reads p, g, m, v and
writes p, m, v. The for-loop Adam launches a dozen small kernels per tensor, each making
its own pass over memory; this one kernel reads and writes every value once, for every
parameter of the model at once, because the parameters live in one flat buffer (they are
views into it) and so do their gradients.

Triton needs a GPU, or `TRITON_INTERPRET=1` to run the same kernel on CPU (slowly, exactly),
which is how the CI tests run it. The kernel is compiled on first use, so that the
environment variable can be set before.
"""

import functools
import math
import os
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.core.errors import DlcError, install_hint

BLOCK = 1024


@functools.cache
def _kernel() -> Any:
    try:
        import triton
        import triton.language as tl
    except ImportError:
        raise DlcError(f"fused Adam needs Triton: {install_hint('gpu')}") from None

    @triton.jit
    def adam_kernel(
        p_ptr,
        g_ptr,
        m_ptr,
        v_ptr,
        n,
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        bias1,
        bias2_sqrt,
        BLOCK: tl.constexpr,
    ):
        # each program handles BLOCK consecutive elements; the mask drops the tail past n
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        p = tl.load(p_ptr + offs, mask=mask)
        g = tl.load(g_ptr + offs, mask=mask)
        m = tl.load(m_ptr + offs, mask=mask)
        v = tl.load(v_ptr + offs, mask=mask)
        g = g + weight_decay * p  # torch.optim.Adam's (L2) weight decay
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        p = p - (lr / bias1) * m / (tl.sqrt(v) / bias2_sqrt + eps)
        tl.store(p_ptr + offs, p, mask=mask)
        tl.store(m_ptr + offs, m, mask=mask)
        tl.store(v_ptr + offs, v, mask=mask)

    return adam_kernel


def fused_adam_update(
    p: Tensor,
    g: Tensor,
    m: Tensor,
    v: Tensor,
    step: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    """One Adam step on flat fp32 buffers, in place, in one kernel launch.

    Args:
        p, g, m, v: parameters, gradients, first and second moments; same shape, contiguous.
        step: the step number, starting at 1 (for the bias corrections).
    """
    if p.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise DlcError(
            "the Triton kernel runs on a CUDA GPU; on CPU set TRITON_INTERPRET=1 (slow, exact)"
        )
    b1, b2 = betas
    n = p.numel()
    grid = (triton_cdiv(n, BLOCK),)
    _kernel()[grid](
        p,
        g,
        m,
        v,
        n,
        lr,
        b1,
        b2,
        eps,
        weight_decay,
        1.0 - b1**step,
        math.sqrt(1.0 - b2**step),
        BLOCK=BLOCK,
    )


def triton_cdiv(a: int, b: int) -> int:
    """Ceiling division (the number of programs for a grid)."""
    return -(-a // b)


class FusedAdam(torch.optim.Optimizer):
    """torch.optim.Adam's update, done by one Triton kernel per step for all parameters.

    At construction the parameters are moved into one flat buffer and become views of it;
    their gradients are views of a second flat buffer, so a step needs no copies.
    Supports one param group of fp32 tensors on one device.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise DlcError("FusedAdam supports one parameter group: pass model.parameters()")
        plist: list[nn.Parameter] = self.param_groups[0]["params"]
        if any(p.dtype != torch.float32 for p in plist):
            raise DlcError("FusedAdam expects fp32 parameters (keep fp32 master weights)")
        self.flat = torch.cat([p.detach().reshape(-1) for p in plist])
        self.flat_grad = torch.zeros_like(self.flat)
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.views: list[tuple[nn.Parameter, slice]] = []
        offset = 0
        for p in plist:
            where = slice(offset, offset + p.numel())
            p.data = self.flat[where].view_as(p)
            p.grad = self.flat_grad[where].view_as(p)
            self.views.append((p, where))
            offset += p.numel()
        self.step_count = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the flat gradient buffer (the gradients stay views of it)."""
        self.flat_grad.zero_()
        for p, where in self.views:
            p.grad = self.flat_grad[where].view_as(p)

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        """Adam step on every parameter at once."""
        for p, where in self.views:
            if p.grad is None:
                self.flat_grad[where].zero_()
            elif p.grad.data_ptr() != self.flat_grad[where].data_ptr():
                self.flat_grad[where].copy_(p.grad.reshape(-1))  # someone replaced .grad
        self.step_count += 1
        group = self.param_groups[0]
        fused_adam_update(
            self.flat,
            self.flat_grad,
            self.exp_avg,
            self.exp_avg_sq,
            self.step_count,
            group["lr"],
            group["betas"],
            group["eps"],
            group["weight_decay"],
        )
