"""Chapter 8's run configurations and their presets."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dlcurriculum.ch00_mnist.config import MNISTConfig
from dlcurriculum.ch01_transformers.config import LMTrainConfig
from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

MNIST_BATCH = MNISTConfig.batch_size  # the CNN trained here keeps chapter 0's batch size
N_REGIONS = 20  # prepare_data's default: the corpus is cut into this many regions


@dataclass(frozen=True)
class InterpMNISTConfig(RunConfig):
    """Explain the prerequisite's MNIST CNN."""

    checkpoint: str = ""
    """A `dlc run mnist` run folder or its model.pt ('' = train a CNN first, inside this run)."""
    width: int = 32
    """Width of the CNN trained here (ignored with a checkpoint, whose width is read)."""
    mnist_epochs: int = 2
    """Epochs of the CNN trained here."""
    train_size: int = 60_000
    """Training images for the CNN trained here."""
    test_size: int = 10_000
    """Test images (accuracy and the case study's ablations)."""
    n_explain: int = 64
    """Test images explained by every attribution method."""
    ig_steps: int = 64
    """Points of the integrated-gradients path (midpoint rule)."""
    occlusion_window: int = 4
    """Side of the occluding square, in pixels."""
    occlusion_stride: int = 2
    """Step between occlusion windows."""
    curve_points: int = 29
    """Fractions of pixels at which deletion / insertion curves are measured."""
    n_randomisation: int = 16
    """Images explained in the model-randomisation check."""
    vis_steps: int = 128
    """Gradient-ascent steps of feature visualisation."""
    vis_channels: int = 16
    """Last-layer channels shown by feature visualisation."""
    case_digit: int = 7
    """Digit whose logit the case study dissects."""
    case_top_k: int = 3
    """Channels the case study keeps and ablates."""
    max_completeness_error: float = 0.01
    """Success bar: integrated gradients sum to f(x) - f(0) within this relative error."""
    max_randomised_corr: float = 0.5
    """Success bar: IG's rank correlation with a fully randomised model's is at most this."""
    min_auc_gap: float = 0.1
    """Success bar: IG's deletion AUC is at least this below a random order's, and its
    insertion AUC this far above (AUCs of the mean true-class probability, in [0, 1]). A bar,
    not any gap, so that "faster than random" means clearly faster. Measured on a width-16
    CNN: per-image AUCs of a random order have an SD of 0.15, so over 64 images the mean
    moves by ~0.02 (five random orders: 0.415-0.438), and IG's paired gap has a standard
    error of 0.013-0.022: 0.1 is 4.5 to 8 of them. In the quick run IG's gaps are 0.39 and 0.40,
    and plain saliency, the weakest method, still clears it (0.22, 0.23)."""

    def __post_init__(self) -> None:
        check(self, "width", "mnist_epochs", "n_explain", "ig_steps", "n_randomisation", ge=1)
        check(self, "occlusion_stride", "vis_steps", "vis_channels", "case_top_k", ge=1)
        check(self, "train_size", ge=MNIST_BATCH, le=MNIST_TRAIN)  # a batch of the CNN trained here
        # every digit's mean test image is drawn (the first 62 test images hold all ten)
        check(self, "test_size", ge=100, le=MNIST_TEST)
        check(self, "occlusion_window", ge=1, le=28)  # pixels of an MNIST side
        check(self, "curve_points", ge=2)  # the curves run from 0 to all pixels
        check(self, "case_digit", ge=0, le=9)
        check(self, "max_completeness_error", "max_randomised_corr", "min_auc_gap", ge=0, le=1)
        require(
            self.n_explain <= self.test_size,
            f"n_explain ({self.n_explain}) must be at most test_size ({self.test_size}): the "
            "explained images are the first test images",
        )
        require(
            self.n_randomisation <= self.n_explain,
            f"n_randomisation ({self.n_randomisation}) must be at most n_explain "
            f"({self.n_explain}): it re-explains the first of them",
        )
        require(
            bool(self.checkpoint) or self.case_top_k <= 4 * self.width,
            f"case_top_k ({self.case_top_k}) must be at most the last conv layer's 4 * width = "
            f"{4 * self.width} channels: lower case_top_k or raise width",
        )


