"""Induction and previous-token scores, ablation, per-position losses, the ICL score."""

import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch08_interpretability import induction as ind
from dlcurriculum.ch08_interpretability.induction_heads_experiment import with_repeats
from dlcurriculum.core.hooks import hook_count
from dlcurriculum.lm import tiny_causal_lm


def _model() -> Transformer:
    cfg = TransformerConfig(d_vocab=13, n_ctx=16, d_model=16, n_layers=2, n_heads=2, attn_only=True)
    return Transformer(cfg).eval()


def test_repeated_random_tokens_repeat_and_respect_low():
    tokens = ind.repeated_random_tokens(4, 6, 10, torch.Generator().manual_seed(0), low=3)
    assert tokens.shape == (4, 12)
    torch.testing.assert_close(tokens[:, :6], tokens[:, 6:])
    assert tokens.min() >= 3 and tokens.max() < 10


def test_scores_of_a_hand_built_induction_pattern():
    half, n = 4, 9  # one BOS, then two copies of 4 tokens
    q = torch.arange(n)
    pattern = torch.zeros(1, 2, n, n)
    pattern[0, 0, q, 0] = 1.0  # head 0 rests on BOS...
    second = q[q >= n - half]
    pattern[0, 0, second, 0] = 0.0
    pattern[0, 0, second, second - half + 1] = 1.0  # ...and does induction on the copy
    pattern[0, 1, q[1:], q[1:] - 1] = 1.0
    pattern[0, 1, 0, 0] = 1.0
    torch.testing.assert_close(ind.induction_score(pattern, half), torch.tensor([1.0, 0.0]))
    prev = ind.previous_token_score(pattern)
    assert prev[1] == 1.0 and prev[0] < 0.2


def test_patterns_read_through_hooks_match_hf_style_attentions():
    model, _ = tiny_causal_lm("gpt2", n_layers=2, n_heads=4)
    tokens = torch.randint(4, 50, (2, 10))
    patterns = ind.hf_attention_patterns(model, tokens)
    assert len(patterns) == 2 and patterns[0].shape == (2, 4, 10, 10)
    ours = ind.attention_patterns(_model(), torch.randint(0, 13, (2, 10)))
    assert ours[0].shape == (2, 2, 10, 10)
    torch.testing.assert_close(ours[1].sum(-1), torch.ones(2, 2, 10))


def test_ablating_all_heads_leaves_only_embeddings_and_biases():
    model = _model()
    tokens = torch.randint(0, 13, (2, 16))
    all_heads = [(layer, head) for layer in range(2) for head in range(2)]
    ablated = ind.ablate_heads(model, tokens, all_heads)
    # Attention-only with every head silenced: the residual stream is embed + pos + b_O's.
    with torch.no_grad():
        resid = model.embed(tokens) + model.pos_embed(16)
        resid = resid + sum(block.attn.b_O for block in model.blocks)
        expected = model.ln_final(resid) @ model.W_U
    torch.testing.assert_close(ablated, expected)
    assert hook_count(model) == 0


def test_half_losses_and_icl_score():
    loss = torch.arange(1.0, 20.0)  # 19 losses: a 20-token sequence, T = 8 (4 prefix tokens)
    first, second = ind.half_losses(loss, 8)
    # first copy: tokens 4..11, predicted at p = 3..10 minus the first -> mean of loss[4..10]
    assert first == float(loss[4:11].mean())
    assert second == float(loss[12:19].mean())
    assert ind.icl_score(torch.arange(600.0), late=500, early=50) == 450.0
    assert ind.icl_score(torch.arange(100.0), late=500, early=50) == 99.0 - 49.0


def test_per_position_loss_matches_cross_entropy():
    logits = torch.randn(3, 6, 7)
    tokens = torch.randint(0, 7, (3, 6))
    loss = ind.per_position_loss(logits, tokens)
    expected = torch.stack(
        [torch.nn.functional.cross_entropy(logits[:, p], tokens[:, p + 1]) for p in range(5)]
    )
    torch.testing.assert_close(loss, expected)


def test_top_heads_orders_by_score():
    scores = torch.tensor([[0.1, 0.9], [0.5, 0.2]])
    assert [h[:2] for h in ind.top_heads(scores, 3)] == [(0, 1), (1, 0), (1, 1)]


def test_with_repeats_repeats_a_stretch_with_a_random_period():
    batch = torch.arange(4 * 40).view(4, 40)
    out = with_repeats(batch, 1.0, torch.Generator().manual_seed(0), min_period=4, max_period=12)
    periods = set()
    for row, orig in zip(out, batch, strict=True):
        p = next(p for p in range(4, 13) if torch.equal(row[p:], row[:-p]))
        torch.testing.assert_close(row[:p], orig[:p])
        periods.add(p)
    assert len(periods) > 1
    torch.testing.assert_close(with_repeats(batch, 0.0, torch.Generator()), batch)
