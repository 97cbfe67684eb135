"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.core.exercises import resolve

SLUG = "ch00_mnist"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the loops call; `load_impl` returns the reference or the learner's code."""

    CNN: Callable[..., nn.Module]
    """The network, built as CNN(width=..., dropout=...)."""

    def train_step(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        images: Float[Tensor, "batch 1 28 28"],
        labels: Int[Tensor, " batch"],
    ) -> float: ...

    def accuracy(
        self, logits: Float[Tensor, "batch 10"], labels: Int[Tensor, " batch"]
    ) -> float: ...

    def predict(
        self, model: nn.Module, images: Float[Tensor, "n 1 28 28"], batch_size: int = 1000
    ) -> Tensor: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
