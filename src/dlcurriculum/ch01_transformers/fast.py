"""The fused fast paths that `cfg.fast_path=True` runs instead of the exercise code.

Not an exercise, and not in the learner's skeleton: these call PyTorch's fused kernels
(one QKV matmul, `F.scaled_dot_product_attention`, `F.layer_norm`). Tests show they agree
with the exercise versions (nanoGPT's flash vs manual branch).
"""

from typing import Any

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor


def affine(
    x: Float[Tensor, "*batch d_in"], W: Float[Tensor, "d_in d_out"], b: Float[Tensor, " d_out"]
) -> Float[Tensor, "*batch d_out"]:
    """x @ W + b as one fused matmul-add (torch.addmm) on the flattened leading dims."""
    out = torch.addmm(b, x.reshape(-1, x.shape[-1]), W)
    return out.view(*x.shape[:-1], W.shape[-1])


def fast_layer_norm(
    x: Float[Tensor, "*batch d_model"],
    w: Float[Tensor, " d_model"],
    b: Float[Tensor, " d_model"],
    eps: float,
) -> Float[Tensor, "*batch d_model"]:
    """LayerNorm over the last dim by PyTorch's fused kernel."""
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def fast_attention(
    attn: Any, x: Float[Tensor, "batch pos d_model"], cache: Any
) -> Float[Tensor, "batch pos d_model"]:
    """`Attention.forward` with one fused QKV matmul and PyTorch's fused attention kernel.

    Per-head einsums become many small batched matmuls; stacking the heads into one
    [d_model, 3 * n_heads * d_head] matrix makes one large matmul, as GPT-2's c_attn does.
    No attention pattern is materialized, so hook_pattern is not called.

    Args:
        attn: the Attention layer (its W_Q.. b_O, cfg and hook_z).
        x: the (normalized) residual stream.
        cache: the layer's LayerKV, or None.
    """
    W_QKV = einops.rearrange(
        torch.stack([attn.W_Q, attn.W_K, attn.W_V]),
        "three n_heads d_model d_head -> d_model (three n_heads d_head)",
    )
    b_QKV = torch.stack([attn.b_Q, attn.b_K, attn.b_V]).flatten()
    qkv = affine(x, W_QKV, b_QKV)
    q, k, v = einops.rearrange(
        qkv,
        "batch pos (three n_heads d_head) -> three batch n_heads pos d_head",
        three=3,
        n_heads=attn.cfg.n_heads,
    )
    if cache is None:  # the kernel builds the square causal mask itself, faster
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        k, v = cache.append(k, v)
        n_q, n_k = q.shape[-2], k.shape[-2]
        # the queries are the last n_q positions: query i sees keys j <= i + n_k - n_q
        mask = torch.ones(n_q, n_k, dtype=torch.bool, device=x.device).tril(n_k - n_q)
        z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    z = attn.hook_z(z)
    z_flat = einops.rearrange(z, "batch n_heads pos d_head -> batch pos (n_heads d_head)")
    return affine(z_flat, attn.W_O.flatten(0, 1), attn.b_O)
