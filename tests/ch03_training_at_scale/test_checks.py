"""The graders pass on the reference, fail on known-wrong versions, and say why."""

import pytest
import torch
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale import checks
from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.ch03_training_at_scale.data_parallel import (
    allreduce_gradients,
    broadcast_parameters,
    shard_batch,
)
from dlcurriculum.core.checks import ExerciseFailure
from tests.ch03_training_at_scale import wrong


def test_checks_pass_on_the_reference() -> None:
    checks.check_shard_batch(shard_batch)
    checks.check_broadcast_parameters(broadcast_parameters)
    checks.check_allreduce_gradients(allreduce_gradients)


def test_interleaved_shards_fail() -> None:
    def strided(batch: Tensor, rank: int, world_size: int) -> Tensor:
        return batch[rank::world_size]

    with pytest.raises(ExerciseFailure, match="shards must not overlap"):
        checks.check_shard_batch(strided)


def test_broadcast_without_buffers_fails() -> None:
    with pytest.raises(ExerciseFailure, match="every buffer"):
        checks.check_broadcast_parameters(wrong.broadcast_parameters_only)


def test_summed_gradients_fail() -> None:
    with pytest.raises(ExerciseFailure, match="a factor of 2 means you summed"):
        checks.check_allreduce_gradients(wrong.allreduce_sum_only)


def test_gradient_allreduce_is_graded_across_processes() -> None:
    """A no-op passes in one process but not across two: the check really launches two."""

    def no_op(model: nn.Module, comm: Comm) -> None:
        return None

    with pytest.raises(ExerciseFailure, match="rank 0"):
        checks.check_allreduce_gradients(no_op)
    torch.manual_seed(0)
