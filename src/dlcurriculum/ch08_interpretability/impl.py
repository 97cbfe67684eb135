"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, cast, runtime_checkable

from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.core.exercises import resolve

SLUG = "ch08_interpretability"
Images = Float[Tensor, "batch 1 28 28"]
HeadMatrices = Float[Tensor, "n_layers n_heads d d"]


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the experiments call; `load_impl` returns the reference or the learner's code."""

    def integrated_gradients(
        self,
        model: nn.Module,
        images: Images,
        targets: Int[Tensor, " batch"],
        baseline: Images | None = None,
        n_steps: int = 64,
    ) -> Images: ...

    def induction_score(
        self, pattern: Float[Tensor, "batch n_heads pos pos"], half_len: int
    ) -> Float[Tensor, " n_heads"]: ...

    def ablate_heads(
        self, model: nn.Module, tokens: Int[Tensor, "batch pos"], heads: Sequence[tuple[int, int]]
    ) -> Float[Tensor, "batch pos d_vocab"]: ...

    def composition_score(
        self, W_A: Float[Tensor, "... d d"], W_B: Float[Tensor, "... d d"]
    ) -> Float[Tensor, "..."]: ...

    def composition_scores(
        self, W_OV: HeadMatrices, W_QK: HeadMatrices, kind: Literal["Q", "K", "V"]
    ) -> Float[Tensor, "n_layers n_heads n_layers n_heads"]: ...

    def patch_heads(
        self,
        model: nn.Module,
        tokens: Int[Tensor, "batch pos"],
        clean_z: dict[int, Float[Tensor, "batch n_heads pos d_head"]],
        heads: Sequence[tuple[int, int]],
        positions: Sequence[int] | None = None,
    ) -> Float[Tensor, "batch pos d_vocab"]: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
