"""Scaled dot-product attention, the causal mask, multi-head attention and its KV cache.

Ref: Vaswani et al. 2017, "Attention Is All You Need", section 3.2.
"""

import math
from collections.abc import Callable

import einops
import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.fast import fast_attention
from dlcurriculum.ch01_transformers.hook_point import HookPoint


def causal_mask(
    n_q: int, n_k: int | None = None, device: torch.device | str | None = None
) -> Bool[Tensor, "q_pos k_pos"]:
    """Which keys each query may attend to in a decoder: itself and the past.

    Ref: Vaswani et al. 2017, section 3.2.3 ("masking out ... illegal connections").

    The queries are the *last* `n_q` of the `n_k` positions. That is the whole sequence when
    `n_q == n_k`; with a KV cache, the keys also cover `n_k - n_q` earlier positions, so query
    i sits at absolute position `i + n_k - n_q`.

    Args:
        n_q: number of query positions.
        n_k: number of key positions (default `n_q`); must be at least `n_q`.
        device: where to create the mask.

    Returns:
        Boolean mask, True where query i may attend to key j (j <= i + n_k - n_q), the same
        convention as `F.scaled_dot_product_attention`'s boolean `attn_mask`.
    """
    n_k = n_q if n_k is None else n_k
    if n_k < n_q:
        raise ValueError(f"causal_mask: n_k={n_k} keys cannot be fewer than n_q={n_q} queries")
    # BEGIN SOLUTION
    # HINT: compare a column of query positions with a row of key positions (broadcasting).
    q_abs = torch.arange(n_q, device=device)[:, None] + (n_k - n_q)
    k_abs = torch.arange(n_k, device=device)[None, :]
    return k_abs <= q_abs
    # END SOLUTION


def attention_pattern(
    q: Float[Tensor, "*batch q_pos d_head"],
    k: Float[Tensor, "*batch k_pos d_head"],
    mask: Bool[Tensor, "q_pos k_pos"] | None = None,
) -> Float[Tensor, "*batch q_pos k_pos"]:
    """How much each query attends to each key: softmax(q k^T / sqrt(d_head)) over keys.

    Ref: Vaswani et al. 2017, eq. 1.

    Args:
        q: queries; any leading dims (e.g. batch, n_heads).
        k: keys, with the same leading dims.
        mask: True where attention is allowed; masked scores get probability exactly 0.
            Every query must be allowed at least one key.

    Returns:
        The attention pattern; each row (over k_pos) sums to 1.
    """
    # BEGIN SOLUTION
    # HINT: divide by sqrt(d_head) so the scores' scale does not grow with the head width.
    # HINT: set masked scores to -inf *before* the softmax, not the probabilities after it.
    scores = einops.einsum(q, k, "... q_pos d_head, ... k_pos d_head -> ... q_pos k_pos")
    scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)
    # END SOLUTION


def attention(
    q: Float[Tensor, "*batch q_pos d_head"],
    k: Float[Tensor, "*batch k_pos d_head"],
    v: Float[Tensor, "*batch k_pos d_head"],
    mask: Bool[Tensor, "q_pos k_pos"] | None = None,
    hook: Callable[[Tensor], Tensor] | None = None,
) -> Float[Tensor, "*batch q_pos d_head"]:
    """Scaled dot-product attention: each query's average of the values, by its pattern.

    Ref: Vaswani et al. 2017, eq. 1. Same result as
    `F.scaled_dot_product_attention(q, k, v, attn_mask=mask)`.

    Args:
        q: queries; any leading dims (e.g. batch, n_heads).
        k: keys.
        v: values, one per key.
        mask: True where attention is allowed (see `causal_mask`).
        hook: applied to the pattern before it mixes the values (the layer passes its
            `hook_pattern`, so later chapters can read or edit patterns).

    Returns:
        One mixed value vector per query.
    """
    # BEGIN SOLUTION
    # HINT: reuse attention_pattern; pass the pattern through `hook` before it weights v.
    pattern = attention_pattern(q, k, mask)
    if hook is not None:
        pattern = hook(pattern)
    return einops.einsum(pattern, v, "... q_pos k_pos, ... k_pos d_head -> ... q_pos d_head")
    # END SOLUTION


