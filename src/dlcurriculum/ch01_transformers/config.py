"""The shape of a decoder-only transformer: one frozen dataclass.

Ref: TransformerLens `HookedTransformerConfig` (names); nanoGPT `GPTConfig` (scope).
"""

from dataclasses import dataclass
from typing import Literal

from dlcurriculum.core.config import check, one_of, require


@dataclass(frozen=True)
class TransformerConfig:
    """Dimensions and switches of the model; dims use TransformerLens names."""

    d_vocab: int = 1000
    """Number of token ids the model reads and predicts."""
    n_ctx: int = 128
    """Longest sequence (positions) the model accepts."""
    d_model: int = 128
    """Width of the residual stream."""
    n_layers: int = 2
    """Number of residual blocks."""
    n_heads: int = 4
    """Attention heads per layer; d_head = d_model / n_heads."""
    d_mlp: int = 512
    """Hidden width of each MLP (ignored when attn_only)."""
    pos_embed: Literal["learned", "sinusoidal"] = "learned"
    """Learned W_pos (GPT-2) or the fixed sinusoids of Vaswani et al."""
    attn_only: bool = False
    """Blocks without MLPs (chapter 8 studies a 2-layer attention-only model)."""
    tie_embeddings: bool = False
    """Unembed with W_E transposed (GPT-2) instead of a separate W_U."""
    act_fn: Literal["gelu_new", "gelu", "relu"] = "gelu_new"
    """MLP nonlinearity; gelu_new is GPT-2's tanh approximation."""
    layer_norm_eps: float = 1e-5
    """Added to the variance in LayerNorm (GPT-2 uses 1e-5)."""
    dropout: float = 0.0
    """Dropout on the embeddings and on each attention / MLP output (training only)."""
    init_range: float = 0.02
    """Std of the normal init of weights (residual outputs are scaled by 1/sqrt(2 n_layers))."""
    fast_path: bool = False
    """Use fused PyTorch kernels (scaled_dot_product_attention, F.layer_norm); same maths,
    but attention patterns are not computed, so hook_pattern sees nothing."""

    def __post_init__(self) -> None:
        check(self, "d_vocab", "n_ctx", "d_model", "n_layers", "n_heads", "d_mlp", ge=1)
        one_of(self, "pos_embed", ("learned", "sinusoidal"))
        one_of(self, "act_fn", ("gelu_new", "gelu", "relu"))
        check(self, "dropout", ge=0, lt=1)
        check(self, "layer_norm_eps", "init_range", gt=0)
        require(
            self.d_model % self.n_heads == 0,
            f"d_model={self.d_model} must be divisible by n_heads={self.n_heads} "
            "(d_head = d_model / n_heads): change one of them",
        )

    @property
    def d_head(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_heads
