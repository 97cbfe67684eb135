"""Pipeline (GPipe) and tensor (Megatron) parallelism equal the one-process transformer."""

import pytest
import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch03_training_at_scale import mp_train
from dlcurriculum.ch03_training_at_scale.comm import SingleComm
from dlcurriculum.ch03_training_at_scale.config import ModelParallelConfig
from dlcurriculum.ch03_training_at_scale.launch import launch_torch
from dlcurriculum.ch03_training_at_scale.pipeline import bubble_fraction, stage_blocks
from dlcurriculum.ch03_training_at_scale.tensor_parallel import TensorParallelTransformer
from dlcurriculum.core.errors import DlcError

CFG = ModelParallelConfig(
    data="synthetic", steps=3, batch_size=4, micro_batches=2, d_model=32, n_ctx=16, n_heads=4
)


@pytest.fixture(scope="module")
def reference() -> dict:
    torch.set_num_threads(1)
    return mp_train.reference(CFG)


def test_pipeline_equals_one_process(reference: dict) -> None:
    ranks = launch_torch(mp_train.pipeline_worker, 2, CFG)
    diffs = mp_train.compare(reference, ranks)
    n_params = len(reference["grads"])
    assert diffs["gradients_compared"] == n_params  # every parameter, across the two stages
    assert diffs["gradients_missing"] == 0
    # the last stage alone: the first stage's parameters are missing, not silently equal
    last_only = mp_train.compare(reference, ranks[1:])
    assert 0 < last_only["gradients_missing"] < n_params and last_only["max_grad_diff"] < 1e-6
    assert diffs["max_logit_diff"] < 1e-6
    assert diffs["max_grad_diff"] < 1e-6
    assert diffs["max_loss_diff"] < 1e-5


def test_tensor_parallel_equals_one_process(reference: dict) -> None:
    diffs = mp_train.compare(reference, launch_torch(mp_train.tensor_parallel_worker, 2, CFG))
    assert diffs["gradients_missing"] == 0
    assert diffs["max_logit_diff"] < 1e-6
    assert diffs["max_grad_diff"] < 1e-6
    assert diffs["max_loss_diff"] < 1e-5


def test_tensor_parallel_shards_hold_half_of_each_block() -> None:
    class Rank1Of2(SingleComm):
        rank, world_size = 1, 2

    full = Transformer(TransformerConfig(d_vocab=16, n_ctx=8, d_model=8, n_heads=2, d_mlp=12))
    tp = TensorParallelTransformer(full, Rank1Of2())
    attn = tp.blocks[0].attn
    assert attn.W_Q.shape == (1, 8, 4) and torch.equal(attn.W_Q, full.blocks[0].attn.W_Q[1:])
    assert tp.blocks[0].mlp.W_in.shape == (8, 6)
    assert torch.equal(tp.blocks[0].mlp.W_out, full.blocks[0].mlp.W_out[6:])


def test_heads_must_divide_over_ranks() -> None:
    class TwoRanks(SingleComm):
        world_size = 2

    full = Transformer(TransformerConfig(d_vocab=16, n_ctx=8, d_model=6, n_heads=3, d_mlp=12))
    with pytest.raises(DlcError, match="n_heads=3 cannot be split over 2"):
        TensorParallelTransformer(full, TwoRanks())


def test_layers_must_divide_over_stages() -> None:
    with pytest.raises(DlcError, match="n_layers=3 cannot be split evenly over 2"):
        stage_blocks(3, 2, 0)
    assert list(stage_blocks(4, 2, 1)) == [2, 3]


def test_bubble_fraction_matches_gpipe() -> None:
    assert bubble_fraction(2, 1) == 0.5
    assert bubble_fraction(4, 12) == pytest.approx(3 / 15)
