"""Grader checks for chapter 1: positions, attention, the mask, LayerNorm, blocks, the model.

Each check first probes for the known mistakes of its exercise (a catalog per check: the
wrong answer each mistake computes, and the hint it prints), then compares with an
independent oracle: the closed form, `F.scaled_dot_product_attention`,
`nn.MultiheadAttention`, `nn.LayerNorm`, a hand-written float64 GPT-2 forward, HuggingFace
GPT-2 (when `transformers` is installed), and the causal invariance a decoder must have.
"""

import dataclasses
import functools
import importlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch01_transformers import oracles
from dlcurriculum.ch01_transformers.attention import KVCache
from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape, name_the_mistake

CFG = TransformerConfig(d_vocab=29, n_ctx=10, d_model=16, n_layers=2, n_heads=4, d_mlp=40)


def _distinct(mistakes: dict[str, Tensor], expected: Tensor) -> dict[str, Tensor]:
    """The mistakes whose answer differs from the right one on this input (the others would
    be told to right code)."""
    expected = expected.detach().double()
    return {
        hint: wrong
        for hint, wrong in mistakes.items()
        if not torch.allclose(wrong.detach().double(), expected, atol=1e-3)
    }


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randomize(module: nn.Module, seed: int, scale: float = 0.3) -> Any:
    """Random values for every parameter (default init has zero biases, which hide bugs)."""
    g = _gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g))
    return module.eval()


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


def check_causal_mask(causal_mask: Callable[..., Tensor]) -> None:
    """Square masks are lower-triangular; with cached keys the queries are the last rows."""
    cases = [(5, 5), (2, 6), (1, 4), (1, 1)]
    got: dict[tuple[int, int], Tensor] = {}
    for n_q, n_k in cases:
        mask = causal_mask(n_q, n_k)
        what = f"causal_mask({n_q}, {n_k})"
        assert_shape(mask, (n_q, n_k), what, hint="Rows are queries, columns keys.")
        if mask.dtype != torch.bool:
            raise ExerciseFailure(f"{what} has dtype {mask.dtype}; return a bool tensor")
        got[(n_q, n_k)] = mask

    def ones(n_q: int, n_k: int) -> Tensor:
        return torch.ones(n_q, n_k, dtype=torch.bool)

    expected = {(q, k): ones(q, k).tril(k - q) for q, k in cases}
    mistakes: dict[str, Callable[[int, int], Tensor]] = {
        "A position must attend to itself: the diagonal must be visible "
        "(keys j <= the query's position, not j <).": lambda q, k: ones(q, k).tril(k - q - 1),
        "Off by one: query i may see keys j <= i + n_k - n_q, not the next key too (that is "
        "the future).": lambda q, k: ones(q, k).tril(k - q + 1),
        "The mask is inverted: True must mean 'may attend' (the past and the position itself).": (
            lambda q, k: ~ones(q, k).tril(k - q)
        ),
        "The mask is transposed: rows are queries and columns keys, so query i may see the "
        "keys j <= i (the lower triangle), not j >= i.": lambda q, k: ones(q, k).triu(k - q),
        "The queries are the last n_q of the n_k positions: query i sits at position "
        "i + n_k - n_q and may see keys j <= that position.": lambda q, k: ones(q, k).tril(),
    }
    for hint, wrong in mistakes.items():
        if all(torch.equal(got[c], wrong(*c)) for c in cases):
            raise ExerciseFailure(f"causal_mask gives the wrong mask: {hint}")
    for (n_q, n_k), mask in got.items():
        if not torch.equal(mask, expected[(n_q, n_k)]):
            raise ExerciseFailure(
                f"causal_mask({n_q}, {n_k}):\n{mask.int()}\nexpected\n"
                f"{expected[(n_q, n_k)].int()}\nTrue where query i may attend to key j: "
                "j <= i + n_k - n_q."
            )


