"""Independent oracles for chapter 1's checks, and the answers of known mistakes.

Written from the papers and torch modules, never from the chapter's reference code: the
closed-form sinusoids, softmax attention and LayerNorm in float64, nn.MultiheadAttention
with a layer's weights, a pre-LN block from torch modules, and GPT-2's forward in float64.
Keyword switches compute what a known mistake computes, so a check can name it. Last, the
inputs the checks share (CFG, seeded generators, randomized weights).
"""

import math
from typing import Any

import einops
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig


def sinusoids(n_ctx: int, d_model: int, two_i: bool = True, interleave: bool = True) -> Tensor:
    """The closed form in float64 (two_i=False and interleave=False: two known mistakes)."""
    pos = torch.arange(n_ctx, dtype=torch.float64)[:, None]
    i = torch.arange(0, d_model, 2 if two_i else 1, dtype=torch.float64)[: (d_model + 1) // 2]
    angles = pos / 10000 ** (i / d_model)
    sin, cos = angles.sin(), angles[:, : d_model // 2].cos()
    if not interleave:
        return torch.cat([sin, cos], dim=1)
    pe = torch.zeros(n_ctx, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = sin, cos
    return pe


def softmax_pattern(
    q: Tensor, k: Tensor, mask: Tensor | None = None, scale: float | None = None, dim: int = -1
) -> Tensor:
    """softmax(q k^T * scale) in float64: the right pattern, or a known mistake's."""
    scores = q.double() @ k.double().transpose(-1, -2) * (scale or q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim)


def layer_norm(
    x: Tensor,
    w: Tensor,
    b: Tensor,
    eps: float = 1e-5,
    dim: int = -1,
    unbiased: bool = False,
    eps_outside: bool = False,
    center: bool = True,
) -> Tensor:
    """LayerNorm in float64; the keyword switches compute known mistakes."""
    x, w, b = x.double(), w.double(), b.double()
    mean = x.mean(dim, keepdim=True)
    var = x.var(dim, keepdim=True, correction=1 if unbiased else 0)
    std = var.sqrt() + eps if eps_outside else (var + eps).sqrt()
    return ((x - mean) if center else x) / std * w + b


def mha_oracle(attn: Any, zero: tuple[str, ...] = ()) -> nn.MultiheadAttention:
    """nn.MultiheadAttention holding the same weights as our Attention (the biases named in
    `zero` set to 0: a known mistake's answer)."""
    mha = nn.MultiheadAttention(attn.cfg.d_model, attn.cfg.n_heads, bias=True, batch_first=True)
    to_rows = "n_heads d_model d_head -> (n_heads d_head) d_model"

    def bias(name: str) -> Tensor:
        b = getattr(attn, name)
        return torch.zeros_like(b) if name in zero else b

    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.cat([einops.rearrange(W, to_rows) for W in (attn.W_Q, attn.W_K, attn.W_V)])
        )
        mha.in_proj_bias.copy_(torch.cat([bias(n).flatten() for n in ("b_Q", "b_K", "b_V")]))
        mha.out_proj.weight.copy_(
            einops.rearrange(attn.W_O, "n_heads d_head d_model -> d_model (n_heads d_head)")
        )
        mha.out_proj.bias.copy_(bias("b_O"))
    return mha.eval()


def causal_block_mask(n: int) -> Tensor:
    return ~torch.ones(n, n, dtype=torch.bool).tril()  # nn.MultiheadAttention: True = blocked


def self_attend(mha: nn.MultiheadAttention, x: Tensor, causal: bool = True) -> Tensor:
    mask = causal_block_mask(x.shape[1]) if causal else None
    return mha(x, x, x, attn_mask=mask, need_weights=False)[0]


def block_oracle(block: Any, x: Tensor, attn_only: bool, variant: str = "pre_ln") -> Tensor:
    """The block built from torch modules with the block's weights.

    variant "pre_ln" is the right answer; the others are common mistakes, computed only to
    name them in the hint.
    """

    def ln(m: Any, h: Tensor) -> Tensor:
        return F.layer_norm(h, (h.shape[-1],), m.w, m.b, block.cfg.layer_norm_eps)

    mha = mha_oracle(block.attn)

    def attn(h: Tensor) -> Tensor:
        return self_attend(mha, h)

    def mlp(h: Tensor) -> Tensor:
        m = block.mlp
        return F.gelu(h @ m.W_in + m.b_in, approximate="tanh") @ m.W_out + m.b_out

    if variant == "post_ln":
        mid = ln(block.ln1, x + attn(x))
        return mid if attn_only else ln(block.ln2, mid + mlp(mid))
    if variant == "in_place":  # the residual stream itself normalized before the attention
        normed = ln(block.ln1, x)
        mid = normed + attn(normed)
        return mid if attn_only else mid + mlp(ln(block.ln2, mid))
    attn_out = attn(ln(block.ln1, x))
    mid = attn_out if variant in ("no_residual", "no_attn_residual") else x + attn_out
    if attn_only:
        return mid
    mlp_in = {"mlp_reads_ln1": ln(block.ln1, mid), "mlp_reads_resid_pre": ln(block.ln2, x)}
    mlp_out = mlp(mlp_in.get(variant, ln(block.ln2, mid)))
    return mlp_out if variant in ("no_residual", "no_mlp_residual") else mid + mlp_out


def gpt2_forward(
    model: nn.Module,
    tokens: Tensor,
    positions: Tensor | None = None,
    mask: Tensor | None = None,
    final_ln: bool = True,
    pos_embed: bool = True,
) -> Tensor:
    """GPT-2's forward in float64, written out from the model's parameters by name.

    An oracle independent of the chapter's code (the same maths as HF GPT2LMHeadModel).
    `positions` (default 0..pos-1) picks the W_pos rows and `mask` (default causal) which
    keys each position sees, so cached runs and their mistakes can be computed too;
    final_ln=False and pos_embed=False compute two known mistakes.
    """
    cfg: TransformerConfig = model.cfg  # type: ignore[assignment]
    p = {name: t.detach().double() for name, t in model.named_parameters()}
    n = tokens.shape[1]
    positions = torch.arange(n) if positions is None else positions
    mask = torch.ones(n, n, dtype=torch.bool).tril() if mask is None else mask

    def ln(h: Tensor, name: str) -> Tensor:
        mean = h.mean(-1, keepdim=True)
        var = ((h - mean) ** 2).mean(-1, keepdim=True)
        return (h - mean) / torch.sqrt(var + cfg.layer_norm_eps) * p[f"{name}.w"] + p[f"{name}.b"]

    if cfg.pos_embed == "learned":
        W_pos = p["pos_embed.W_pos"]
    else:  # Vaswani et al.'s closed form, computed here rather than read from the model
        W_pos = sinusoids(cfg.n_ctx, cfg.d_model)
    resid = p["embed.W_E"][tokens] + (W_pos[positions] if pos_embed else 0)
    for i in range(cfg.n_layers):
        a = f"blocks.{i}.attn."
        h = ln(resid, f"blocks.{i}.ln1")
        q, k, v = (
            torch.einsum("bpd,hde->bhpe", h, p[a + W]) + p[a + b][:, None]
            for W, b in (("W_Q", "b_Q"), ("W_K", "b_K"), ("W_V", "b_V"))
        )
        scores = (q @ k.transpose(-1, -2) / math.sqrt(cfg.d_head)).masked_fill(~mask, -math.inf)
        z = scores.softmax(-1) @ v
        resid = resid + torch.einsum("bhpe,hed->bpd", z, p[a + "W_O"]) + p[a + "b_O"]
        if cfg.attn_only:
            continue
        m = f"blocks.{i}.mlp."
        hidden = ln(resid, f"blocks.{i}.ln2") @ p[m + "W_in"] + p[m + "b_in"]
        if cfg.act_fn == "gelu_new":
            c = math.sqrt(2 / math.pi)
            post = 0.5 * hidden * (1 + torch.tanh(c * (hidden + 0.044715 * hidden**3)))
        elif cfg.act_fn == "gelu":
            post = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
        else:
            post = hidden.clamp(min=0)
        resid = resid + post @ p[m + "W_out"] + p[m + "b_out"]
    W_U = p["embed.W_E"].T if cfg.tie_embeddings else p["unembed.W_U"]
    return (ln(resid, "ln_final") if final_ln else resid) @ W_U


# ---------------------------------------------------------------------------- check inputs


CFG = TransformerConfig(d_vocab=29, n_ctx=10, d_model=16, n_layers=2, n_heads=4, d_mlp=40)
"""The small model shape the checks build the learner's modules with."""


def distinct(mistakes: dict[str, Tensor], expected: Tensor) -> dict[str, Tensor]:
    """The mistakes whose answer differs from the right one on this input (the others would
    be told to right code)."""
    expected = expected.detach().double()
    return {
        hint: wrong
        for hint, wrong in mistakes.items()
        if not torch.allclose(wrong.detach().double(), expected, atol=1e-3)
    }


def gen(seed: int) -> torch.Generator:
    """A fresh generator: each check's inputs are fixed by its own seed."""
    return torch.Generator().manual_seed(seed)


def randomize(module: nn.Module, seed: int, scale: float = 0.3) -> Any:
    """Random values for every parameter (default init has zero biases, which hide bugs)."""
    g = gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g))
    return module.eval()
