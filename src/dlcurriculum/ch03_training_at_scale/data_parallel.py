"""Data parallelism by hand: shard the batch, broadcast the weights, average the gradients.

Ref: Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training" (VLDB), sections 3-4. `buckets.py` adds their gradient bucketing and the overlap
of allreduce with backward.

Every rank holds a full replica. With the same initial weights and the *mean* gradient
over the global batch on every rank, every replica takes the same optimizer step, so
W processes at global batch B follow the same trajectory as one process at batch B.
"""

import torch
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.core.errors import DlcError


def shard_batch(batch: Tensor, rank: int, world_size: int) -> Tensor:
    """This rank's contiguous slice of a global batch (dim 0), the same size on every rank.

    Args:
        batch: the global batch, identical on every rank (same seed, same sampler).
        rank: this process, 0 <= rank < world_size.
        world_size: number of processes.

    Returns:
        batch[rank * B / W : (rank + 1) * B / W], a view.

    Raises:
        DlcError: B is not a multiple of world_size (ranks would average gradients of
            shards of different sizes, which is not the global mean gradient).
    """
    if batch.shape[0] % world_size != 0:
        raise DlcError(
            f"global batch {batch.shape[0]} is not divisible by world_size={world_size}: "
            f"choose a batch size that is a multiple of {world_size}"
        )
    # BEGIN SOLUTION
    # HINT: every rank gets B / world_size rows; shards must not overlap and must cover B.
    per_rank = batch.shape[0] // world_size
    return batch[rank * per_rank : (rank + 1) * per_rank]
    # END SOLUTION


@torch.no_grad()
def broadcast_parameters(model: nn.Module, comm: Comm, src: int = 0) -> None:
    """Make every rank's parameters and buffers equal to rank `src`'s, in place.

    Buffers (e.g. batch-norm running statistics) count: they are part of the replica.
    """
    # BEGIN SOLUTION
    # HINT: comm.broadcast(t, src) overwrites t in place; iterate parameters and buffers.
    for t in [*model.parameters(), *model.buffers()]:
        comm.broadcast(t.data, src)
    # END SOLUTION


@torch.no_grad()
def allreduce_gradients(model: nn.Module, comm: Comm) -> None:
    """Replace every parameter's .grad with its mean over the ranks, in place.

    Each rank's .grad is the mean gradient of its own shard; averaging those over equal
    shards gives the mean gradient of the global batch. Parameters without a gradient are
    skipped (the same ones on every rank, since the replicas run the same code).
    """
    # BEGIN SOLUTION
    # HINT: comm.allreduce sums; divide by comm.world_size to get the mean.
    for p in model.parameters():
        if p.grad is not None:
            comm.allreduce(p.grad)
            p.grad.div_(comm.world_size)
    # END SOLUTION