def check_attention_pattern(attention_pattern: Callable[..., Tensor]) -> None:
    """The pattern equals SDPA applied to identity values; masked entries are exactly 0."""
    g = _gen(1)
    q, k = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g)
    eye = torch.eye(7).expand(2, 3, 7, 7)  # attention to one-hot values returns the pattern
    # every row both sees and hides some keys, so a flipped mask is still finite
    for mask in (None, torch.ones(5, 7, dtype=torch.bool).tril(diagonal=1)):
        got = attention_pattern(q, k, mask)
        masking = "no mask" if mask is None else "causal mask"
        what = f"attention_pattern(q [2, 3, 5, 8], k [2, 3, 7, 8], {masking})"
        mistakes = {
            "You forgot to divide the scores by sqrt(d_head).": oracles.softmax_pattern(
                q, k, mask, 1.0
            ),
            "Divide the scores by sqrt(d_head), not by d_head.": oracles.softmax_pattern(
                q, k, mask, 1 / 8
            ),
            "Take the softmax over the keys (the last dim, dim=-1): each query's row sums "
            "to 1.": oracles.softmax_pattern(q, k, mask, dim=-2),
        }
        if mask is not None:
            unmasked = oracles.softmax_pattern(q, k)
            mistakes |= {
                "Mask the scores (to -inf) before the softmax, not the probabilities after "
                "it: the rows must still sum to 1.": unmasked.masked_fill(~mask, 0.0),
                "The mask is not applied: set the scores where mask is False to -inf.": unmasked,
                "True means 'may attend': hide the scores where the mask is False "
                "(masked_fill(~mask, ...)), not where it is True.": oracles.softmax_pattern(
                    q, k, ~mask
                ),
            }
        name_the_mistake(got, mistakes, what)
        assert_close(
            got,
            F.scaled_dot_product_attention(q, k, eye, attn_mask=mask),
            what,
            atol=1e-5,
            hint="softmax over keys (the last dim) of q @ k^T / sqrt(d_head), masked scores "
            "at -inf.",
        )


def check_attention(attention: Callable[..., Tensor]) -> None:
    """Equals F.scaled_dot_product_attention (any leading dims, with and without a mask)."""
    g = _gen(2)
    mask = torch.ones(5, 6, dtype=torch.bool).tril(diagonal=1)
    for leading in [(), (4,), (2, 3)]:
        q = torch.randn(*leading, 5, 8, generator=g)
        k, v = torch.randn(*leading, 6, 8, generator=g), torch.randn(*leading, 6, 8, generator=g)
        for m in (None, mask):
            what = (
                f"attention with leading dims {leading}, {'causal' if m is not None else 'no'} mask"
            )
            got = attention(q, k, v, m)
            mistakes = {
                "Mix the values, not the keys: pattern @ v.": F.scaled_dot_product_attention(
                    q, k, k, attn_mask=m
                ),
                "Divide the scores by sqrt(d_head) (attention_pattern does).": (
                    F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=1.0)
                ),
            }
            if m is not None:
                mistakes["Pass the mask on to attention_pattern."] = F.scaled_dot_product_attention(
                    q, k, v
                )
            name_the_mistake(got, mistakes, what)
            assert_close(
                got,
                F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                what,
                atol=1e-5,
                hint="pattern @ v, with the pattern of attention_pattern (rows sum to 1).",
            )
    seen: list[Tensor] = []

    def record(pattern: Tensor) -> Tensor:
        seen.append(pattern)
        return pattern

    attention(q, k, v, mask, hook=record)
    if len(seen) != 1 or tuple(seen[0].shape) != (*leading, 5, 6):
        raise ExerciseFailure(
            "call the hook once with the pattern [..., q_pos, k_pos] = "
            f"{(*leading, 5, 6)}; "
            f"it was called {len(seen)} times"
            + (f" with shape {tuple(seen[0].shape)}" if seen else "")
        )
    # a hook that edits the pattern (as chapter 8's patching does) must change the output
    uniform = attention(q, k, v, mask, hook=lambda p: torch.full_like(p, 1 / p.shape[-1]))
    assert_close(
        uniform,
        v.mean(dim=-2, keepdim=True).expand(*leading, 5, 8),
        "attention with a hook that makes every pattern uniform",
        atol=1e-5,
        hint="Mix the values with what the hook returns: pattern = hook(pattern).",
    )


def check_layer_norm(LayerNorm: type[nn.Module]) -> None:
    """Equals nn.LayerNorm with the same gain, bias and eps, on ordinary and tiny-variance
    inputs (where eps matters)."""
    ours = _randomize(LayerNorm(CFG), seed=3)
    oracle = nn.LayerNorm(CFG.d_model, eps=CFG.layer_norm_eps)
    with torch.no_grad():
        oracle.weight.copy_(ours.w)
        oracle.bias.copy_(ours.b)
    w, b = ours.w.detach(), ours.b.detach()
    g = _gen(4)
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
        name_the_mistake(got, _distinct(mistakes, expected), what)
        assert_close(
            got,
            expected,
            what,
            atol=1e-5,
            hint="Normalize over d_model (the last dim), then multiply by w and add b.",
        )


