"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import numpy as np
from jaxtyping import Float, Int
from torch import nn

from dlcurriculum.core.exercises import resolve

SLUG = "ch02_scaling_laws"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the study calls; `load_impl` returns the reference or the learner's code."""

    def forward_flops(self, model: nn.Module, input_shape: Sequence[int] = (1, 28, 28)) -> int: ...

    def training_flops(self, forward_per_example: int, examples: int) -> int: ...

    def compute_frontier(
        self, compute: Float[np.ndarray, " n"], loss: Float[np.ndarray, " n"]
    ) -> Int[np.ndarray, " k"]: ...

    def fit_power_law(
        self, x: Float[np.ndarray, " n"], y: Float[np.ndarray, " n"]
    ) -> tuple[float, float]: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
