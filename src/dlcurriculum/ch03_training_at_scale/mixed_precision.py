"""Mixed precision: bf16/fp16 autocast, and dynamic loss scaling for fp16, by hand.

Ref: Micikevicius et al. 2018, "Mixed Precision Training" (ICLR), section 3: fp32 master
weights, half-precision arithmetic, and loss scaling.

fp16 has 5 exponent bits: gradients below about 6e-8 flush to zero. Multiplying the loss
by a large factor S shifts every gradient up by S (the chain rule is linear) into fp16's
range; dividing the fp32 gradients by S before the update undoes it. S is chosen
dynamically: when a step produces inf or NaN gradients it is skipped and S halves; after
`growth_interval` clean steps in a row S doubles, to use as much of the range as is safe.
bf16 has fp32's 8 exponent bits, so it needs no scaling.
"""

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor

PRECISIONS = ("fp32", "bf16", "fp16")


def autocast(device_type: str, precision: str) -> AbstractContextManager[object]:
    """The autocast context for a precision: matmuls in half, reductions and weights in fp32.

    Args:
        device_type: "cpu" or "cuda".
        precision: "fp32" (no autocast), "bf16" or "fp16".
    """
    if precision == "fp32":
        return nullcontext()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type, dtype=dtype)


class DynamicLossScaler:
    """Loss scaling with the same rules, and the same call sequence, as torch.amp.GradScaler.

    Per step: `scaler.scale(loss).backward()`, optionally `scaler.unscale_(optimizer)` (e.g.
    before gradient clipping), `scaler.step(optimizer)`, `scaler.update()`.

    Args:
        init_scale: the first S.
        growth_factor: S is multiplied by this after `growth_interval` clean steps.
        backoff_factor: S is multiplied by this after a step with inf/NaN gradients.
        growth_interval: clean steps in a row before S grows.
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ):
        self.scale_value = init_scale
        self.growth_factor, self.backoff_factor = growth_factor, backoff_factor
        self.growth_interval = growth_interval
        self.good_steps = 0
        self._found_inf: bool | None = None  # None: this step's gradients are not unscaled yet

    def get_scale(self) -> float:
        """The current S."""
        return self.scale_value

    def scale(self, loss: Tensor) -> Tensor:
        """The loss times S (call backward on this)."""
        return loss * self.scale_value

    @torch.no_grad()
    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide every gradient by S in place and note whether any is inf or NaN."""
        if self._found_inf is not None:
            raise RuntimeError("unscale_ was already called since the last update()")
        inv = 1.0 / self.scale_value
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(inv)
                    found |= not bool(torch.isfinite(p.grad).all())
        self._found_inf = found

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Unscale (if not done yet), then step unless a gradient overflowed.

        Returns:
            True if the optimizer stepped, False if the step was skipped.
        """
        if self._found_inf is None:
            self.unscale_(optimizer)
        if self._found_inf:
            return False
        optimizer.step()
        return True

    def update(self) -> None:
        """Back off after an overflow, grow after `growth_interval` clean steps in a row."""
        if self._found_inf is None:
            raise RuntimeError("update() without step() or unscale_() first")
        if self._found_inf:
            self.scale_value *= self.backoff_factor
            self.good_steps = 0
        else:
            self.good_steps += 1
            if self.good_steps == self.growth_interval:
                self.scale_value *= self.growth_factor
                self.good_steps = 0
        self._found_inf = None


def fp16_representable(x: Tensor, scale: float = 1.0) -> float:
    """Fraction of nonzero values of `x * scale` that stay nonzero in fp16 (underflow probe)."""
    nonzero = x != 0
    kept = (x * scale).half() != 0
    return (kept & nonzero).sum().item() / max(1, int(nonzero.sum()))