_INTERP_MNIST = {
    "smoke": InterpMNISTConfig(
        width=8,
        mnist_epochs=1,
        train_size=4096,
        test_size=1000,
        n_explain=8,
        ig_steps=32,
        curve_points=9,
        n_randomisation=4,
        vis_steps=8,
        vis_channels=4,
        case_top_k=2,
    ),
    "quick": InterpMNISTConfig(),
    "full": InterpMNISTConfig(n_explain=256, ig_steps=128, n_randomisation=64, vis_steps=512),
}


@dataclass(frozen=True)
class InductionConfig(LMTrainConfig):
    """Train a 2-layer attention-only model on Shakespeare and look for induction heads."""

    level: Literal["char", "word"] = "char"
    """Tokens are characters (84, or 63 at min_count 500: the copying circuit forms within a
    CPU budget) or chapter 1's words (a vocabulary of thousands needs far more training to
    leave the plateau)."""
    seq_len: int = 512
    """Tokens per training sequence (= n_ctx). The ICL score is the loss at token 500 minus
    the loss at token 50; a shorter context reads its last token instead of token 500."""
    min_count: int = 1
    """Pieces seen fewer times become <unk>."""
    max_vocab: int = 0
    """Vocabulary cap (0 = none; word level: a cap keeps the unembedding cheap on a CPU)."""
    max_chars: int = 0
    """Use only the first this many characters of the corpus (0 = all; for smoke tests)."""
    repeat_prob: float = 0.25
    """Share of training sequences made of one Shakespeare stretch repeated (random period):
    copying pays there, so induction heads form within a CPU budget (0 = plain text)."""
    half_len: int = 50
    """Length T of the random sequence repeated twice when measuring induction."""
    n_probe: int = 32
    """Repeated random sequences used for scores and ablation."""
    eval_seqs: int = 512
    """Validation sequences for the loss and the ICL score (one position's loss is noisy:
    over 32 sequences the ICL score wanders by about 0.5 nats)."""
    induction_threshold: float = 0.5
    """A head scoring at least this is called an induction head (and is ablated)."""
    min_ablation_rise: float = 1.0
    """Success bar: ablating the induction heads raises the repeated-half loss this much (nats)."""
    min_composition_ratio: float = 1.5
    """Success bar: the top K-composition pair (which must be the layer-0 previous-token head
    and an induction head) scores at least this multiple of random matrices' mean score
    (1 / sqrt(d_model) = 0.088 at d_model 128; their SD is 0.002)."""
    min_patch_recovery: float = 0.8
    """Success bar: patching the induction heads' clean outputs into the corrupted run
    recovers at least this share of the logit difference (1 = the clean run)."""
    min_attention_restored: float = 0.5
    """Success bar: patching the previous-token head's clean output into the corrupted first
    copy restores at least this share of the induction heads' attention to their target."""

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self, "level", ("char", "word"))
        # the ICL score reads the loss at token 50 (icl_score), so sequences must reach it
        check(self, "seq_len", ge=51)
        check(self, "min_count", "n_probe", "eval_seqs", ge=1)
        check(self, "max_vocab", "max_chars", ge=0)  # 0 = no cap / all
        check(self, "half_len", ge=2)  # each half then has a token to predict
        check(self, "repeat_prob", "induction_threshold", ge=0, le=1)
        check(self, "min_ablation_rise", "min_composition_ratio", ge=0)
        check(self, "min_patch_recovery", "min_attention_restored", ge=0, le=1)
        require(
            2 * self.half_len <= self.seq_len,
            f"the probe of 2 * half_len = {2 * self.half_len} tokens must fit in seq_len "
            f"({self.seq_len}): lower half_len or raise seq_len",
        )
        require(
            self.max_vocab != 1,
            "max_vocab must be 0 (no cap) or at least 2 (<unk> and one piece), got 1",
        )
        need = 2 * N_REGIONS * self.seq_len  # prepare_data's least corpus
        require(
            self.max_chars == 0 or self.max_chars >= need,
            f"max_chars ({self.max_chars}) must be 0 (all) or at least {need} characters: "
            f"the corpus is cut into {N_REGIONS} regions of two seq_len ({self.seq_len}) "
            "sequences or more; raise max_chars or lower seq_len",
        )


