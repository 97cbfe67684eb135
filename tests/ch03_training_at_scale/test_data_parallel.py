"""Data parallelism: 1 process vs 2 processes at the same global batch, both backends."""

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from dlcurriculum.ch03_training_at_scale.buckets import GradientBuckets
from dlcurriculum.ch03_training_at_scale.comm import SingleComm
from dlcurriculum.ch03_training_at_scale.config import DPConfig, ModelParallelConfig
from dlcurriculum.ch03_training_at_scale.data_parallel import allreduce_gradients, shard_batch
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp
from dlcurriculum.ch03_training_at_scale.launch import launch_mpi, launch_torch
from dlcurriculum.core import exercises
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError
from tests.ch03_training_at_scale.workers import both_models
from tests.mutations import counting_workspace

CNN = DPConfig(model="cnn", data="synthetic", steps=6, batch_size=16, width=4)
LM = DPConfig(model="transformer", data="synthetic", steps=6, batch_size=8, d_model=32, n_ctx=32)
TOL = 1e-5  # float32 reassociation only; a sharding or averaging bug is ~1e-2


def _max_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def single() -> list[dict]:
    torch.set_num_threads(1)
    return [train_dp(SingleComm(), CNN), train_dp(SingleComm(), LM)]


@pytest.mark.parametrize("cfg_index", [0, 1], ids=["cnn", "transformer"])
def test_two_torch_processes_match_one(single: list[dict], cfg_index: int) -> None:
    cfg = (CNN, LM)[cfg_index]
    ranks = launch_torch(train_dp, 2, cfg)
    assert _max_diff(single[cfg_index]["losses"], ranks[0]["losses"]) < TOL
    assert ranks[0]["losses"] == ranks[1]["losses"]
    assert ranks[0]["param_checksum"] == ranks[1]["param_checksum"]  # replicas never drift
    assert single[cfg_index]["losses"][-1] < single[cfg_index]["losses"][0]


def test_two_mpi_processes_match_one(single: list[dict]) -> None:
    ranks = launch_mpi(both_models, 2, CNN, LM)
    for i in (0, 1):
        assert _max_diff(single[i]["losses"], ranks[0][i]["losses"]) < TOL
        assert ranks[0][i]["param_checksum"] == ranks[1][i]["param_checksum"]


def test_grad_sync_variants_and_ddp_agree(single: list[dict]) -> None:
    """Per-parameter allreduce, buckets without and with overlap, and torch DDP: one curve."""
    variants = [
        dataclasses.replace(LM, grad_sync="simple"),
        dataclasses.replace(LM, bucket_mb=0.01, overlap=False),
        dataclasses.replace(LM, bucket_mb=0.01, overlap=True),
    ]
    for cfg in variants:
        assert _max_diff(single[1]["losses"], launch_torch(train_dp, 2, cfg)[0]["losses"]) < TOL
    ddp = launch_torch(train_dp, 2, LM, "ddp")
    assert _max_diff(single[1]["losses"], ddp[0]["losses"]) < TOL


def test_without_broadcast_or_sync_bn_the_curves_split(single: list[dict]) -> None:
    """The test can fail: local batch norm (sync_bn off) changes the CNN's losses."""
    local_bn = launch_torch(train_dp, 2, dataclasses.replace(CNN, sync_bn=False))
    assert _max_diff(single[0]["losses"], local_bn[0]["losses"]) > 1e-3


def test_buckets_overlap_starts_allreduce_during_backward() -> None:
    class Recorder(SingleComm):
        def __init__(self) -> None:
            self.calls = 0

        def allreduce(self, t, async_op=False):  # type: ignore[no-untyped-def]
            self.calls += 1
            return super().allreduce(t, async_op)

    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 2))
    comm = Recorder()
    buckets = GradientBuckets(model, comm, bucket_mb=64 * 65 * 4 / 2**20, overlap=True)
    assert len(buckets.buckets) == 3  # one layer each
    model(torch.randn(3, 64)).sum().backward()
    assert comm.calls == 3  # all launched by hooks, before finish()
    buckets.finish()
    buckets.remove()


def test_allreduce_gradients_alone_is_identity() -> None:
    model = nn.Linear(3, 2)
    model(torch.randn(4, 3)).sum().backward()
    before = model.weight.grad.clone()
    allreduce_gradients(model, SingleComm())
    assert torch.equal(model.weight.grad, before)


def test_world_size_must_divide_the_batch() -> None:
    with pytest.raises(DlcError, match="not divisible by world_size=3"):
        shard_batch(torch.zeros(8, 2), 0, 3)
    with pytest.raises(ConfigError, match="multiple of 3"):
        DPConfig(batch_size=8, world_size=3)
    with pytest.raises(ConfigError, match="d_model=64 must be divisible by n_heads=3"):
        DPConfig(model="transformer", n_heads=3)
    DPConfig(model="cnn", n_heads=3)  # the CNN has no heads
    with pytest.raises(ConfigError, match="not divisible by micro_batches=3"):
        ModelParallelConfig(batch_size=16, micro_batches=3)


def test_impl_run_calls_only_the_learners_exercises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --impl both ranks run the learner's three functions (each marks that it was
    called) and never the reference ones (which raise here, and in the forked ranks)."""
    slug = "ch03_training_at_scale"
    folder = counting_workspace(slug, tmp_path, monkeypatch)
    ranks = launch_torch(train_dp, 2, dataclasses.replace(LM, impl=str(tmp_path)))
    assert ranks[0]["losses"] == ranks[1]["losses"]
    names = {e.qualname for e in exercises.chapter_exercises(slug)}
    assert {p.stem for p in folder.glob("*.called")} == names
