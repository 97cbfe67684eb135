"""Grader checks of chapter 1's model: positions, LayerNorm, the block and the whole model.

Each check names the known mistakes first, then compares with an independent oracle: the
closed-form sinusoids, `nn.LayerNorm`, a pre-LN block from torch modules, a float64 GPT-2
forward, HuggingFace GPT-2 (when `transformers` is installed), and causal invariance.
"""

import dataclasses
import functools
import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers import oracles
from dlcurriculum.ch01_transformers.attention import KVCache
from dlcurriculum.ch01_transformers.oracles import CFG, distinct, gen, randomize
from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape, name_the_mistake


def check_sinusoidal_pos_embed(sinusoidal_pos_embed: Callable[[int, int], Tensor]) -> None:
    """Every entry equals the closed form, at 4096 positions too; dot products depend only
    on the offset."""
    pe = sinusoidal_pos_embed(20, 8)
    what = "sinusoidal_pos_embed(20, 8)"
    assert_shape(pe, (20, 8), what, hint="One row per position.")
    if pe.dtype != torch.float32:
        raise ExerciseFailure(f"sinusoidal_pos_embed returned {pe.dtype}; return float32")
    expected = oracles.sinusoids(20, 8)
    swapped = expected.clone()
    swapped[:, 0::2], swapped[:, 1::2] = expected[:, 1::2], expected[:, 0::2]
    name_the_mistake(
        pe,
        {
            "Sines and cosines are swapped: even columns (2i) hold sin, odd ones (2i + 1) cos.": (
                swapped
            ),
            "The exponent is 2i / d_model, where 2i is the even column index: step "
            "torch.arange(0, d_model, 2), not torch.arange(d_model // 2).": oracles.sinusoids(
                20, 8, two_i=False
            ),
            "Interleave sines and cosines (sin in column 2i, cos in 2i + 1) instead of "
            "putting all sines first and all cosines after.": oracles.sinusoids(
                20, 8, interleave=False
            ),
        },
        what,
    )
    hint = (
        "Entry (pos, 2i) is sin(pos / 10000^(2i / d_model)) and (pos, 2i + 1) the cosine of "
        "the same angle: sines in even columns, cosines in odd ones."
    )
    assert_close(pe, expected, what, atol=1e-5, hint=hint)
    assert_shape(
        sinusoidal_pos_embed(6, 5),
        (6, 5),
        "sinusoidal_pos_embed(6, 5) (odd width)",
        hint="With an odd d_model the last column is a lone sine: slice the cosines.",
    )
    assert_close(
        sinusoidal_pos_embed(4096, 64),
        oracles.sinusoids(4096, 64),
        "sinusoidal_pos_embed(4096, 64)",
        atol=1e-5,
        hint="Right at small positions, off at large ones: compute the angles in float64 and "
        "cast the result to float32 (pos * freq loses digits in float32).",
    )
    big = sinusoidal_pos_embed(64, 32)
    dots = (big[:-3] * big[3:]).sum(-1)
    assert_close(
        dots,
        dots[0].expand_as(dots),
        "<PE(p), PE(p + 3)> over p",
        atol=1e-4,
        hint="These dot products must not depend on p (they are sums of cos(3 * freq)).",
    )


def check_layer_norm(LayerNorm: type[nn.Module]) -> None:
    """Equals nn.LayerNorm with the same gain, bias and eps, on ordinary and tiny-variance
    inputs (where eps matters)."""
    ours = randomize(LayerNorm(CFG), seed=3)
    oracle = nn.LayerNorm(CFG.d_model, eps=CFG.layer_norm_eps)
    with torch.no_grad():
        oracle.weight.copy_(ours.w)
        oracle.bias.copy_(ours.b)
    w, b = ours.w.detach(), ours.b.detach()
    g = gen(4)
    inputs = {
        "x [2, 5, d_model]": 2 + 3 * torch.randn(2, 5, CFG.d_model, generator=g),
        "x [2, 5, d_model] with variance 1e-6": 1e-3 * torch.randn(2, 5, CFG.d_model, generator=g),
    }
    for name, x in inputs.items():
        got, expected = ours(x), oracle(x)
        what = f"LayerNorm on {name}"
        ln = functools.partial(oracles.layer_norm, x)
        mistakes = {
            "You used the unbiased variance (divide by n - 1); LayerNorm divides by n: "
            "pass correction=0.": ln(w, b, unbiased=True),
            "Add eps inside the square root: (x - mean) / sqrt(var + eps).": ln(
                w, b, eps_outside=True
            ),
            "Normalize over d_model (the last dim, dim=-1), not over positions.": ln(w, b, dim=-2),
            "Subtract the mean before dividing by the standard deviation.": ln(w, b, center=False),
            "After scaling by w, add the bias b.": ln(w, torch.zeros_like(b)),
            "Scale the normalized x by the gain w before adding b.": ln(torch.ones_like(w), b),
        }
        name_the_mistake(got, distinct(mistakes, expected), what)
        assert_close(
            got,
            expected,
            what,
            atol=1e-5,
            hint="Normalize over d_model (the last dim), then multiply by w and add b.",
        )


