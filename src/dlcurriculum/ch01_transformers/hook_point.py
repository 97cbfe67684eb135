"""HookPoint: a named identity on an activation, so later chapters can read or edit it.

Ref: TransformerLens `hook_points.py` (the idea; we keep only the identity module).
"""

from torch import Tensor, nn


class HookPoint(nn.Identity):
    """An identity module placed on an activation of interest.

    It does nothing by itself. Because it is a module, it has a stable name from
    `model.named_modules()` (e.g. `blocks.0.attn.hook_pattern`), and PyTorch forward hooks on
    it see (and may replace) the activation. `dlcurriculum.core.hooks` attaches those hooks
    inside context managers so none outlive their use.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Return `x` unchanged (hooks registered on this module see it)."""
        return x
