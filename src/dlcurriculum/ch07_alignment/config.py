"""Chapter 7's config: `dlc run rlhf`'s settings and their presets."""

from dataclasses import dataclass

from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.core.precision import DType


@dataclass(frozen=True)
class RLHFConfig(RunConfig):
    """RLHF of the chapter-1 Shakespeare model towards positive (or negative) sentiment."""

    policy_run: str = ""
    """Chapter-1 run folder (or model.pt) to start from; make one with
    `dlc run shakespeare --preset quick`."""
    labels: str = ""
    """A label database filled by `dlc label serve` to use instead of synthetic labels."""
    labeler: str = ""
    """Use only this labeler's labels from `labels` ('' = everyone's)."""
    n_label_samples: int = 20000
    """Unconditional samples drawn and labeled synthetically (ignored with `labels`)."""
    sample_tokens: int = 24
    """Pieces per sample and per PPO completion."""
    start_text: str = ".\n"
    """The piece every sample starts from."""
    neutral_threshold: float = 0.3
    """VADER compound scores within +-this are labeled neutral."""
    heldout_fraction: float = 0.2
    """Share of the labeled samples held out to test the reward model."""
    rm_base: str = "shakespeare"
    """What the reward model is made from: "shakespeare" (the curriculum's recipe: the
    chapter-1 model taught the label tokens <happy> and <sad>) or "minilm" (a two-way head on
    a frozen pretrained sentence encoder: what learns from a few hundred labels)."""
    rm_labels: int = 0
    """Labels the reward model trains on, corpus snippets included (0 = the whole training
    split): the first of the training split."""
    corpus_share: float = 0.0
    """Share of rm_labels that are corpus snippets of clear sentiment, labeled by VADER (with
    `labels`, ignored: the database's own snippets train, in the share it holds them)."""
    clear_threshold: float = 0.5
    """|VADER compound| from which a corpus snippet counts as clear."""
    rm_epochs: int = 3
    """Passes over the labeled samples."""
    rm_batch_size: int = 32
    """Samples per reward-model step."""
    rm_lr: float = 5e-4
    """Reward-model learning rate (AdamW)."""
    min_rm_accuracy: float = 0.8
    """Held-out accuracy (non-neutral labels) the reward model must reach; its 95% interval
    must also lie above the majority-class rate."""
    label_curve: tuple[int, ...] = ()
    """Label counts at which another reward model is trained, on the first labels of the
    training split, and tested on the same held-out labels: the label-count curve (() = skip;
    counts not below the training split's size are dropped)."""
    n_comparison_prompts: int = 12000
    """Corpus prompts continued twice each for the comparison reward model (0 = skip it)."""
    prompt_pieces: int = 8
    """Pieces cut from the start of a corpus line to make a prompt."""
    comparison_margin: float = 0.1
    """Pairs whose continuations' VADER compound scores differ by less than this are ties."""
    bt_epochs: int = 2
    """Passes over the comparison pairs."""
    bt_lr: float = 1e-3
    """Comparison reward-model learning rate (AdamW)."""
    min_bt_accuracy: float = 0.7
    """Held-out pair accuracy the comparison reward model must reach."""
    n_calibration: int = 2000
    """Completions of the original policy the reward constants are measured on."""
    batch_size: int = 512
    """Completions per PPO iteration."""
    update_epochs: int = 4
    """Passes over each iteration's batch."""
    num_minibatches: int = 8
    """Minibatches per pass."""
    learning_rate: float = 1e-5
    """Policy learning rate (Adam)."""
    clip_coef: float = 0.2
    """PPO ratio clip epsilon."""
    max_kl: float = 10.0
    """Stop when the mean per-completion KL from the original model reaches this (nats)."""
    max_kl_overshoot: float = 1.5
    """The KL at the stop may exceed max_kl by this factor: the KL is measured before each
    update and PPO stops at the first one at or past max_kl, one iteration's step beyond it."""
    min_reward_gain: float = 0.2
    """Nats the mean reward must rise from the first to the last PPO iterations (a fifth of
    the reward's spread over completions, about 0.9 nats; noise on a 3-iteration mean of 1024
    completions each is about 0.02)."""
    min_clipfrac: float = 0.01
    """Lower end of the healthy clip-fraction band (below it the policy barely moves)."""
    max_clipfrac: float = 0.2
    """Upper end of the healthy clip-fraction band (above it the steps are too big)."""
    min_clip_in_band: float = 0.5
    """Share of PPO updates whose clip fraction must lie in the healthy band."""
    min_sqrt_kl_r2: float = 0.9
    """R^2 the line fit of sqrt(KL) against iteration must reach ("roughly linear")."""
    max_iterations: int = 40
    """Stop after this many PPO iterations even if the KL is smaller."""
    kl_milestones: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
    """KLs (nats) at which the policy is saved and sampled."""
    eval_samples: int = 200
    """Samples per milestone that the judge rates."""
    shown_samples: int = 6
    """Samples per milestone printed in the report."""
    judge_lm: str = "smollm2"
    """Chat LM of the second judge: "smollm2" (offline), a hub id, "" (none) or "tiny" (a
    random tiny model, for tests)."""
    judge_lm_samples: int = 100
    """Samples per milestone the LM judge rates (the first of eval_samples)."""
    judge_lm_agreement: int = 200
    """Held-out labeled samples on which the LM judge's agreement with the labels is measured."""
    negative: bool = False
    """Train towards negative sentiment (the one-flag comparison)."""
    prompted: bool = False
    """The harder variant: PPO continues corpus prompts against the comparison reward model
    (instead of unconditional samples against the happy/sad one)."""
    ppo_prompts: int = 4096
    """Corpus prompts PPO draws from when `prompted` (the judges see other ones)."""
    time_budget_s: float = 0.0
    """Wall time the run should finish within (0 = none: the time criterion is N/A)."""
    aux_dtype: DType = "auto"
    """Number format of the frozen models around the policy: the sentence encoder of the
    reward model and the chat-model judge. auto is bfloat16 where the hardware multiplies
    it natively (half their time there), else float32. The policy always samples and trains
    in float32 (PPO's ratios compare its log-probabilities to the bit), and so does the
    comparison reward model (in bf16 its held-out accuracy fell to chance)."""

    def __post_init__(self) -> None:
        check(self, "sample_tokens", "rm_epochs", "rm_batch_size", "prompt_pieces", ge=1)
        check(self, "bt_epochs", "batch_size", "update_epochs", "num_minibatches", ge=1)
        check(self, "max_iterations", "eval_samples", "judge_lm_samples", ge=1)
        check(self, "judge_lm_agreement", "ppo_prompts", ge=1)
        check(self, "n_label_samples", "n_calibration", ge=2)  # a split / a std needs two
        check(self, "n_comparison_prompts", "shown_samples", ge=0)  # 0 = skip / show none
        if self.label_curve:  # () skips the curve
            check(self, "label_curve", ge=2)
        check(self, "rm_lr", "bt_lr", "learning_rate", "clip_coef", "max_kl", "kl_milestones", gt=0)
        check(self, "heldout_fraction", gt=0, lt=1)
        check(self, "rm_labels", ge=0)
        check(self, "corpus_share", ge=0, lt=1)  # some labels stay samples: like the test set
        check(self, "clear_threshold", gt=0, le=1)
        one_of(self, "rm_base", ("shakespeare", "minilm"))
        one_of(self, "aux_dtype", ("auto", "float32", "bfloat16"))
        check(self, "neutral_threshold", ge=0, lt=1)  # VADER's compound score is in [-1, 1]
        check(self, "comparison_margin", ge=0, lt=2)  # ... so two differ by less than 2
        check(self, "min_rm_accuracy", "min_bt_accuracy", "min_clip_in_band", ge=0, le=1)
        check(self, "min_clipfrac", "min_sqrt_kl_r2", ge=0, le=1)
        check(self, "max_clipfrac", gt=0, le=1)
        check(self, "max_kl_overshoot", ge=1)  # a factor on max_kl
        check(self, "min_reward_gain", "time_budget_s", ge=0)
        n_heldout = max(1, round(self.heldout_fraction * self.n_label_samples))
        require(
            bool(self.labels) or n_heldout < self.n_label_samples,
            f"heldout_fraction ({self.heldout_fraction}) of n_label_samples "
            f"({self.n_label_samples}) leaves no sample to train the reward model on: lower "
            "heldout_fraction or raise n_label_samples",
        )
        require(
            not self.prompted or self.n_comparison_prompts > 0,
            "prompted=true optimizes the comparison reward model: set n_comparison_prompts > 0",
        )
        require(
            self.batch_size % self.num_minibatches == 0,
            f"batch_size ({self.batch_size}) must be a multiple of num_minibatches "
            f"({self.num_minibatches})",
        )
        require(
            self.min_clipfrac < self.max_clipfrac,
            f"min_clipfrac ({self.min_clipfrac}) must be below max_clipfrac "
            f"({self.max_clipfrac}): they bound the healthy band",
        )
        require(
            list(self.kl_milestones) == sorted(self.kl_milestones),
            f"kl_milestones must rise, got {self.kl_milestones}",
        )
        require(
            self.judge_lm_samples <= self.eval_samples,
            f"judge_lm_samples ({self.judge_lm_samples}) must be at most eval_samples "
            f"({self.eval_samples}): the LM judge rates the first of them",
        )

    @property
    def target(self) -> str:
        """The sentiment PPO pushes towards."""
        return "negative" if self.negative else "positive"


