"""Chapter 1's configs: the model's shape, the training settings both experiments share,
each experiment's own fields, and their presets.

Ref: TransformerLens `HookedTransformerConfig` (names); nanoGPT `GPTConfig` (scope).
"""

from dataclasses import dataclass
from typing import Literal

from dlcurriculum.core.config import RunConfig, check, one_of, require


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


@dataclass(frozen=True)
class LMTrainConfig(RunConfig):
    """Model shape and optimization settings shared by the chapter's experiments."""

    d_model: int = 64
    """Width of the residual stream."""
    n_layers: int = 2
    """Number of transformer blocks."""
    n_heads: int = 4
    """Attention heads per block."""
    d_mlp: int = 256
    """Hidden width of each MLP."""
    attn_only: bool = False
    """Blocks without MLPs."""
    pos_embed: Literal["learned", "sinusoidal"] = "learned"
    """Learned or sinusoidal positional embeddings."""
    tie_embeddings: bool = False
    """Unembed with W_E transposed."""
    dropout: float = 0.0
    """Dropout on embeddings and sub-block outputs."""
    init_range: float = 0.02
    """Std of the initial weights (GPT-2's 0.02; larger shortens early plateaus)."""
    fast_path: bool = False
    """Fused kernels (SDPA, F.layer_norm): faster, same maths; always off with --impl."""
    steps: int = 1000
    """Optimizer steps."""
    batch_size: int = 64
    """Sequences per step."""
    lr: float = 1e-3
    """Peak learning rate (AdamW)."""
    min_lr: float = 1e-4
    """Learning rate at the end of the cosine decay."""
    warmup_steps: int = 100
    """Steps of linear warmup."""
    weight_decay: float = 0.01
    """AdamW weight decay on weight matrices."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this."""
    eval_every: int = 100
    """Steps between evaluations (and checkpoints)."""

    def __post_init__(self) -> None:
        check(self, "d_model", "n_layers", "n_heads", "d_mlp", "steps", "batch_size", ge=1)
        check(self, "eval_every", ge=1)
        check(self, "warmup_steps", "weight_decay", ge=0)
        check(self, "dropout", ge=0, lt=1)
        check(self, "init_range", "lr", "min_lr", "max_grad_norm", gt=0)
        one_of(self, "pos_embed", ("learned", "sinusoidal"))
        require(
            self.warmup_steps < self.steps,
            f"need warmup_steps < steps: got {self.warmup_steps} >= {self.steps}; "
            "lower warmup_steps",
        )
        require(
            self.min_lr <= self.lr,
            f"need min_lr <= lr (the cosine decays from lr to min_lr): got {self.min_lr} > "
            f"{self.lr}; lower min_lr",
        )
        self.model_config(2, 2)  # the model's own checks (e.g. d_model divisible by n_heads)

    def model_config(self, d_vocab: int, n_ctx: int) -> TransformerConfig:
        """The TransformerConfig these fields describe."""
        return TransformerConfig(
            d_vocab=d_vocab,
            n_ctx=n_ctx,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_mlp=self.d_mlp,
            pos_embed=self.pos_embed,
            attn_only=self.attn_only,
            tie_embeddings=self.tie_embeddings,
            dropout=self.dropout,
            init_range=self.init_range,
            fast_path=self.fast_path and not self.impl,
        )