def check_multi_head_attention(Attention: type[nn.Module]) -> None:
    """Equals nn.MultiheadAttention with copied weights; hook_pattern sees causal patterns;
    a KV cache gives the same outputs."""
    attn = _randomize(Attention(CFG), seed=5)
    x = torch.randn(2, 7, CFG.d_model, generator=_gen(6))
    seen: list[Tensor] = []
    handle = attn.hook_pattern.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        got = attn(x)
    finally:
        handle.remove()
    what = "Attention(x [2, 7, d_model]) vs nn.MultiheadAttention"
    with torch.no_grad():
        mha = oracles.mha_oracle(attn)
        expected = oracles.self_attend(mha, x)
        mistakes = {
            "Apply the causal mask: pass causal_mask(n_q, n_k) to attention().": (
                oracles.self_attend(mha, x, causal=False)
            ),
        }
        # no b_K: it adds q . b_K to every key's score alike, which the softmax ignores
        for b in ("b_Q", "b_V", "b_O"):
            mistakes[f"Add the bias {b} after the projection."] = oracles.self_attend(
                oracles.mha_oracle(attn, (b,)), x
            )
    name_the_mistake(got, mistakes, what, atol=1e-4)
    assert_close(
        got,
        expected,
        what,
        atol=1e-5,
        hint="Project with W_Q/W_K/W_V plus biases per head, apply causal attention, "
        "then W_O summed over heads plus b_O.",
    )
    if len(seen) != 1 or tuple(seen[0].shape) != (2, CFG.n_heads, 7, 7):
        raise ExerciseFailure(
            "pass hook=self.hook_pattern to attention() so the pattern "
            "[batch, n_heads, q_pos, k_pos] goes through the hook"
        )
    _check_cached_attention(attn, x, expected)


def _check_cached_attention(attn: Any, x: Tensor, expected: Tensor) -> None:
    """Fed 4 positions, then 2, then 1, with a cache: the same outputs as all 7 at once."""
    chunks = [(0, 4), (4, 6), (6, 7)]
    cache = KVCache(1)
    what = "Attention fed 4 positions, then 2, then 1, with a cache"
    try:
        got = torch.cat([attn(x[:, a:b], cache.layers[0]) for a, b in chunks], dim=1)
    except (RuntimeError, ValueError) as e:
        raise ExerciseFailure(
            f"{what} raised {type(e).__name__}: {e}. With a cache the new queries are the "
            "last n_new of the n_all keys: the mask is causal_mask(n_new, n_all)."
        ) from None
    with torch.no_grad():  # each chunk attending only to itself: the cache was not read
        alone = torch.cat(
            [oracles.self_attend(oracles.mha_oracle(attn), x[:, a:b]) for a, b in chunks], dim=1
        )
    name_the_mistake(
        got,
        {"Attend to all keys, the cached ones too: k, v = cache.append(k, v).": alone},
        what,
        atol=1e-4,
    )
    assert_close(
        got,
        expected,
        what,
        atol=1e-5,
        hint="With a cache, append the new k and v to it (cache.append) and use "
        "all keys; the mask is causal_mask(n_new, n_all).",
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
    x = torch.randn(2, 6, CFG.d_model, generator=_gen(7))
    for attn_only in (False, True):
        block = _randomize(TransformerBlock(dataclasses.replace(CFG, attn_only=attn_only)), seed=8)
        got = block(x)
        what = f"TransformerBlock(attn_only={attn_only}) on x [2, 6, d_model]"
        with torch.no_grad():
            expected = oracles.block_oracle(block, x, attn_only)
            wrong = {
                why: oracles.block_oracle(block, x, attn_only, v)
                for v, why in BLOCK_MISTAKES.items()
            }
        # without an MLP some mistakes compute the right answer: only the others are named
        name_the_mistake(got, _distinct(wrong, expected), what, atol=1e-4)
        assert_close(
            got,
            expected,
            what,
            atol=1e-4,
            hint="resid_mid = x + attn(ln1(x)); resid_post = resid_mid + mlp(ln2(resid_mid)) "
            "(no MLP when attn_only).",
        )


def _causal_invariance(model: nn.Module, what: str) -> None:
    tokens = torch.randint(0, CFG.d_vocab, (2, CFG.n_ctx), generator=_gen(9))
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
    "skipped; the offline float64 GPT-2 forward in checks.py stood in for it"
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
            model = _randomize(Transformer(dataclasses.replace(CFG, **changes)), seed=10, scale=0.2)
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
    tokens = torch.randint(0, CFG.d_vocab, (2, 8), generator=_gen(11))
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
    hf = _randomize(transformers.GPT2LMHeadModel(hf_config), seed=12, scale=0.2)
    cfg = config_from_gpt2(hf_config)
    model: Any = Transformer(cfg).eval()
    model.load_state_dict(gpt2_state_dict(hf, cfg))
    tokens = torch.randint(0, CFG.d_vocab, (2, CFG.n_ctx), generator=_gen(13))
    with torch.no_grad():
        expected = hf(tokens).logits
    assert_close(
        model(tokens),
        expected,
        "Transformer with GPT-2's weights vs HF GPT2LMHeadModel",
        atol=1e-4,
        hint="Embed + W_pos, the blocks, ln_final, then @ W_U (W_E^T when tied).",
    )