BLOCK_MISTAKES = {
    "no_residual": "The residual connections are missing: add each sub-block's output to its "
    "input.",
    "no_attn_residual": "The attention's residual connection is missing: "
    "resid_mid = resid_pre + attn_out.",
    "no_mlp_residual": "The MLP's residual connection is missing: "
    "resid_post = resid_mid + mlp_out.",
    "post_ln": "That is post-LN (normalizing after the sum); normalize only the sub-blocks' "
    "inputs and leave the residual stream itself unnormalized.",
    "in_place": "The residual stream itself is never normalized: pass ln1(resid_pre) to the "
    "attention, but add its output to resid_pre, not to the normalized copy.",
    "mlp_reads_ln1": "Each sub-block has its own LayerNorm: the MLP reads ln2(resid_mid), not ln1.",
    "mlp_reads_resid_pre": "The MLP reads ln2(resid_mid), the stream after the attention's "
    "output is added, not resid_pre.",
}


def check_transformer_block(TransformerBlock: type[nn.Module]) -> None:
    """Equals a pre-LN block assembled from F.layer_norm, nn.MultiheadAttention and an MLP."""
    x = torch.randn(2, 6, CFG.d_model, generator=gen(7))
    for attn_only in (False, True):
        block = randomize(TransformerBlock(dataclasses.replace(CFG, attn_only=attn_only)), seed=8)
        got = block(x)
        what = f"TransformerBlock(attn_only={attn_only}) on x [2, 6, d_model]"
        with torch.no_grad():
            expected = oracles.block_oracle(block, x, attn_only)
            wrong = {
                why: oracles.block_oracle(block, x, attn_only, v)
                for v, why in BLOCK_MISTAKES.items()
            }
        # without an MLP some mistakes compute the right answer: only the others are named
        name_the_mistake(got, distinct(wrong, expected), what, atol=1e-4)
        assert_close(
            got,
            expected,
            what,
            atol=1e-4,
            hint="resid_mid = x + attn(ln1(x)); resid_post = resid_mid + mlp(ln2(resid_mid)) "
            "(no MLP when attn_only).",
        )


def _causal_invariance(model: nn.Module, what: str) -> None:
    tokens = torch.randint(0, CFG.d_vocab, (2, CFG.n_ctx), generator=gen(9))
    logits = model(tokens)
    assert_shape(
        logits,
        (2, CFG.n_ctx, CFG.d_vocab),
        f"{what}(tokens [2, {CFG.n_ctx}])",
        hint="Return logits [batch, pos, d_vocab].",
    )
    for j in (1, 4, CFG.n_ctx - 1):
        changed = tokens.clone()
        changed[:, j] = (changed[:, j] + 1) % CFG.d_vocab
        assert_close(
            model(changed)[:, :j],
            logits[:, :j],
            f"{what}: logits at positions < {j} after changing the token at {j}",
            atol=1e-5,
            hint="Positions must not see the future: apply the causal mask.",
        )


GPT2_ABSENT = (
    "transformers is not installed (the `hf` extra), so the comparison with HF GPT-2 was "
    "skipped; the offline float64 GPT-2 forward of oracles.py stood in for it"
)