PRESETS: dict[str, dict[str, RLHFConfig]] = {
    "rlhf": {
        "smoke": RLHFConfig(
            n_label_samples=400,
            label_curve=(40, 80),
            sample_tokens=12,
            rm_epochs=2,
            rm_lr=1e-3,
            n_calibration=64,
            batch_size=32,
            num_minibatches=2,
            learning_rate=3e-4,
            max_kl=2.0,
            max_iterations=6,
            kl_milestones=(0.5, 1.0, 2.0),
            eval_samples=16,
            shown_samples=2,
            n_comparison_prompts=48,
            judge_lm="tiny",
            judge_lm_samples=8,
            judge_lm_agreement=24,
            bt_epochs=1,
            time_budget_s=120.0,
            aux_dtype="float32",  # the same figures on every CPU, as the tests compare them
        ),
        # 16 minibatches of 64 per iteration: with 8 the policy moved so little per iteration
        # that the median clip fraction sat at 0.8%, below the healthy 1-20% band
        # a few hundred labels, as a person gives in about an hour: 150 samples and 350
        # corpus snippets of clear sentiment, on a sentence encoder (head settings chosen on
        # validation draws: benchmarks/rlhf_few_labels.py). Against its reward, lr 1e-5 put
        # 40% of updates in the clip band (median 0.9%); 2e-5 put all of them there
        "quick": RLHFConfig(
            learning_rate=2e-5,
            time_budget_s=1800.0,
            batch_size=1024,
            num_minibatches=16,
            n_label_samples=6000,
            rm_base="minilm",
            rm_labels=500,
            corpus_share=0.7,
            rm_epochs=30,
            rm_lr=3e-3,
            min_rm_accuracy=0.7,
            label_curve=(250, 500, 1000, 3000),
        ),
        # no time_budget_s: the full preset's time depends on the hardware (a GPU helps) and
        # has not been measured, so its time criterion is N/A rather than a guessed bar
        "full": RLHFConfig(
            n_label_samples=50000,
            label_curve=(250, 500, 1000, 3000, 10000),
            rm_epochs=4,
            n_calibration=5000,
            batch_size=1024,
            num_minibatches=8,
            max_iterations=300,
            eval_samples=500,
        ),
    }
}
