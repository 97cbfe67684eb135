"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.core.exercises import resolve

SLUG = "ch09_adversarial_training"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the experiments call; `load_impl` returns the reference or the learner's code."""

    def pgd(
        self,
        model: nn.Module,
        images: Float[Tensor, "batch c h w"],
        labels: Int[Tensor, " batch"],
        eps: float,
        alpha: float,
        steps: int,
        random_start: bool = True,
        generator: torch.Generator | None = None,
    ) -> Float[Tensor, "batch c h w"]: ...

    def few_shot_prompt(
        self, questions: Sequence[str], scores: Sequence[float], k: int, generator: torch.Generator
    ) -> str: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