def check_transformer(Transformer: type[nn.Module]) -> None:
    """Matches a float64 GPT-2 forward written from its weights, and HF GPT-2 with the same
    weights (if installed); causal; KV cache consistent."""
    transformers: Any = None
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:  # the `hf` extra is optional: say so, the offline oracle stands
        print(f"note: {GPT2_ABSENT}")
    try:
        for changes in (
            {},
            {"tie_embeddings": True, "pos_embed": "sinusoidal"},
            {"attn_only": True},
        ):
            model = randomize(Transformer(dataclasses.replace(CFG, **changes)), seed=10, scale=0.2)
            _check_model(model, f"Transformer({changes or 'default'})")
    except ExerciseFailure as e:
        if transformers is None:
            raise ExerciseFailure(f"{e} (note: {GPT2_ABSENT})") from None
        raise
    if transformers is not None:
        _check_against_gpt2(Transformer, transformers)


def _check_model(model: nn.Module, name: str) -> None:
    """The offline GPT-2 oracle, causality, and the KV cache."""
    _causal_invariance(model, name)
    tokens = torch.randint(0, CFG.d_vocab, (2, 8), generator=gen(11))
    got = model(tokens)
    what = f"{name} on tokens [2, 8] vs a float64 GPT-2 forward"
    gpt2 = functools.partial(oracles.gpt2_forward, model, tokens)
    mistakes = {
        "Apply the final LayerNorm (ln_final) to the residual stream before W_U.": gpt2(
            final_ln=False
        ),
        "Add the positional embedding (pos_embed) to the token embedding.": gpt2(pos_embed=False),
    }
    name_the_mistake(got, mistakes, what, atol=1e-4)
    assert_close(
        got,
        gpt2(),
        what,
        atol=1e-4,
        hint="Embed + W_pos, the blocks, ln_final, then @ W_U (W_E^T when tied).",
    )
    cfg: Any = model.cfg
    cache = KVCache(cfg.n_layers)
    parts = [model(tokens[:, :5], cache)] + [model(tokens[:, i : i + 1], cache) for i in (5, 6, 7)]
    got = torch.cat(parts, dim=1)
    what = f"{name} fed 5 tokens then 1 at a time with a KV cache"
    causal = torch.ones(8, 8, dtype=torch.bool).tril()
    restart = torch.tensor([0, 1, 2, 3, 4, 0, 0, 0])  # positions when the offset stays 0
    alone = [causal[:1, :1]] * 3  # each new token sees only itself
    mistakes = {
        "With a cache, the first new token's position is `offset` (cache.n_pos): take "
        "rows offset .. offset + pos - 1 of W_pos.": gpt2(positions=restart),
        "Pass each block its layer's cache (cache.layers[i]), so new tokens attend to "
        "the cached ones (cache.n_pos counts what they stored).": gpt2(
            positions=restart, mask=torch.block_diag(causal[:5, :5], *alone)
        ),
    }
    name_the_mistake(got, mistakes, what, atol=1e-4)
    assert_close(
        got,
        model(tokens),
        what,
        atol=1e-4,
        hint="With a cache, positional embeddings start at row cache.n_pos "
        "(the `offset`), and each block gets cache.layers[i].",
    )


def _check_against_gpt2(Transformer: type[nn.Module], transformers: Any) -> None:
    from dlcurriculum.ch01_transformers.gpt2_weights import config_from_gpt2, gpt2_state_dict

    hf_config = transformers.GPT2Config(
        vocab_size=CFG.d_vocab,
        n_positions=CFG.n_ctx,
        n_embd=CFG.d_model,
        n_layer=2,
        n_head=CFG.n_heads,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(12)
    hf = randomize(transformers.GPT2LMHeadModel(hf_config), seed=12, scale=0.2)
    cfg = config_from_gpt2(hf_config)
    model: Any = Transformer(cfg).eval()
    model.load_state_dict(gpt2_state_dict(hf, cfg))
    tokens = torch.randint(0, CFG.d_vocab, (2, CFG.n_ctx), generator=gen(13))
    with torch.no_grad():
        expected = hf(tokens).logits
    assert_close(
        model(tokens),
        expected,
        "Transformer with GPT-2's weights vs HF GPT2LMHeadModel",
        atol=1e-4,
        hint="Embed + W_pos, the blocks, ln_final, then @ W_U (W_E^T when tied).",
    )
