"""Grader checks for chapter 1: positions, attention, the mask, LayerNorm, blocks, the model.

Each check compares the learner's code with an independent oracle: the closed form,
`F.scaled_dot_product_attention`, `nn.MultiheadAttention`, `nn.LayerNorm`, HuggingFace
GPT-2 (when `transformers` is installed), and the causal invariance a decoder must have.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import einops
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.attention import KVCache
from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape

CFG = TransformerConfig(d_vocab=29, n_ctx=10, d_model=16, n_layers=2, n_heads=4, d_mlp=40)


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
    """Every entry equals the closed form; dot products depend only on the offset."""
    pe = sinusoidal_pos_embed(20, 8)
    assert_shape(pe, (20, 8), "sinusoidal_pos_embed(20, 8)", hint="One row per position.")
    if pe.dtype != torch.float32:
        raise ExerciseFailure(f"sinusoidal_pos_embed returned {pe.dtype}; return float32")
    expected = torch.tensor(
        [
            [
                (math.sin if i % 2 == 0 else math.cos)(p / 10000 ** ((i - i % 2) / 8))
                for i in range(8)
            ]
            for p in range(20)
        ]
    )
    hint = (
        "Entry (pos, 2i) is sin(pos / 10000^(2i / d_model)) and (pos, 2i + 1) the cosine of "
        "the same angle: sines in even columns, cosines in odd ones."
    )
    if torch.allclose(pe[:, ::2], expected[:, 1::2], atol=1e-4):
        hint = "Sines and cosines are swapped: even columns hold sin, odd ones cos."
    assert_close(pe, expected, "sinusoidal_pos_embed(20, 8)", atol=1e-5, hint=hint)
    assert_shape(
        sinusoidal_pos_embed(6, 5),
        (6, 5),
        "sinusoidal_pos_embed(6, 5) (odd width)",
        hint="With an odd d_model the last column is a lone sine: slice the cosines.",
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
    for n_q, n_k in [(1, 1), (5, 5), (2, 6), (1, 4)]:
        got = causal_mask(n_q, n_k)
        expected = torch.ones(n_q, n_k, dtype=torch.bool).tril(diagonal=n_k - n_q)
        what = f"causal_mask({n_q}, {n_k})"
        assert_shape(got, expected.shape, what, hint="Rows are queries, columns keys.")
        if got.dtype != torch.bool:
            raise ExerciseFailure(f"{what} has dtype {got.dtype}; return a bool tensor")
        if torch.equal(got, ~expected):
            raise ExerciseFailure(f"{what} is inverted: True must mean 'may attend'.")
        if not torch.equal(got, expected):
            hint = (
                "The queries are the last n_q of the n_k positions: query i sits at "
                "position i + n_k - n_q and may see keys j <= that position."
            )
            raise ExerciseFailure(f"{what}:\n{got.int()}\nexpected\n{expected.int()}\n{hint}")


def check_attention_pattern(attention_pattern: Callable[..., Tensor]) -> None:
    """The pattern equals SDPA applied to identity values; masked entries are exactly 0."""
    g = _gen(1)
    q, k = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g)
    eye = torch.eye(7).expand(2, 3, 7, 7)  # attention to one-hot values returns the pattern
    for mask in (None, torch.ones(5, 7, dtype=torch.bool).tril(diagonal=2)):
        got = attention_pattern(q, k, mask)
        expected = F.scaled_dot_product_attention(q, k, eye, attn_mask=mask)
        masking = "no mask" if mask is None else "causal mask"
        what = f"attention_pattern(q [2, 3, 5, 8], k [2, 3, 7, 8], {masking})"
        hint = "softmax over keys (the last dim) of q @ k^T / sqrt(d_head), masked scores at -inf."
        unscaled = (q @ k.transpose(-1, -2)).softmax(-1)
        if (
            mask is None
            and got.shape == unscaled.shape
            and torch.allclose(got, unscaled, atol=1e-5)
        ):
            hint = "You forgot to divide the scores by sqrt(d_head)."
        assert_close(got, expected, what, atol=1e-5, hint=hint)


def check_attention(attention: Callable[..., Tensor]) -> None:
    """Equals F.scaled_dot_product_attention (any leading dims, with and without a mask)."""
    g = _gen(2)
    for leading in [(), (4,), (2, 3)]:
        q = torch.randn(*leading, 5, 8, generator=g)
        k, v = torch.randn(*leading, 6, 8, generator=g), torch.randn(*leading, 6, 8, generator=g)
        mask = torch.ones(5, 6, dtype=torch.bool).tril(diagonal=1)
        for m in (None, mask):
            what = (
                f"attention with leading dims {leading}, {'causal' if m is not None else 'no'} mask"
            )
            assert_close(
                attention(q, k, v, m),
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
            "the hook must be called once with the pattern [..., q_pos, k_pos] = "
            f"{(*leading, 5, 6)}; "
            f"it was called {len(seen)} times"
            + (f" with shape {tuple(seen[0].shape)}" if seen else "")
        )


def check_layer_norm(LayerNorm: type[nn.Module]) -> None:
    """Equals nn.LayerNorm with the same gain, bias and eps."""
    ours = _randomize(LayerNorm(CFG), seed=3)
    oracle = nn.LayerNorm(CFG.d_model, eps=CFG.layer_norm_eps)
    with torch.no_grad():
        oracle.weight.copy_(ours.w)
        oracle.bias.copy_(ours.b)
    x = 2 + 3 * torch.randn(2, 5, CFG.d_model, generator=_gen(4))
    got = ours(x)
    hint = "Normalize over d_model (the last dim), then multiply by w and add b."
    unbiased = (x - x.mean(-1, keepdim=True)) / torch.sqrt(
        x.var(-1, keepdim=True) + CFG.layer_norm_eps
    )
    if got.shape == x.shape and torch.allclose(got, unbiased * ours.w + ours.b, atol=1e-5):
        hint = "You used the unbiased variance (divide by n - 1); LayerNorm divides by n."
    assert_close(got, oracle(x), "LayerNorm on x [2, 5, d_model]", atol=1e-5, hint=hint)


def _mha_oracle(attn: Any) -> nn.MultiheadAttention:
    """nn.MultiheadAttention holding the same weights as our Attention."""
    mha = nn.MultiheadAttention(CFG.d_model, CFG.n_heads, bias=True, batch_first=True)
    to_rows = "n_heads d_model d_head -> (n_heads d_head) d_model"
    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.cat([einops.rearrange(W, to_rows) for W in (attn.W_Q, attn.W_K, attn.W_V)])
        )
        mha.in_proj_bias.copy_(torch.cat([b.flatten() for b in (attn.b_Q, attn.b_K, attn.b_V)]))
        mha.out_proj.weight.copy_(
            einops.rearrange(attn.W_O, "n_heads d_head d_model -> d_model (n_heads d_head)")
        )
        mha.out_proj.bias.copy_(attn.b_O)
    return mha.eval()


def _causal_block_mask(n: int) -> Tensor:
    return ~torch.ones(n, n, dtype=torch.bool).tril()  # nn.MultiheadAttention: True = blocked


def check_multi_head_attention(Attention: type[nn.Module]) -> None:
    """Equals nn.MultiheadAttention with copied weights; hook_pattern sees causal patterns."""
    attn = _randomize(Attention(CFG), seed=5)
    x = torch.randn(2, 7, CFG.d_model, generator=_gen(6))
    expected, _ = _mha_oracle(attn)(x, x, x, attn_mask=_causal_block_mask(7), need_weights=False)
    seen: list[Tensor] = []
    handle = attn.hook_pattern.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        got = attn(x)
    finally:
        handle.remove()
    assert_close(
        got,
        expected,
        "Attention(x [2, 7, d_model]) vs nn.MultiheadAttention",
        atol=1e-5,
        hint="Project with W_Q/W_K/W_V plus biases per head, apply causal attention, "
        "then W_O summed over heads plus b_O. Check the causal mask is applied.",
    )
    if len(seen) != 1 or tuple(seen[0].shape) != (2, CFG.n_heads, 7, 7):
        raise ExerciseFailure(
            "pass hook=self.hook_pattern to attention() so the pattern "
            "[batch, n_heads, q_pos, k_pos] goes through the hook"
        )
    _check_cached_attention(attn, x)


def _check_cached_attention(attn: Any, x: Tensor) -> None:
    cache = KVCache(1)
    parts = [attn(x[:, :4], cache.layers[0])] + [
        attn(x[:, i : i + 1], cache.layers[0]) for i in range(4, 7)
    ]
    assert_close(
        torch.cat(parts, dim=1),
        attn(x),
        "Attention fed 4 positions then 1 at a time with a cache",
        atol=1e-5,
        hint="With a cache, append the new k and v to it (cache.append) and use "
        "all keys; the mask is causal_mask(n_new, n_all).",
    )


def _block_oracle(block: Any, x: Tensor, attn_only: bool, variant: str = "pre_ln") -> Tensor:
    """The block built from torch modules with the block's weights.

    variant "pre_ln" is the right answer; "no_residual" and "post_ln" are common mistakes,
    computed only to name them in the hint.
    """

    def ln(m: Any, h: Tensor) -> Tensor:
        return F.layer_norm(h, (CFG.d_model,), m.w, m.b, CFG.layer_norm_eps)

    mha = _mha_oracle(block.attn)
    mask = _causal_block_mask(x.shape[1])

    def attn(h: Tensor) -> Tensor:
        return mha(h, h, h, attn_mask=mask, need_weights=False)[0]

    def mlp(h: Tensor) -> Tensor:
        m = block.mlp
        return F.gelu(h @ m.W_in + m.b_in, approximate="tanh") @ m.W_out + m.b_out

    if variant == "no_residual":
        mid = attn(ln(block.ln1, x))
        return mid if attn_only else mlp(ln(block.ln2, mid))
    if variant == "post_ln":
        mid = ln(block.ln1, x + attn(x))
        return mid if attn_only else ln(block.ln2, mid + mlp(mid))
    mid = x + attn(ln(block.ln1, x))
    return mid if attn_only else mid + mlp(ln(block.ln2, mid))


def check_transformer_block(TransformerBlock: type[nn.Module]) -> None:
    """Equals a pre-LN block assembled from F.layer_norm, nn.MultiheadAttention and an MLP."""
    x = torch.randn(2, 6, CFG.d_model, generator=_gen(7))
    for attn_only in (False, True):
        block = _randomize(TransformerBlock(dataclasses.replace(CFG, attn_only=attn_only)), seed=8)
        got = block(x)
        what = f"TransformerBlock(attn_only={attn_only}) on x [2, 6, d_model]"
        hint = (
            "resid_mid = x + attn(ln1(x)); resid_post = resid_mid + mlp(ln2(resid_mid)) "
            "(no MLP when attn_only)."
        )
        mistakes = {
            "no_residual": "The residual connections are missing: add each sub-block's "
            "output to its input.",
            "post_ln": "That is post-LN (normalizing after the sum); normalize only the "
            "sub-blocks' inputs and leave the residual stream itself unnormalized.",
        }
        for variant, why in mistakes.items():
            wrong = _block_oracle(block, x, attn_only, variant)
            if got.shape == wrong.shape and torch.allclose(got, wrong, atol=1e-4):
                hint = why
        assert_close(got, _block_oracle(block, x, attn_only), what, atol=1e-4, hint=hint)


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


def check_transformer(Transformer: type[nn.Module]) -> None:
    """Matches HF GPT-2 with the same weights (if installed); causal; KV cache consistent."""
    for changes in ({}, {"tie_embeddings": True, "pos_embed": "sinusoidal"}, {"attn_only": True}):
        cfg = dataclasses.replace(CFG, **changes)
        model = _randomize(Transformer(cfg), seed=10, scale=0.2)
        _causal_invariance(model, f"Transformer({changes or 'default'})")
        tokens = torch.randint(0, CFG.d_vocab, (2, 8), generator=_gen(11))
        cache = KVCache(cfg.n_layers)
        parts = [model(tokens[:, :5], cache)] + [
            model(tokens[:, i : i + 1], cache) for i in range(5, 8)
        ]
        assert_close(
            torch.cat(parts, dim=1),
            model(tokens),
            f"Transformer({changes or 'default'}) fed 5 tokens then 1 at a time with a KV cache",
            atol=1e-4,
            hint="With a cache, positional embeddings start at row cache.n_pos "
            "(the `offset`), and each block gets cache.layers[i].",
        )
    _check_against_gpt2(Transformer)


def _check_against_gpt2(Transformer: type[nn.Module]) -> None:
    try:
        import transformers
    except ImportError:  # the `hf` extra is optional; the checks above still stand
        return
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
