"""Frozen configs of chapter 3's experiments (the worker processes import them too)."""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.core.config import RunConfig, check, one_of, require


@dataclass(frozen=True)
class DPConfig(RunConfig):
    """Data-parallel training of the MNIST CNN or the chapter-1 transformer."""

    model: Literal["cnn", "transformer"] = "cnn"
    """Which network: the prerequisite's CNN or chapter 1's transformer (bytes of Shakespeare)."""
    backend: Literal["torch", "mpi"] = "torch"
    """torch.distributed (gloo on CPU, NCCL on GPU) or mpi4py under mpiexec."""
    world_size: int = 2
    """Number of processes of the parallel run (compared with one process)."""
    steps: int = 50
    """Optimizer steps."""
    batch_size: int = 64
    """Global batch size: each of the world_size ranks gets batch_size / world_size."""
    lr: float = 1e-3
    """Adam learning rate."""
    grad_sync: Literal["simple", "buckets"] = "buckets"
    """simple: allreduce each gradient after backward; buckets: flat buckets from grad hooks."""
    bucket_mb: float = 1.0
    """Bucket size in megabytes (grad_sync=buckets)."""
    overlap: bool = True
    """Start each bucket's allreduce during the backward pass (grad_sync=buckets)."""
    sync_bn: bool = True
    """CNN: batch-norm statistics over the global batch (needed for exact 1-vs-W equality)."""
    data: Literal["real", "synthetic"] = "real"
    """real: MNIST / Shakespeare from the offline cache chain; synthetic: generated, no files."""
    width: int = 16
    """CNN width (channels of the first conv layer)."""
    d_model: int = 64
    """Transformer width."""
    n_layers: int = 2
    """Transformer blocks."""
    n_heads: int = 4
    """Transformer attention heads."""
    n_ctx: int = 64
    """Transformer context length (tokens per sequence)."""
    zero: bool = False
    """Shard Adam's moments over the ranks (ZeRO stage 1) instead of replicating them."""
    compare_ddp: bool = False
    """Also train with torch's DistributedDataParallel (backend=torch) and compare."""
    timeout_s: float = 60.0
    """How long any rank waits in a collective before giving up (a crashed peer)."""
    min_loss_drop: float = 0.1
    """The loss must fall by at least this fraction of its first value (first batch to last):
    two runs that agree mean little if neither learns."""

    def __post_init__(self) -> None:
        one_of(self, "model", ("cnn", "transformer"))
        one_of(self, "backend", ("torch", "mpi"))
        one_of(self, "grad_sync", ("simple", "buckets"))
        one_of(self, "data", ("real", "synthetic"))
        check(self, "world_size", "batch_size", "width", ge=1)
        check(self, "d_model", "n_layers", "n_heads", "n_ctx", ge=1)
        check(self, "steps", ge=2)  # samples_per_s times the steps after the first
        check(self, "lr", "bucket_mb", "timeout_s", gt=0)
        check(self, "min_loss_drop", ge=0, lt=1)
        require(
            self.batch_size % self.world_size == 0,
            f"batch_size={self.batch_size} is not divisible by world_size={self.world_size}: "
            f"use a multiple of {self.world_size}",
        )
        if self.model == "transformer":
            self.transformer()  # the model's own checks (d_model divisible by n_heads)

    def transformer(self) -> TransformerConfig:
        """The transformer's shape (byte-level vocabulary)."""
        return TransformerConfig(
            d_vocab=256,
            n_ctx=self.n_ctx,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_mlp=4 * self.d_model,
        )