class LayerKV:
    """The keys and values one attention layer has computed so far (for sampling)."""

    def __init__(self) -> None:
        self.k: Tensor | None = None  # [batch, n_heads, pos, d_head]
        self.v: Tensor | None = None

    @property
    def n_pos(self) -> int:
        """Positions already cached."""
        return 0 if self.k is None else self.k.shape[-2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions' keys and values; return all of them."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v


class KVCache:
    """One LayerKV per layer; the model reads its position offset from here.

    Sampling with a cache feeds only the newest token each step and reuses the past keys
    and values, instead of recomputing the whole prefix: O(pos) work per token, not O(pos^2).
    """

    def __init__(self, n_layers: int) -> None:
        self.layers = [LayerKV() for _ in range(n_layers)]

    @property
    def n_pos(self) -> int:
        """Positions already cached (the next token's position)."""
        return self.layers[0].n_pos


class Attention(nn.Module):
    """Causal multi-head self-attention with TransformerLens parameter names.

    Ref: Vaswani et al. 2017, section 3.2.2 (multi-head attention).

    Parameters: W_Q, W_K, W_V [n_heads, d_model, d_head], b_Q, b_K, b_V [n_heads, d_head],
    W_O [n_heads, d_head, d_model], b_O [d_model].
    """

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h, d, e = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.randn(h, d, e) * cfg.init_range)
        self.W_K = nn.Parameter(torch.randn(h, d, e) * cfg.init_range)
        self.W_V = nn.Parameter(torch.randn(h, d, e) * cfg.init_range)
        # GPT-2's scaled init: each residual write adds variance, 2 writes per layer.
        self.W_O = nn.Parameter(torch.randn(h, e, d) * cfg.init_range / math.sqrt(2 * cfg.n_layers))
        self.b_Q = nn.Parameter(torch.zeros(h, e))
        self.b_K = nn.Parameter(torch.zeros(h, e))
        self.b_V = nn.Parameter(torch.zeros(h, e))
        self.b_O = nn.Parameter(torch.zeros(d))
        self.hook_pattern = HookPoint()  # [batch, n_heads, q_pos, k_pos]
        self.hook_z = HookPoint()  # [batch, n_heads, q_pos, d_head]

    def forward(
        self, x: Float[Tensor, "batch pos d_model"], cache: LayerKV | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        """Each position attends to itself and earlier positions, in n_heads heads.

        Args:
            x: the (normalized) residual stream.
            cache: this layer's keys and values of earlier positions; when given, `x` holds
                only the new positions and their keys and values are appended to it.

        Returns:
            The sum over heads of each head's output, projected back to d_model by W_O.
        """
        if self.cfg.fast_path:
            return fast_attention(self, x, cache)
        # BEGIN SOLUTION
        # HINT: project to [batch, n_heads, pos, d_head] with einops.einsum, add the biases,
        # HINT: apply `attention_pattern` with `causal_mask`, then mix the values and apply W_O.
        to_heads = "batch pos d_model, n_heads d_model d_head -> batch n_heads pos d_head"
        q = einops.einsum(x, self.W_Q, to_heads) + self.b_Q[:, None, :]
        k = einops.einsum(x, self.W_K, to_heads) + self.b_K[:, None, :]
        v = einops.einsum(x, self.W_V, to_heads) + self.b_V[:, None, :]
        if cache is not None:
            k, v = cache.append(k, v)
        mask = causal_mask(q.shape[-2], k.shape[-2], device=x.device)
        z = self.hook_z(attention(q, k, v, mask, hook=self.hook_pattern))
        from_heads = "batch n_heads pos d_head, n_heads d_head d_model -> batch pos d_model"
        return einops.einsum(z, self.W_O, from_heads) + self.b_O
        # END SOLUTION
