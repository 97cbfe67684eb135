"""Data parallelism by hand: shard the batch, broadcast the weights, average the gradients.

Ref: Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training" (VLDB), sections 3-4: gradient bucketing and overlapping allreduce with backward.

Every rank holds a full replica. With the same initial weights and the *mean* gradient
over the global batch on every rank, every replica takes the same optimizer step, so
W processes at global batch B follow the same trajectory as one process at batch B.
"""

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm, Work
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


def _state_tensors(model: nn.Module) -> Iterator[Tensor]:
    yield from model.parameters()
    yield from model.buffers()


@torch.no_grad()
def broadcast_parameters(model: nn.Module, comm: Comm, src: int = 0) -> None:
    """Make every rank's parameters and buffers equal to rank `src`'s, in place.

    Buffers (e.g. batch-norm running statistics) count: they are part of the replica.
    """
    # BEGIN SOLUTION
    # HINT: comm.broadcast(t, src) overwrites t in place; iterate parameters and buffers.
    for t in _state_tensors(model):
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


class GradientBuckets:
    """Average gradients in buckets, each sent as soon as its gradients exist.

    Gradients become ready in roughly reverse order of the forward pass. Grouping them into
    buckets of about `bucket_mb` megabytes and starting each bucket's allreduce
    asynchronously, from a hook, while autograd still computes earlier layers' gradients,
    hides communication behind computation: DDP's design (Li et al. 2020, section 3.2).

    Usage: `buckets = GradientBuckets(model, comm)`, then after every `loss.backward()`
    call `buckets.finish()` before `optimizer.step()`.

    Args:
        model: the replica; every parameter that needs a gradient must get one each step.
        comm: the group to average over.
        bucket_mb: bucket size; 0 puts every parameter in a bucket of its own.
        overlap: start allreduces during backward (False: all of them in `finish`).
    """

    def __init__(self, model: nn.Module, comm: Comm, bucket_mb: float = 1.0, overlap: bool = True):
        self.comm, self.overlap = comm, overlap
        params = [p for p in model.parameters() if p.requires_grad]
        # reverse registration order approximates the order backward produces gradients
        self.buckets: list[list[nn.Parameter]] = [[]]
        size = 0
        for p in reversed(params):
            if self.buckets[-1] and size + p.numel() * p.element_size() > bucket_mb * 2**20:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(p)
            size += p.numel() * p.element_size()
        self.bucket_of = {id(p): i for i, b in enumerate(self.buckets) for p in b}
        self._reset()
        if overlap:
            self.handles = [p.register_post_accumulate_grad_hook(self._ready) for p in params]

    def _reset(self) -> None:
        self.pending = [len(b) for b in self.buckets]
        self.inflight: dict[int, tuple[Work | None, Tensor]] = {}

    def _ready(self, p: Tensor) -> None:
        i = self.bucket_of[id(p)]
        self.pending[i] -= 1
        if self.pending[i] == 0:
            self._start(i)

    def _start(self, i: int) -> None:
        grads = [p.grad for p in self.buckets[i]]
        assert all(g is not None for g in grads), "a parameter got no gradient this step"
        flat = torch.cat([g.reshape(-1) for g in grads if g is not None])
        self.inflight[i] = (self.comm.allreduce(flat, async_op=True), flat)

    @torch.no_grad()
    def finish(self) -> None:
        """Wait for every bucket, then write the averaged gradients back into .grad."""
        for i in range(len(self.buckets)):
            if i not in self.inflight:
                self._start(i)
        for i, bucket in enumerate(self.buckets):
            work, flat = self.inflight[i]
            if work is not None:
                work.wait()
            flat.div_(self.comm.world_size)
            offset = 0
            for p in bucket:
                assert p.grad is not None
                n = p.numel()
                p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
                offset += n
        self._reset()

    def remove(self) -> None:
        """Remove the hooks (the model trains without them afterwards)."""
        for h in getattr(self, "handles", []):
            h.remove()
