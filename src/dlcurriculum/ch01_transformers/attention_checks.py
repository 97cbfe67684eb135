"""Grader checks of chapter 1's attention: the causal mask, the pattern, attention, and
the multi-head layer (with its KV cache).

Each check names the known mistakes first, then compares with an independent oracle:
the closed form, `F.scaled_dot_product_attention` or `nn.MultiheadAttention`.
"""

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch01_transformers import oracles
from dlcurriculum.ch01_transformers.attention import KVCache
from dlcurriculum.ch01_transformers.oracles import CFG, gen, randomize
from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape, name_the_mistake


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
    g = gen(1)
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
    g = gen(2)
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


def check_multi_head_attention(Attention: type[nn.Module]) -> None:
    """Equals nn.MultiheadAttention with copied weights; hook_pattern sees causal patterns;
    a KV cache gives the same outputs."""
    attn = randomize(Attention(CFG), seed=5)
    x = torch.randn(2, 7, CFG.d_model, generator=gen(6))
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
