"""The residual ablation the README quotes: the block without skips, and one tiny run."""

import torch

from dlcurriculum.ch01_transformers.ablations import NoResidualBlock, make_model, run_one, table

from .helpers import TINY


def test_no_residual_block_is_the_block_minus_its_skips() -> None:
    model = make_model(TINY, residual=False).eval()
    assert all(isinstance(b, NoResidualBlock) for b in model.blocks)
    block = model.blocks[0]
    x = torch.randn(2, 5, TINY.d_model)
    expected = block.mlp(block.ln2(block.attn(block.ln1(x))))
    torch.testing.assert_close(block(x), expected)


def test_a_tiny_ablation_run_reports_its_figures() -> None:
    result = run_one(n_layers=2, residual=False, steps=5, seq_len=3, n_symbols=5)
    assert result.grad_ratio_at_init > 0 and 0 <= result.second_half_accuracy <= 1
    assert "| 2 | no |" in table([result])
