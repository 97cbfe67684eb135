"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.core.exercises import resolve

SLUG = "ch03_training_at_scale"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the data-parallel worker calls; `load_impl` returns the reference or the learner's."""

    def shard_batch(self, batch: Tensor, rank: int, world_size: int) -> Tensor: ...

    def broadcast_parameters(self, model: nn.Module, comm: Comm, src: int = 0) -> None: ...

    def allreduce_gradients(self, model: nn.Module, comm: Comm) -> None: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