_INDUCTION_HEADS = {
    "smoke": InductionConfig(
        max_chars=200_000,
        seq_len=64,
        min_count=1,
        d_model=32,
        n_heads=2,
        attn_only=True,
        pos_embed="sinusoidal",
        steps=40,
        batch_size=8,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_every=20,
        half_len=10,
        n_probe=8,
        eval_seqs=4,
    ),
    # Measured on one CPU core: the previous-token head appears near step 1000, the induction
    # head near 1500, and its best score ends at 0.62 (seeds 0 and 1). Sinusoidal
    # positions and a 0.1 init shorten the plateau before the previous-token head (learned
    # positions at GPT-2's 0.02 init had only a weak previous-token head, 0.15, at step 3000).
    "quick": InductionConfig(
        seq_len=256,
        min_count=500,  # 20 rare symbols (digits, brackets) -> <unk>: see the chapter page
        repeat_prob=0.8,
        d_model=128,
        n_heads=4,
        attn_only=True,
        pos_embed="sinusoidal",
        init_range=0.1,
        fast_path=True,
        steps=4000,
        batch_size=8,
        lr=2e-3,
        min_lr=2e-4,
        warmup_steps=50,
        weight_decay=0.05,
        eval_every=250,
    ),
    "full": InductionConfig(
        seq_len=512,
        min_count=500,
        repeat_prob=0.5,
        d_model=256,
        n_heads=8,
        attn_only=True,
        pos_embed="sinusoidal",
        init_range=0.1,
        fast_path=True,
        steps=8000,
        batch_size=32,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=200,
        weight_decay=0.05,
        eval_every=500,
        n_probe=128,
    ),
}


@dataclass(frozen=True)
class InductionLMConfig(RunConfig):
    """Score every head of a pretrained causal LM on repeated random tokens."""

    model: str = "smollm2"
    """'smollm2' (offline), a HuggingFace hub id such as 'gpt2' (online), or tiny-llama /
    tiny-gpt2 (random weights, for tests)."""
    half_len: int = 50
    """Length T of the random token sequence that is repeated."""
    n_probe: int = 8
    """Repeated sequences scored."""
    top_k: int = 10
    """Heads listed in the report."""
    min_top_score: float = 0.5
    """Success bar: the best head's induction score."""
    min_copy_gain: float = 1.0
    """Success bar: the second copy's loss is at least this many nats below the first's. A
    model that copies cuts it by several nats (SmolLM2: 14.2 -> 3.3); any drop would pass
    a model that only learns the random tokens' unigram statistics within the sequence."""

    patch_heads: int = 10
    """Top induction heads patched from the clean run into the corrupted one, cumulatively
    (0 = no patching; each patch is one forward pass, ~3 s for SmolLM2 on one core)."""
    min_patch_recovery: float = 0.5
    """Success bar: patching the top `patch_heads` induction heads recovers this share of the
    logit difference. Less than in our two-layer model, where 3 heads give all of it: in
    SmolLM2 many heads share the work (the top 5 give 0.37, the top 10 0.81)."""

    def __post_init__(self) -> None:
        check(self, "half_len", ge=2)  # each half then has a token to predict
        check(self, "n_probe", "top_k", ge=1)
        check(self, "patch_heads", ge=0)
        check(self, "min_top_score", "min_patch_recovery", ge=0, le=1)
        check(self, "min_copy_gain", ge=0)


_INDUCTION_LM = {
    "smoke": InductionLMConfig(model="tiny-llama", half_len=8, n_probe=2, top_k=3, patch_heads=3),
    "quick": InductionLMConfig(),
    "full": InductionLMConfig(half_len=100, n_probe=32, top_k=20),
}


PRESETS: dict[str, Mapping[str, RunConfig]] = {
    "interp-mnist": _INTERP_MNIST,
    "induction-heads": _INDUCTION_HEADS,
    "induction-lm": _INDUCTION_LM,
}
"""Every experiment's smoke, quick and full presets, by experiment name."""
