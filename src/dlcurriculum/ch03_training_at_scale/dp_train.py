"""One data-parallel training run, as seen from one rank: ours, or torch's DDP for comparison.

Every rank samples the same global batch from the same seeded generator and trains on its
own shard of it (`shard_batch`), so the run with W ranks and the run with one process see
the same examples at every step. Each rank initializes its replica with a *different*
seed: only `broadcast_parameters` makes them agree, which the equality test then proves.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch01_transformers.lm_training import lm_loss
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch03_training_at_scale.buckets import GradientBuckets
from dlcurriculum.ch03_training_at_scale.comm import Comm, TorchComm
from dlcurriculum.ch03_training_at_scale.config import DPConfig
from dlcurriculum.ch03_training_at_scale.impl import Impl, load_impl
from dlcurriculum.ch03_training_at_scale.sync_batchnorm import convert_sync_batchnorm
from dlcurriculum.ch03_training_at_scale.zero import ZeroAdam, adam_state_bytes
from dlcurriculum.core.errors import DlcError


@dataclass(frozen=True)
class Dataset:
    """Inputs and targets in memory; a batch is a set of row indices (CNN) or offsets (LM)."""

    x: Tensor
    y: Tensor | None
    n_ctx: int = 0

    def batch(self, generator: torch.Generator, size: int) -> tuple[Tensor, Tensor]:
        """The same global batch on every rank that uses the same generator state."""
        if self.y is not None:
            idx = torch.randint(len(self.x), (size,), generator=generator)
            return self.x[idx].unsqueeze(1), self.y[idx]
        starts = torch.randint(len(self.x) - self.n_ctx, (size,), generator=generator)
        tokens = torch.stack([self.x[s : s + self.n_ctx] for s in starts.tolist()])
        return tokens, tokens


def load_data(model: str, data: str, n_ctx: int = 64) -> Dataset:
    """MNIST training images, or Shakespeare as bytes; or small synthetic stand-ins."""
    if model == "cnn":
        if data == "real":
            from dlcurriculum.data import load_mnist

            mnist = load_mnist("float32")
            return Dataset(mnist.train_images, mnist.train_labels)
        g = torch.Generator().manual_seed(1234)
        images = torch.rand(2048, 28, 28, generator=g)
        # a learnable label: which tenth of the image is brightest, row-wise
        labels = images[:, :20].reshape(2048, 10, -1).sum(-1).argmax(-1)
        return Dataset(images, labels)
    if data == "real":
        from dlcurriculum.data import load_shakespeare

        raw = load_shakespeare().encode("utf-8")
        return Dataset(torch.frombuffer(bytearray(raw), dtype=torch.uint8).long(), None, n_ctx)
    g = torch.Generator().manual_seed(1234)
    motif = torch.randint(256, (97,), generator=g)  # a repeating text: learnable
    return Dataset(motif.repeat(200), None, n_ctx)


def build_model(cfg: DPConfig, seed: int) -> nn.Module:
    """A freshly initialized replica (seeded by `seed`)."""
    torch.manual_seed(seed)
    if cfg.model == "cnn":
        return CNN(width=cfg.width)
    return Transformer(cfg.transformer())


def loss_of(model: nn.Module, cfg: DPConfig, x: Tensor, y: Tensor) -> Tensor:
    """Mean loss of a (local) batch: cross-entropy for digits, next-byte for text."""
    if cfg.model == "cnn":
        return F.cross_entropy(model(x), y)
    return lm_loss(model(x), y)


def worker_device(comm: Comm, cfg: DPConfig) -> torch.device:
    """cuda:<local rank> when CUDA is asked for (or auto and present), else cpu."""
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DlcError("device=cuda but no GPU is visible: use --set device=cpu")
    return torch.device("cuda", comm.rank % torch.cuda.device_count())


def _wrap(
    model: nn.Module, comm: Comm, cfg: DPConfig, engine: str, ns: Impl, device: torch.device
) -> tuple[nn.Module, GradientBuckets | None, Callable[[nn.Module, Comm], None] | None]:
    """The module to call, and how gradients get averaged: DDP, our buckets, or ns's allreduce."""
    if engine == "ddp":
        if not isinstance(comm, TorchComm):
            raise DlcError("engine=ddp runs on torch.distributed only: use backend=torch")
        if cfg.model == "cnn" and cfg.sync_bn:
            if device.type != "cuda":
                raise DlcError("torch's SyncBatchNorm is GPU-only: use --set sync_bn=false on CPU")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        net: nn.Module = DistributedDataParallel(model, device_ids=ids, bucket_cap_mb=cfg.bucket_mb)
        return net, None, None

    if cfg.model == "cnn" and cfg.sync_bn:
        convert_sync_batchnorm(model, comm)
    ns.broadcast_parameters(model, comm)
    if cfg.grad_sync == "buckets" and comm.world_size > 1 and not cfg.impl:
        return model, GradientBuckets(model, comm, cfg.bucket_mb, cfg.overlap), None
    return model, None, ns.allreduce_gradients


