"""The residual ablation our first-principles answers quote: the block without skips, one run."""

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


def test_without_skips_the_gradient_at_init_is_badly_scaled_across_depth() -> None:
    """The answers' claim at depth 8 (48 vs 1.2 there; 34 vs 1.6 at this tiny size)."""
    plain, skips = (
        run_one(n_layers=8, residual=r, steps=1, seq_len=3, n_symbols=5) for r in (False, True)
    )
    assert plain.grad_ratio_at_init > 10 * skips.grad_ratio_at_init
    assert 0.5 < skips.grad_ratio_at_init < 2  # with skips, every block gets a similar gradient
    assert "| 8 | no |" in table([plain]) and "| 8 | yes |" in table([skips])
