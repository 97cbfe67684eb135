"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from dlcurriculum.core.exercises import resolve

SLUG = "ch05_modeling_objectives"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the contrastive loop calls; `load_impl` returns the reference or the learner's."""

    def augment(
        self,
        images: Float[Tensor, "batch 1 28 28"],
        generator: torch.Generator,
        max_rotation: float = 20.0,
        max_shift: float = 4.0,
        scale: tuple[float, float] = (0.75, 1.15),
        max_shear: float = 0.25,
        noise: float = 0.15,
    ) -> Float[Tensor, "batch 1 28 28"]: ...

    def nt_xent_loss(
        self, z1: Float[Tensor, "batch d"], z2: Float[Tensor, "batch d"], temperature: float = 0.5
    ) -> Float[Tensor, ""]: ...

    def nearest_class(
        self,
        queries: Float[Tensor, "n_query d"],
        support: Float[Tensor, "n_support d"],
        support_labels: Int[Tensor, " n_support"],
        n_classes: int = 10,
    ) -> Int[Tensor, " n_query"]: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
