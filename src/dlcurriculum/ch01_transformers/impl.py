"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.core.exercises import resolve

SLUG = "ch01_transformers"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the loops call; `load_impl` returns the reference or the learner's code."""

    def sinusoidal_pos_embed(self, n_ctx: int, d_model: int) -> Float[Tensor, "n_ctx d_model"]: ...

    def attention_pattern(
        self,
        q: Float[Tensor, "*batch q_pos d_head"],
        k: Float[Tensor, "*batch k_pos d_head"],
        mask: Bool[Tensor, "q_pos k_pos"] | None = None,
    ) -> Float[Tensor, "*batch q_pos k_pos"]: ...

    def attention(
        self,
        q: Float[Tensor, "*batch q_pos d_head"],
        k: Float[Tensor, "*batch k_pos d_head"],
        v: Float[Tensor, "*batch k_pos d_head"],
        mask: Bool[Tensor, "q_pos k_pos"] | None = None,
        hook: Callable[[Tensor], Tensor] | None = None,
    ) -> Float[Tensor, "*batch q_pos d_head"]: ...

    def causal_mask(
        self, n_q: int, n_k: int | None = None, device: torch.device | str | None = None
    ) -> Bool[Tensor, "q_pos k_pos"]: ...

    LayerNorm: Callable[[TransformerConfig], nn.Module]
    Attention: Callable[[TransformerConfig], nn.Module]
    TransformerBlock: Callable[[TransformerConfig], nn.Module]
    Transformer: Callable[[TransformerConfig], nn.Module]


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's in the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