@dataclass(frozen=True)
class ModelParallelConfig(RunConfig):
    """Pipeline (GPipe) or tensor (Megatron) parallel training of the chapter-1 transformer."""

    world_size: int = 2
    """Pipeline stages or tensor-parallel ranks."""
    steps: int = 30
    """Optimizer steps of the parallel and the single-process run."""
    batch_size: int = 16
    """Sequences per step."""
    micro_batches: int = 4
    """Pipeline only: micro-batches per step (GPipe's m); the bubble is (W-1)/(m+W-1)."""
    lr: float = 1e-3
    """Adam learning rate."""
    d_model: int = 64
    """Transformer width."""
    n_layers: int = 2
    """Transformer blocks (split evenly over the pipeline stages)."""
    n_heads: int = 4
    """Attention heads (split evenly over the tensor-parallel ranks)."""
    n_ctx: int = 64
    """Context length."""
    data: Literal["real", "synthetic"] = "real"
    """real: bytes of Shakespeare; synthetic: generated tokens, no files."""
    timeout_s: float = 60.0
    """How long any rank waits for another before giving up."""
    min_loss_drop: float = 0.1
    """The loss must fall by at least this fraction of its first value (first batch to last):
    two runs that agree mean little if neither learns."""

    def __post_init__(self) -> None:
        one_of(self, "data", ("real", "synthetic"))
        check(self, "world_size", ge=2)
        check(self, "steps", "batch_size", "micro_batches", ge=1)
        check(self, "d_model", "n_layers", "n_heads", "n_ctx", ge=1)
        check(self, "lr", "timeout_s", gt=0)
        check(self, "min_loss_drop", ge=0, lt=1)
        require(
            self.batch_size % self.micro_batches == 0,
            f"batch_size={self.batch_size} is not divisible by micro_batches="
            f"{self.micro_batches}: use a multiple of {self.micro_batches}",
        )
        self.transformer()  # the model's own checks (d_model divisible by n_heads)

    def transformer(self) -> TransformerConfig:
        """The transformer's shape (byte-level vocabulary)."""
        return TransformerConfig(
            d_vocab=256,
            n_ctx=self.n_ctx,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_mlp=4 * self.d_model,
        )


_DP_MNIST = {
    "smoke": DPConfig(model="cnn", data="synthetic", steps=5, batch_size=16, width=4),
    "quick": DPConfig(model="cnn", steps=200, batch_size=64, width=16, lr=2e-3),
    "full": DPConfig(model="cnn", steps=2000, batch_size=128, width=32, lr=2e-3),
}
_DP_TRANSFORMER = {
    "smoke": DPConfig(
        model="transformer",
        data="synthetic",
        steps=5,
        batch_size=8,
        d_model=32,
        n_ctx=32,
        compare_ddp=True,
        zero=True,
    ),
    "quick": DPConfig(model="transformer", steps=200, batch_size=32, compare_ddp=True),
    "full": DPConfig(
        model="transformer",
        steps=2000,
        batch_size=64,
        d_model=256,
        n_layers=4,
        n_heads=8,
        n_ctx=128,
        compare_ddp=True,
    ),
}
_PIPELINE = {
    "smoke": ModelParallelConfig(
        data="synthetic", steps=3, batch_size=4, micro_batches=2, d_model=32, n_ctx=32
    ),
    "quick": ModelParallelConfig(steps=100, batch_size=16, micro_batches=4),
    "full": ModelParallelConfig(
        steps=1000, batch_size=32, micro_batches=8, d_model=256, n_layers=4, n_heads=8, n_ctx=128
    ),
}
_TENSOR_PARALLEL = {
    "smoke": dataclasses.replace(_PIPELINE["smoke"], micro_batches=1),
    "quick": dataclasses.replace(_PIPELINE["quick"], micro_batches=1),
    "full": dataclasses.replace(_PIPELINE["full"], micro_batches=1),
}

PRESETS: dict[str, Mapping[str, RunConfig]] = {
    "dp-mnist": _DP_MNIST,
    "dp-transformer": _DP_TRANSFORMER,
    "pipeline": _PIPELINE,
    "tensor-parallel": _TENSOR_PARALLEL,
}
"""Every experiment's smoke, quick and full presets, by experiment name."""