def train_dp(
    comm: Comm, cfg: DPConfig, engine: str = "ours", perturb: float = 0.0
) -> dict[str, Any]:
    """Train one replica for cfg.steps steps; every rank returns the same loss curve.

    The exercise functions (shard_batch, broadcast_parameters, allreduce_gradients) come
    from the learner's workspace when cfg.impl names one; gradient buckets (reference code)
    are then off, so the learner's allreduce is what runs.

    Args:
        comm: this rank's group (SingleComm for the one-process baseline).
        cfg: the run's config.
        engine: "ours" (the functions of data_parallel.py) or "ddp" (torch's
            DistributedDataParallel; needs a TorchComm).
        perturb: multiply every initial weight by (1 + perturb * noise): a control run
            that measures how fast float-sized differences grow in this training.

    Returns:
        losses (the global batch's mean loss before each step), samples_per_s (after the
        first step, which includes warm-up), and a checksum of the final parameters.
    """
    device = worker_device(comm, cfg)
    ns = load_impl(cfg.impl)
    data = load_data(cfg.model, cfg.data, cfg.n_ctx)
    model = build_model(cfg, cfg.seed + 1000 * comm.rank).to(device)
    if perturb:
        noise = torch.Generator().manual_seed(cfg.seed + 1)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1 + perturb * torch.randn(p.shape, generator=noise).to(device))
    net, buckets, sync = _wrap(model, comm, cfg, engine, ns, device)
    optimizer: ZeroAdam | torch.optim.Adam
    if cfg.zero and engine == "ours":
        optimizer = ZeroAdam(model.parameters(), comm, lr=cfg.lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)  # the same on every rank
    losses: list[float] = []
    start = time.perf_counter()
    for step in range(cfg.steps):
        if step == 1:
            start = time.perf_counter()
        x, y = data.batch(generator, cfg.batch_size)
        x = ns.shard_batch(x, comm.rank, comm.world_size).to(device)
        y = ns.shard_batch(y, comm.rank, comm.world_size).to(device)
        optimizer.zero_grad()
        loss = loss_of(net, cfg, x, y)
        loss.backward()
        if buckets is not None:
            buckets.finish()
        elif sync is not None:
            sync(model, comm)
        optimizer.step()
        global_loss = loss.detach().clone()
        comm.allreduce(global_loss)
        losses.append(global_loss.item() / comm.world_size)
    elapsed = time.perf_counter() - start
    flat = torch.cat([p.detach().reshape(-1).double().cpu() for p in model.parameters()])
    state = (
        optimizer.state_bytes() if isinstance(optimizer, ZeroAdam) else adam_state_bytes(optimizer)
    )
    return {
        "losses": losses,
        "optimizer_state_bytes": state,
        "samples_per_s": (cfg.steps - 1) * cfg.batch_size / elapsed,
        "param_checksum": flat.sum().item(),
        "params": sum(p.numel() for p in model.parameters()),
    }
