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

    with pytest.raises(ExerciseFailure, match="interleaves the shards"):
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


@torch.no_grad()
def _broadcast_flat(model: nn.Module, comm: Comm, src: int = 0) -> None:
    """Right, through one flat buffer: the simulated rank cannot follow it, the real run can."""
    tensors = [*model.parameters(), *model.buffers()]
    flat = torch.cat([t.double().reshape(-1) for t in tensors])
    comm.broadcast(flat, src)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


@torch.no_grad()
def _allreduce_flat(model: nn.Module, comm: Comm) -> None:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads]) / comm.world_size
    comm.allreduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def test_collectives_on_flat_buffers_pass() -> None:
    """Copies of the model's tensors are not always a mistake: copied back, they are right."""
    checks.check_broadcast_parameters(_broadcast_flat)
    checks.check_allreduce_gradients(_allreduce_flat)
