"""Gradient bucketing: average gradients in buckets, overlapped with backward (DDP's design).

The fast version of `data_parallel.allreduce_gradients` that `dlc run dp-*` uses with the
reference code; with `--impl` the learner's allreduce runs instead.

Ref: Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training" (VLDB), sections 3-4.
"""

import torch
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm, Work


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
