"""The decoder-only transformer: embeddings, LayerNorm, MLP, pre-LN blocks and the model.

Ref: Radford et al. 2019 (GPT-2), section 2.3; Vaswani et al. 2017, section 3.
Parameter names follow TransformerLens (W_E, W_pos, W_in, b_in, W_out, b_out, W_U), so
chapter 8 and GPT-2 weights map onto them by name.
"""

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.attention import Attention, KVCache, LayerKV
from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.fast import affine, fast_layer_norm
from dlcurriculum.ch01_transformers.hook_point import HookPoint
from dlcurriculum.core.errors import DlcError


def sinusoidal_pos_embed(n_ctx: int, d_model: int) -> Float[Tensor, "n_ctx d_model"]:
    """The fixed positional encoding of Vaswani et al.: sines and cosines of many wavelengths.

    Ref: Vaswani et al. 2017, section 3.5.

    Entry (pos, 2i) is sin(pos / 10000^(2i / d_model)) and entry (pos, 2i + 1) is the cosine
    of the same angle. Each pair of dims rotates at its own frequency as pos grows, so the
    encoding of pos + k is a fixed linear function (a rotation) of the encoding of pos.

    Args:
        n_ctx: number of positions.
        d_model: width (odd widths end with one lone sine).

    Returns:
        float32 tensor; row `pos` is the encoding of position `pos`.
    """
    # BEGIN SOLUTION
    # HINT: compute the angles in float64, then cast: large pos * freq loses digits in float32.
    pos = torch.arange(n_ctx, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angles = pos * freq  # [n_ctx, ceil(d_model / 2)]
    pe = torch.zeros(n_ctx, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe.float()
    # END SOLUTION


class Embed(nn.Module):
    """Token embedding: row `token` of W_E [d_vocab, d_model]."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(cfg.d_vocab, cfg.d_model) * cfg.init_range)

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        """Look up each token's row of W_E."""
        return F.embedding(tokens, self.W_E)


class PosEmbed(nn.Module):
    """Positional embedding W_pos [n_ctx, d_model]: learned, or fixed sinusoids (a buffer)."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.W_pos: Tensor
        if cfg.pos_embed == "learned":
            self.W_pos = nn.Parameter(torch.randn(cfg.n_ctx, cfg.d_model) * cfg.init_range)
        else:  # fixed, so not saved: it is rebuilt from the config
            self.register_buffer(
                "W_pos", sinusoidal_pos_embed(cfg.n_ctx, cfg.d_model), persistent=False
            )

    def forward(self, n_pos: int, offset: int = 0) -> Float[Tensor, "pos d_model"]:
        """Rows offset .. offset + n_pos - 1 (offset > 0 when a KV cache holds the past)."""
        return self.W_pos[offset : offset + n_pos]


class LayerNorm(nn.Module):
    """LayerNorm over d_model with gain w and bias b (TransformerLens names).

    Ref: Ba et al. 2016, "Layer Normalization", eq. 4.
    """

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.b = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        """Normalize each position to mean 0, variance 1 over d_model, then scale and shift.

        Uses the biased variance (divide by d_model) and adds `cfg.layer_norm_eps` inside the
        square root, as `nn.LayerNorm` does.
        """
        if self.cfg.fast_path:
            return fast_layer_norm(x, self.w, self.b, self.cfg.layer_norm_eps)
        # BEGIN SOLUTION
        # HINT: torch.var defaults to the unbiased estimate (divide by n - 1): pass correction=0.
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, correction=0)
        return (x - mean) / torch.sqrt(var + self.cfg.layer_norm_eps) * self.w + self.b
        # END SOLUTION


class MLP(nn.Module):
    """Position-wise MLP: W_out act(W_in x + b_in) + b_out.

    Ref: Vaswani et al. 2017, eq. 2. W_in [d_model, d_mlp], W_out [d_mlp, d_model].
    """

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.W_in = nn.Parameter(torch.randn(cfg.d_model, cfg.d_mlp) * cfg.init_range)
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(
            torch.randn(cfg.d_mlp, cfg.d_model) * cfg.init_range / math.sqrt(2 * cfg.n_layers)
        )
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_post = HookPoint()  # [batch, pos, d_mlp], after the nonlinearity

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        """Apply the same two-layer network to every position independently."""
        hidden = affine(x, self.W_in, self.b_in)  # [batch, pos, d_mlp]
        if self.cfg.act_fn == "relu":
            post = F.relu(hidden)
        else:
            post = F.gelu(hidden, approximate="tanh" if self.cfg.act_fn == "gelu_new" else "none")
        return affine(self.hook_post(post), self.W_out, self.b_out)


class TransformerBlock(nn.Module):
    """A pre-LayerNorm residual block: x + attn(ln1(x)), then + mlp(ln2(.)).

    Ref: Radford et al. 2019, section 2.3 (LayerNorm moved to each sub-block's input).
    """

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.ln1 = LayerNorm(cfg)
        self.attn = Attention(cfg)
        self.ln2: LayerNorm | None = None if cfg.attn_only else LayerNorm(cfg)
        self.mlp: MLP | None = None if cfg.attn_only else MLP(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.hook_resid_pre = HookPoint()
        self.hook_attn_out = HookPoint()
        self.hook_resid_mid = HookPoint()
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(
        self, resid_pre: Float[Tensor, "batch pos d_model"], cache: LayerKV | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        """Read from the residual stream through LayerNorm, add each sub-block's output back.

        Args:
            resid_pre: the residual stream entering the block.
            cache: this layer's KV cache, passed to the attention.

        Returns:
            resid_post. With `cfg.attn_only` there is no MLP (and no ln2). Dropout (identity
            in eval mode) applies to each sub-block's output before it is added.
        """
        # BEGIN SOLUTION
        # HINT: the residual stream itself is never normalized, only the copies the
        # HINT: sub-blocks read; the sub-block outputs are *added* to it.
        resid_pre = self.hook_resid_pre(resid_pre)
        attn_out = self.hook_attn_out(self.dropout(self.attn(self.ln1(resid_pre), cache)))
        resid_mid = self.hook_resid_mid(resid_pre + attn_out)
        if self.mlp is None or self.ln2 is None:
            return self.hook_resid_post(resid_mid)
        mlp_out = self.hook_mlp_out(self.dropout(self.mlp(self.ln2(resid_mid))))
        return self.hook_resid_post(resid_mid + mlp_out)
        # END SOLUTION


class Unembed(nn.Module):
    """Untied unembedding W_U [d_model, d_vocab] (GPT-2 has no unembedding bias)."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.W_U = nn.Parameter(torch.randn(cfg.d_model, cfg.d_vocab) * cfg.init_range)


class Transformer(nn.Module):
    """Decoder-only transformer: embed, n_layers blocks, final LayerNorm, unembed.

    Ref: Radford et al. 2019 (GPT-2). With `cfg.tie_embeddings` the unembedding is W_E^T
    (no W_U parameter); otherwise `unembed.W_U` [d_model, d_vocab].
    """

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.pos_embed = PosEmbed(cfg)
        self.blocks = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.ln_final = LayerNorm(cfg)
        self.unembed: Unembed | None = None if cfg.tie_embeddings else Unembed(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.hook_embed = HookPoint()
        self.hook_pos_embed = HookPoint()

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        """The unembedding matrix in use (W_E^T when tied)."""
        return self.embed.W_E.T if self.unembed is None else self.unembed.W_U

    def forward(
        self, tokens: Int[Tensor, "batch pos"], cache: KVCache | None = None
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Next-token logits at every position.

        Args:
            tokens: token ids in [0, d_vocab).
            cache: keys and values of earlier positions; when given, `tokens` are the next
                positions after those cached, and the cache is extended with them.

        Returns:
            logits[b, p] scores the token at position p + 1 (from tokens up to p only).

        Raises:
            DlcError: the sequence (cached positions included) is longer than n_ctx.
        """
        offset = 0 if cache is None else cache.n_pos
        if offset + tokens.shape[1] > self.cfg.n_ctx:
            raise DlcError(
                f"sequence of {offset + tokens.shape[1]} positions is longer than the model's "
                f"context n_ctx={self.cfg.n_ctx}: crop it to the last {self.cfg.n_ctx} tokens"
            )
        # BEGIN SOLUTION
        # HINT: the positional embedding of the first new token is row `offset` of W_pos.
        embed = self.hook_embed(self.embed(tokens))
        pos_embed = self.hook_pos_embed(self.pos_embed(tokens.shape[1], offset))
        resid = self.dropout(embed + pos_embed)
        for i, block in enumerate(self.blocks):
            resid = block(resid, None if cache is None else cache.layers[i])
        return self.ln_final(resid) @ self.W_U
        # END SOLUTION


def config_of(model: nn.Module) -> TransformerConfig:
    """The TransformerConfig of a Transformer: ours or a learner's (another class, same API)."""
    cfg = model.cfg
    assert isinstance(cfg, TransformerConfig), f"{type(model).__name__} has no TransformerConfig"
    return cfg


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (tied matrices counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
