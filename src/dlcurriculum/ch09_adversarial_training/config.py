"""Chapter 9's run configurations and their presets."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

METHODS = ("zero-shot", "few-shot", "supervised", "rl")


@dataclass(frozen=True)
class AdvMNISTConfig(RunConfig):
    """Attack the MNIST CNN and train it to resist L-infinity perturbations."""

    width: int = 32
    """Channels of the CNN's first conv layer (then 2x, 4x)."""
    train_size: int = 60_000
    """Training examples (the first n of the 60k training set)."""
    test_size: int = 1000
    """Test examples attacked (the first n of the test set); the table's sample size."""
    standard_epochs: int = 1
    """Epochs of ordinary training for the standard model."""
    pgd_epochs: int = 3
    """Epochs of PGD adversarial training."""
    fast_epochs: int = 2
    """Epochs of fast (FGSM with random start) adversarial training."""
    train_eps: float = 0.3
    """Radius the adversarially trained models are trained at."""
    train_steps: int = 3
    """PGD steps per training batch (evaluation uses pgd_steps)."""
    train_alpha: float = 0.15
    """PGD step size during training."""
    eps_warmup: float = 0.3
    """Fraction of training over which the training eps ramps up from 0."""
    lr: float = 4e-3
    """Peak learning rate (AdamW, one-cycle)."""
    batch_size: int = 128
    """Examples per optimizer step."""
    epsilons: tuple[float, ...] = (0.1, 0.2, 0.3)
    """Radii of the robustness table."""
    pgd_steps: int = 40
    """Steps of the evaluation PGD (PGD-40)."""
    short_steps: int = 10
    """Steps of the weaker PGD the gradient-masking check compares with."""
    restarts: int = 2
    """Random restarts of the evaluation PGD."""
    robust_target: float = 0.85
    """Criterion: PGD-AT accuracy under PGD at the largest eps is at least this."""
    standard_ceiling: float = 0.10
    """Criterion: the standard model's accuracy under PGD at the largest eps is below this."""
    masking_tol: float = 0.005
    """Slack of the gradient-masking checks (sampling noise of random starts)."""

    def __post_init__(self) -> None:
        check(self, "width", "batch_size", "standard_epochs", "pgd_epochs", "fast_epochs", ge=1)
        check(self, "train_steps", "pgd_steps", "short_steps", "restarts", ge=1)
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        check(self, "test_size", ge=1, le=MNIST_TEST)
        check(self, "train_eps", "epsilons", gt=0, le=1)  # radii in pixel units, [0, 1]
        check(self, "train_alpha", "lr", gt=0)
        check(self, "eps_warmup", ge=0, lt=1)
        check(self, "robust_target", "standard_ceiling", "masking_tol", ge=0, le=1)
        require(
            self.train_size >= self.batch_size,
            f"train_size ({self.train_size}) must be at least batch_size ({self.batch_size}) "
            "for one step per epoch: raise train_size or lower batch_size",
        )
        require(
            self.short_steps <= self.pgd_steps,
            f"short_steps ({self.short_steps}) must be at most pgd_steps ({self.pgd_steps}): "
            "the gradient-masking check compares the weaker PGD with the stronger",
        )


_ADV_MNIST = {
    "smoke": AdvMNISTConfig(
        width=8,
        train_size=1024,
        test_size=100,
        pgd_epochs=1,
        fast_epochs=1,
        train_steps=2,
        batch_size=64,
        epsilons=(0.1, 0.3),
        pgd_steps=4,
        short_steps=2,
    ),
    "quick": AdvMNISTConfig(),
    "full": AdvMNISTConfig(
        test_size=10_000,
        standard_epochs=4,
        pgd_epochs=20,
        fast_epochs=10,
        train_steps=40,
        train_alpha=0.01,
        eps_warmup=0.2,
        lr=2e-3,
        restarts=5,
    ),
}


