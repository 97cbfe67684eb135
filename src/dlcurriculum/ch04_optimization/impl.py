"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from torch import Tensor

from dlcurriculum.core.exercises import resolve

SLUG = "ch04_optimization"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the NQM study calls; `load_impl` returns the reference or the learner's code."""

    def nqm_expected_loss(
        self, h: Tensor, c: Tensor, theta0: Tensor, lrs: Tensor, batch_size: float
    ) -> Tensor: ...

    def adam_step(
        self,
        theta: Tensor,
        grad: Tensor,
        m: Tensor,
        v: Tensor,
        step: int,
        lr: Tensor | float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> tuple[Tensor, Tensor, Tensor]: ...

    def steps_to_target(self, losses: Tensor, target: float) -> Tensor: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