@dataclass(frozen=True)
class ReverseConfig(LMTrainConfig):
    """Train on [BOS, x_1..x_L, x_L..x_1] and measure accuracy at every position."""

    seq_len: int = 16
    """L, the length of the random half."""
    n_symbols: int = 32
    """Alphabet of the random tokens; chance accuracy is 1 / n_symbols."""
    eval_seqs: int = 2000
    """Fresh sequences per evaluation."""
    target_accuracy: float = 0.99
    """The bar for the reversed (second) half."""
    chance_tolerance: float = 0.03
    """How far from 1 / n_symbols the first half may be (it cannot be learned)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "seq_len", "eval_seqs", ge=1)
        check(self, "n_symbols", ge=2)
        check(self, "target_accuracy", "chance_tolerance", gt=0, le=1)


@dataclass(frozen=True)
class ShakespeareConfig(LMTrainConfig):
    """Train a word-level language model on Shakespeare's complete works."""

    seq_len: int = 128
    """Tokens per training sequence (= the model's n_ctx)."""
    min_count: int = 10
    """Pieces seen fewer times in the training text become <unk>."""
    max_vocab: int = 0
    """Cap on the vocabulary size (0 = no cap)."""
    max_chars: int = 0
    """Use only the first this many characters of the corpus (0 = all; for smoke tests)."""
    n_regions: int = 20
    """Contiguous regions the text is cut into for the train/validation split."""
    val_fraction: float = 0.1
    """Share of the regions held out for validation."""
    eval_seqs: int = 64
    """Validation sequences per evaluation during training (the final one uses all)."""
    eval_batch_size: int = 64
    """Sequences per forward pass when evaluating."""
    baseline_margin: float = 1.0
    """How many nats below the unigram baseline the validation loss must be."""
    prompt: str = "ROMEO.\n"
    """Prompt of the samples in the report."""
    sample_tokens: int = 80
    """Pieces per sample."""
    temperatures: tuple[float, ...] = (0.5, 0.8, 1.0)
    """One sample per temperature."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "seq_len", "n_regions", ge=2)
        check(self, "min_count", "eval_seqs", "eval_batch_size", "sample_tokens", ge=1)
        check(self, "max_vocab", "max_chars", "baseline_margin", ge=0)
        check(self, "val_fraction", gt=0, lt=1)
        check(self, "temperatures", ge=0)  # 0 = greedy
        require(
            self.max_vocab != 1,
            "max_vocab must be 0 (no cap) or at least 2 (<unk> and one word), got 1",
        )
        n_val = max(1, round(self.n_regions * self.val_fraction))
        require(
            n_val < self.n_regions,
            f"val_fraction={self.val_fraction} of n_regions={self.n_regions} holds out "
            f"{n_val} regions and leaves none for training: lower val_fraction",
        )
        require(bool(self.prompt), "prompt must not be empty: give a word, e.g. prompt=ROMEO.")


PRESETS: dict[str, dict[str, LMTrainConfig]] = {
    "reverse": {
        "smoke": ReverseConfig(
            seq_len=4,
            n_symbols=8,
            d_model=32,
            n_layers=1,
            n_heads=2,
            d_mlp=64,
            attn_only=True,
            steps=300,
            lr=3e-3,
            min_lr=3e-4,
            warmup_steps=30,
            weight_decay=0.0,
            eval_every=100,
            eval_seqs=1000,
        ),
        "quick": ReverseConfig(steps=800, eval_every=100),
        "full": ReverseConfig(
            seq_len=32,
            n_symbols=64,
            d_model=128,
            n_layers=2,
            d_mlp=512,
            steps=3000,
            batch_size=128,
            eval_every=250,
            eval_seqs=5000,
            fast_path=True,
        ),
    },
    "shakespeare": {
        "smoke": ShakespeareConfig(
            max_chars=300_000,
            seq_len=32,
            min_count=3,
            d_model=32,
            n_layers=1,
            n_heads=2,
            d_mlp=64,
            tie_embeddings=True,
            steps=150,
            batch_size=16,
            lr=3e-3,
            min_lr=3e-4,
            warmup_steps=5,
            eval_every=50,
            eval_seqs=16,
            sample_tokens=12,
        ),
        "quick": ShakespeareConfig(
            d_model=160,
            n_layers=4,
            n_heads=4,
            d_mlp=640,
            tie_embeddings=True,
            fast_path=True,
            steps=840,
            batch_size=32,
            lr=2e-3,
            min_lr=2e-4,
            warmup_steps=40,
            weight_decay=0.1,
            eval_every=50,
        ),
        # Data-limited, not compute-limited: 1.7M training tokens, so ~24 epochs with dropout;
        # minutes on one modern GPU. Bigger or longer mostly overfits. Not yet measured on a GPU.
        "full": ShakespeareConfig(
            seq_len=256,
            min_count=3,
            d_model=384,
            n_layers=6,
            n_heads=6,
            d_mlp=1536,
            tie_embeddings=True,
            dropout=0.2,
            fast_path=True,
            steps=2500,
            batch_size=64,
            lr=1e-3,
            min_lr=1e-4,
            warmup_steps=200,
            weight_decay=0.1,
            eval_every=100,
            eval_seqs=256,
        ),
    },
}
"""Each experiment's presets (smoke: seconds on CPU; quick: minutes; full: the
curriculum's scale), by experiment name."""