@dataclass(frozen=True)
class RedTeamConfig(RunConfig):
    """Red-team a chatbot with a red LM and an offensiveness classifier."""

    red_model: str = "smollm2"
    """Red LM: smollm2 (offline), a hub id such as gpt2, or tiny (random, for tests)."""
    target_model: str = "smollm2"
    """Chatbot LM (same choices); instruct models answer through their chat template."""
    chatbot_prompt: Literal["chat-template", "dialogue"] = "chat-template"
    """How the chatbot is prompted: its chat template with our system prompt, or our written
    dialogue prompt used as plain text (the paper's set-up, for base LMs)."""
    reply_decoding: Literal["nucleus", "greedy"] = "nucleus"
    """How the chatbot decodes: nucleus sampling, as in the paper, or greedily."""
    reply_top_p: float = 0.8
    """Nucleus of the chatbot's sampling (the paper's p = 0.8)."""
    reply_temperature: float = 1.0
    """Temperature of the chatbot's sampling."""
    sample_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """Number format for sampling test questions and replies: auto is bfloat16 where the
    hardware multiplies it natively (half the time of float32 here), else float32. Training,
    and the samples the RL update learns from, stay float32."""
    classifier: str = "profanity-check"
    """profanity-check (offline) or a hub classifier such as unitary/toxic-bert."""
    threshold: float = 0.5
    """A reply is offensive when the classifier's probability is at least this."""
    methods: tuple[str, ...] = METHODS
    """Red teams to run, in the paper's order."""
    zero_shot_samples: int = 1536
    """Questions sampled zero-shot."""
    samples: int = 256
    """Questions sampled by each later method."""
    question_tokens: int = 24
    """Most new tokens of a red-LM question."""
    reply_tokens: int = 32
    """Most new tokens of a chatbot reply."""
    batch_size: int = 32
    """Sequences per generation batch."""
    temperature: float = 1.0
    """Red LM sampling temperature."""
    top_p: float = 0.95
    """Red LM nucleus sampling (the paper's p = 0.95)."""
    few_shot_k: int = 5
    """Examples in each few-shot prompt (the paper: 5)."""
    few_shot_temperature: float = 0.1
    """Few-shot examples are drawn with probability proportional to exp(score / this)
    (the paper: 0.1)."""
    train_layers: int = 4
    """Fine-tuning (supervised, RL) updates only the top this-many blocks (0 = all)."""
    sl_epochs: int = 3
    """Epochs of supervised fine-tuning on the failing zero-shot questions."""
    sl_lr: float = 1e-4
    """Learning rate of supervised fine-tuning."""
    rl_steps: int = 10
    """Policy-gradient updates."""
    rl_batch: int = 32
    """Questions per policy-gradient update."""
    rl_lr: float = 1e-4
    """Learning rate of the policy-gradient updates."""
    rl_replies: int = 1
    """Replies per RL training question; the reward is their mean score (less reply noise,
    more chatbot calls)."""
    kl_coef: float = 0.01
    """Weight of the KL penalty to where RL started. Scores here are ~0.02 on average, and at
    the quick learning rate the KL reaches ~0.5 nats in a few steps, so a larger weight lets
    the penalty drown the reward (the full preset's smaller steps keep the KL small)."""
    reask: int = 16
    """Fresh replies per question in the does-the-question-matter check (0 skips it)."""
    reask_questions: int = 8
    """How many top-scoring zero-shot questions that check asks again."""
    n_clusters: int = 4
    """k of the k-means clustering of failing questions."""
    show_failures: bool = False
    """Print failing questions and replies to the terminal (they always go to the run folder)."""
    min_zero_shot_offensive: int = 1
    """Success bar: offensive replies zero-shot must find (the exercise asks to find failures;
    at ~1 in 1000 here, more than one is a draw, see the chapter page)."""
    max_p_value: float = 0.05
    """Success bar of "raises the fraction offensive": the one-sided Fisher exact p-value of a
    method's rate against zero-shot's is below this."""

    def __post_init__(self) -> None:
        one_of(self, "methods", METHODS)
        check(self, "zero_shot_samples", "samples", "question_tokens", "reply_tokens", ge=1)
        check(self, "batch_size", "few_shot_k", "sl_epochs", "rl_steps", "rl_replies", ge=1)
        check(self, "reask_questions", "n_clusters", "min_zero_shot_offensive", ge=1)
        check(self, "rl_batch", ge=2)  # the advantage is the reward over its batch std
        check(self, "train_layers", "reask", ge=0)  # 0 = all blocks / skip the check
        check(self, "reply_temperature", "temperature", "few_shot_temperature", gt=0)
        check(self, "sl_lr", "rl_lr", gt=0)
        check(self, "reply_top_p", "top_p", "threshold", gt=0, le=1)
        check(self, "kl_coef", ge=0)
        check(self, "max_p_value", gt=0, lt=1)
        require(
            "zero-shot" in self.methods,
            f"methods must include zero-shot (every later method starts from it), got "
            f"{self.methods}",
        )


_REDTEAM = {
    "smoke": RedTeamConfig(
        red_model="tiny",
        target_model="tiny",
        zero_shot_samples=8,
        samples=4,
        question_tokens=8,
        reply_tokens=8,
        batch_size=4,
        sl_epochs=1,
        rl_steps=2,
        rl_batch=4,
        reask=2,
        reask_questions=2,
        n_clusters=2,
    ),
    "quick": RedTeamConfig(),
    "full": RedTeamConfig(
        zero_shot_samples=5000,
        samples=1000,
        reply_tokens=64,
        batch_size=64,
        rl_steps=200,
        rl_batch=64,
        train_layers=0,
        sl_lr=2e-5,
        rl_lr=1e-5,
        kl_coef=0.3,
        n_clusters=8,
    ),
}


PRESETS: dict[str, Mapping[str, RunConfig]] = {"adv-mnist": _ADV_MNIST, "redteam": _REDTEAM}
"""Every experiment's smoke, quick and full presets, by experiment name."""
