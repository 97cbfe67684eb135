"""Chapter 5's run configurations and their presets: contrastive (the exercise), vae and ddpm."""

from collections.abc import Mapping
from dataclasses import dataclass

from dlcurriculum.ch05_modeling_objectives.training import (
    OBJECTIVES,
)
from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

# The test ELBO's reconstruction term is at most minus the test images' mean Bernoulli
# entropy, 45.5 nats, so no VAE can meet a target_elbo above this.
ELBO_CEILING = -45.5


@dataclass(frozen=True)
class ContrastiveConfig(RunConfig):
    """Train contrastive encoders on MNIST and classify the test set by few-shot similarity."""

    objectives: tuple[str, ...] = OBJECTIVES
    """Objectives trained one after another: simclr (no labels), supcon, triplet."""
    ks: tuple[int, ...] = (1, 2, 5, 10, 50)
    """Support examples per class evaluated; max(ks) per class are removed from training."""
    width: int = 32
    """Channels of the encoder's first conv layer (chapter 0's CNN trunk)."""
    proj_dim: int = 64
    """Output size of the projection head the loss sees."""
    projection: bool = True
    """Evaluate on the projection head's output (True) or the trunk's features (False)."""
    simclr_epochs: int = 4
    """Passes over the training set for SimCLR (label-free, so slower to learn)."""
    supervised_epochs: int = 1
    """Passes for the label-using objectives (supcon, triplet); labels make them fast learners."""
    batch_size: int = 256
    """Images per step (each gives two views: 2x as many embeddings)."""
    lr: float = 4e-3
    """Peak learning rate of the one-cycle schedule (AdamW)."""
    simclr_temperature: float = 1.0
    """NT-Xent temperature. Chosen, with lr and the augmentation's magnitudes, by a sweep that
    read the TEST queries (before the validation split existed; see README); re-checked on
    the validation queries against 0.5 (README)."""
    supcon_temperature: float = 0.1
    """SupCon temperature (the paper's value; not tuned here)."""
    train_size: int = 55_000
    """Training examples: the first n of the 60k training images (support removed), at most
    60000 - val_size."""
    val_size: int = 5_000
    """Validation queries: the last n of the 60k training images, never trained on. Compare
    settings on their accuracy (summary "validation"), never on the test queries."""
    test_size: int = 10_000
    """Test queries (10k = the whole test set), read once for the criteria."""
    baselines: bool = True
    """Also run the linear probe and the support-only supervised CNN."""
    target_simclr: float = 0.90
    """Success bar for SimCLR test accuracy at k = 10."""
    target_supcon: float = 0.97
    """Success bar for SupCon test accuracy at k = 10."""
    margin_over_pixels: float = 0.10
    """Success bar: SimCLR and SupCon each beat raw-pixel similarity at k = 10 (test) by at
    least this much accuracy."""
    time_budget_s: float = 0.0
    """Wall-time bar for the whole run (0 = none: the time criterion is N/A)."""

    def __post_init__(self) -> None:
        require(len(self.objectives) > 0, f"objectives must not be empty: choose from {OBJECTIVES}")
        one_of(self, "objectives", OBJECTIVES)
        check(self, "ks", "width", "proj_dim", "simclr_epochs", "supervised_epochs", ge=1)
        check(self, "batch_size", ge=2)  # each image's negatives are the batch's other images
        check(self, "lr", "simclr_temperature", "supcon_temperature", gt=0)
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        check(self, "val_size", ge=0, lt=MNIST_TRAIN)
        check(self, "test_size", ge=1, le=MNIST_TEST)
        check(self, "target_simclr", "target_supcon", "margin_over_pixels", ge=0, le=1)
        check(self, "time_budget_s", ge=0)
        require(10 in self.ks, f"ks must include 10 (the criteria read k = 10), got {self.ks}")
        require(
            self.train_size + self.val_size <= MNIST_TRAIN,
            f"train_size + val_size must be at most {MNIST_TRAIN}: got {self.train_size} + "
            f"{self.val_size}; validation is the last val_size training images and must not "
            "overlap the first train_size (lower one of them)",
        )
        support = 10 * max(self.ks)
        require(
            self.train_size - support >= self.batch_size,
            f"train_size ({self.train_size}) must hold the support set of 10 * max(ks) = "
            f"{support} images and at least one batch_size ({self.batch_size}) more: raise "
            "train_size or lower ks or batch_size",
        )


_CONTRASTIVE = {
    # smoke proves that the code runs; it keeps the real bars (it is not judged)
    "smoke": ContrastiveConfig(
        objectives=("simclr", "supcon"),
        ks=(1, 10),
        width=8,
        proj_dim=32,
        simclr_epochs=1,
        supervised_epochs=1,
        batch_size=128,
        train_size=2048,
        val_size=1000,
        test_size=1000,
    ),
    "quick": ContrastiveConfig(time_budget_s=900.0),
    "full": ContrastiveConfig(simclr_epochs=15, supervised_epochs=5, time_budget_s=3600.0),
}


