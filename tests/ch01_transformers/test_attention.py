"""Attention against PyTorch's own kernels: SDPA and nn.MultiheadAttention."""

import dataclasses

import einops
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcurriculum.ch01_transformers.attention import (
    Attention,
    KVCache,
    attention,
    attention_pattern,
    causal_mask,
)

from .helpers import TINY


def test_causal_mask_is_lower_triangular() -> None:
    for n in (1, 2, 7):
        expected = torch.tril(torch.ones(n, n, dtype=torch.bool))
        assert torch.equal(causal_mask(n), expected)


def test_causal_mask_with_cached_keys_ends_at_the_diagonal() -> None:
    # 2 new queries after 3 cached positions: they sit at absolute positions 3 and 4
    full = causal_mask(5)
    assert torch.equal(causal_mask(2, 5), full[3:])
    with pytest.raises(ValueError, match="cannot be fewer"):
        causal_mask(3, 2)


@pytest.mark.parametrize("leading", [(), (3,), (2, 4)])
@pytest.mark.parametrize("masking", ["none", "causal", "random"])
def test_attention_equals_sdpa(leading: tuple[int, ...], masking: str) -> None:
    q = torch.randn(*leading, 5, 8)
    k = torch.randn(*leading, 7, 8)
    v = torch.randn(*leading, 7, 8)
    mask = None
    if masking == "causal":
        mask = causal_mask(5, 7)
    elif masking == "random":
        mask = torch.rand(5, 7) < 0.5
        mask[:, 0] = True  # every query needs at least one key
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(attention(q, k, v, mask), expected, atol=1e-6, rtol=1e-5)


def test_attention_pattern_rows_sum_to_one_and_masked_entries_are_zero() -> None:
    q, k = torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 4)
    pattern = attention_pattern(q, k, causal_mask(6))
    torch.testing.assert_close(pattern.sum(-1), torch.ones(2, 3, 6))
    assert (pattern[..., ~causal_mask(6)] == 0).all()


def test_attention_hook_sees_the_pattern() -> None:
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 4)
    seen = []
    attention(q, k, v, causal_mask(3, 5), hook=lambda p: seen.append(p) or p)
    torch.testing.assert_close(seen[0], attention_pattern(q, k, causal_mask(3, 5)))


def _randomized(cfg=TINY) -> Attention:
    attn = Attention(cfg)
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(0.3 * torch.randn_like(p))
    return attn


def test_multi_head_attention_equals_torch_multihead_attention() -> None:
    attn = _randomized()
    h, d = TINY.n_heads, TINY.d_model
    mha = nn.MultiheadAttention(d, h, bias=True, batch_first=True)
    with torch.no_grad():
        w = [
            einops.rearrange(W, "n_heads d_model d_head -> (n_heads d_head) d_model")
            for W in (attn.W_Q, attn.W_K, attn.W_V)
        ]
        mha.in_proj_weight.copy_(torch.cat(w))
        mha.in_proj_bias.copy_(torch.cat([b.flatten() for b in (attn.b_Q, attn.b_K, attn.b_V)]))
        mha.out_proj.weight.copy_(
            einops.rearrange(attn.W_O, "n_heads d_head d_model -> d_model (n_heads d_head)")
        )
        mha.out_proj.bias.copy_(attn.b_O)
    x = torch.randn(2, 9, d)
    # nn.MultiheadAttention's boolean mask marks the *forbidden* positions
    expected, _ = mha(x, x, x, attn_mask=~causal_mask(9), need_weights=False)
    torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-4)


def test_fast_path_equals_reference_path_with_gradients() -> None:

    ref = _randomized()
    fast = Attention(dataclasses.replace(TINY, fast_path=True))
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(3, 10, TINY.d_model, requires_grad=True)
    out_ref, out_fast = ref(x), fast(x)
    torch.testing.assert_close(out_fast, out_ref, atol=1e-6, rtol=1e-5)
    g = torch.randn_like(out_ref)
    grads_ref = torch.autograd.grad(out_ref, [x, *ref.parameters()], g)
    grads_fast = torch.autograd.grad(out_fast, [x, *fast.parameters()], g)
    for a, b in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("fast_path", [False, True])
def test_kv_cache_gives_the_same_output_as_the_full_sequence(fast_path: bool) -> None:

    attn = Attention(dataclasses.replace(TINY, fast_path=fast_path))
    attn.load_state_dict(_randomized().state_dict())
    x = torch.randn(2, 8, TINY.d_model)
    cache = KVCache(1)
    parts = [attn(x[:, :5], cache.layers[0])] + [
        attn(x[:, i : i + 1], cache.layers[0]) for i in range(5, 8)
    ]
    torch.testing.assert_close(torch.cat(parts, dim=1), attn(x), atol=1e-6, rtol=1e-5)
    assert cache.n_pos == 8


def test_hook_pattern_is_causal_and_has_per_head_shape() -> None:
    attn = _randomized()
    seen = []
    handle = attn.hook_pattern.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        attn(torch.randn(2, 6, TINY.d_model))
    finally:
        handle.remove()
    (pattern,) = seen
    assert pattern.shape == (2, TINY.n_heads, 6, 6)
    assert (pattern[..., ~causal_mask(6)] == 0).all()