@dataclass(frozen=True)
class SampleBars(RunConfig):
    """Fields both generative extras share: the data, the sample judge and the bars."""

    train_size: int = 60_000
    """Training images (the first n of the 60k)."""
    n_samples: int = 500
    """Samples scored by the classifier (the first 64 are shown)."""
    classifier_steps: int = 300
    """Training steps of the judging CNN (chapter 0's, width 16)."""
    min_judge_accuracy: float = 0.95
    """The judging CNN's test accuracy must reach this for its view of the samples to count;
    below it the two sample criteria are N/A (a poor judge can call noise ten digits)."""
    target_coverage: int = 9
    """Bar for the number of digits making up at least 2% of the samples (no mode collapse)."""
    max_frechet_ratio: float = 0.4
    """Bar: Frechet distance of samples at most this fraction of pixel noise's."""
    time_budget_s: float = 0.0
    """Wall-time bar for the whole run (0 = none: the time criterion is N/A)."""

    def __post_init__(self) -> None:
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        # the samples' Frechet distance is set beside as many real test images (after the
        # first 2000, the reference) and needs two of them for a covariance
        check(self, "n_samples", ge=2, le=MNIST_TEST - 2000)
        check(self, "classifier_steps", ge=1)
        check(self, "min_judge_accuracy", ge=0, le=1)
        check(self, "target_coverage", ge=0, le=10)
        check(self, "max_frechet_ratio", "time_budget_s", ge=0)


@dataclass(frozen=True)
class VAEConfig(SampleBars):
    """Train a VAE on MNIST and judge its samples from the prior."""

    latent: int = 16
    """Size of the latent code z."""
    hidden: int = 400
    """Width of the encoder's and decoder's hidden layer."""
    epochs: int = 10
    """Passes over the training set."""
    batch_size: int = 128
    """Images per step."""
    lr: float = 1e-3
    """Adam's learning rate."""
    target_elbo: float = -112.0
    """Bar for the test ELBO, nats per image (higher is better)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "latent", "hidden", "epochs", "batch_size", ge=1)
        check(self, "lr", gt=0)
        check(self, "target_elbo", le=ELBO_CEILING)
        require(
            self.train_size >= self.batch_size,
            f"train_size ({self.train_size}) must be at least batch_size ({self.batch_size}) "
            "for one step per epoch: raise train_size or lower batch_size",
        )


@dataclass(frozen=True)
class DDPMConfig(SampleBars):
    """Train a minimal DDPM on MNIST and judge its samples."""

    n_steps: int = 200
    """Diffusion steps T (DDPM used 1000; fewer make sampling 5x cheaper)."""
    beta_start: float = 5e-4
    """First noise variance (DDPM's 1e-4 scaled by 1000 / T)."""
    beta_end: float = 0.1
    """Last noise variance (DDPM's 0.02 scaled by 1000 / T)."""
    width: int = 16
    """Channels of the denoiser at 28x28 (twice as many at 14x14 and 7x7)."""
    train_steps: int = 2000
    """Optimizer steps (3000 gave a slightly lower Frechet distance but ~600 s on a busy core)."""
    batch_size: int = 64
    """Images per step."""
    lr: float = 2e-3
    """Peak learning rate (Adam, warm-up then cosine decay)."""
    n_samples: int = 256
    """Samples scored (each takes n_steps forward passes)."""
    target_test_loss: float = 0.05
    """Bar for the held-out noise-prediction MSE (predicting zero noise gives 1.0)."""
    max_frechet_ratio: float = 0.1
    """Bar: Frechet distance of samples at most this fraction of pixel noise's (sharper
    than the VAE's blurry means, so a tighter bar)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "n_steps", ge=2)
        check(self, "beta_start", "beta_end", gt=0, lt=1)
        check(self, "width", ge=8)
        check(self, "train_steps", "batch_size", ge=1)
        check(self, "lr", gt=0)
        check(self, "target_test_loss", ge=0)
        require(
            self.beta_start < self.beta_end,
            f"beta_start ({self.beta_start}) must be below beta_end ({self.beta_end}): the "
            "noise grows along the chain",
        )
        require(
            self.width % 8 == 0,
            f"width must be a multiple of 8 (the denoiser's GroupNorm has 8 groups), got "
            f"{self.width}",
        )


# smoke presets prove that the code runs; they keep the real bars (a smoke run is not judged)
_VAE = {
    "smoke": VAEConfig(epochs=1, train_size=2048, n_samples=200, classifier_steps=30),
    "quick": VAEConfig(time_budget_s=600.0),
    "full": VAEConfig(latent=32, epochs=50, n_samples=2000, time_budget_s=3600.0),
}

_DDPM = {
    "smoke": DDPMConfig(
        n_steps=20,
        width=8,
        train_steps=30,
        train_size=2048,
        n_samples=32,
        classifier_steps=30,
    ),
    "quick": DDPMConfig(time_budget_s=600.0),
    "full": DDPMConfig(
        n_steps=1000,
        beta_start=1e-4,
        beta_end=0.02,
        width=32,
        train_steps=30_000,
        batch_size=128,
        n_samples=1000,
        time_budget_s=4 * 3600.0,
    ),
}


PRESETS: dict[str, Mapping[str, RunConfig]] = {
    "contrastive": _CONTRASTIVE,
    "vae": _VAE,
    "ddpm": _DDPM,
}
"""Every experiment's smoke, quick and full presets, by experiment name."""
