"""The prerequisite's run configurations (`mnist`, `regularization`) and their presets."""

from collections.abc import Mapping
from dataclasses import dataclass

from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

MAX_SHIFT = 27
"""The largest augmentation shift that leaves any pixel: 28 moves all of them out of the frame."""
CONDITIONS = ("baseline", "dropout", "weight_decay", "augmentation", "early_stopping")
MIN_SEEDS = 3
"""Fewer seeds than this give no usable spread between seeds."""


@dataclass(frozen=True)
class MNISTConfig(RunConfig):
    """Train the CNN on MNIST, watch a validation split, and measure test accuracy once."""

    width: int = 32
    """Channels of the first conv layer (then 2x, 4x)."""
    dropout: float = 0.0
    """Dropout before the linear head."""
    epochs: int = 2
    """Passes over the training set."""
    batch_size: int = 128
    """Examples per optimizer step."""
    lr: float = 4e-3
    """Peak learning rate of the one-cycle schedule (AdamW)."""
    weight_decay: float = 0.0
    """AdamW's decoupled weight decay."""
    warmup: float = 0.25
    """Fraction of the steps spent raising the learning rate to its peak."""
    augment: int = 0
    """Random translations of up to this many pixels (0 = no augmentation)."""
    train_size: int = 60_000
    """Training examples used: the first n of the 60k training images (at most 60000 - val_size)."""
    val_size: int = 0
    """Validation examples: the last n of the 60k training images, never trained on; the
    curves, early stopping and the time to target use them (0 = none). The presets hold out
    5,000 (smoke: 2,000)."""
    test_size: int = 10_000
    """Test examples, evaluated once after training (10k = the whole test set)."""
    evals_per_epoch: int = 4
    """Validation evaluations (and checkpoints) per epoch."""
    patience: int = 0
    """Early stopping: evaluations without a better validation loss before stopping (0 = off)."""
    target_accuracy: float = 0.99
    """Success bar: the exercise's bar for test accuracy."""

    def __post_init__(self) -> None:
        check(self, "width", "epochs", "batch_size", "evals_per_epoch", ge=1)
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        check(self, "val_size", ge=0, lt=MNIST_TRAIN)
        check(self, "test_size", ge=1, le=MNIST_TEST)
        check(self, "dropout", ge=0, lt=1)
        check(self, "warmup", gt=0, lt=1)
        check(self, "lr", gt=0)
        check(self, "weight_decay", "patience", ge=0)
        check(self, "augment", ge=0, le=MAX_SHIFT)
        check(self, "target_accuracy", gt=0, le=1)
        require(
            self.train_size + self.val_size <= MNIST_TRAIN,
            f"train_size + val_size must be at most {MNIST_TRAIN}: got {self.train_size} + "
            f"{self.val_size}; validation is the last val_size training images and must not "
            "overlap the first train_size (lower one of them)",
        )
        require(
            self.train_size // self.batch_size >= self.evals_per_epoch,
            f"need train_size // batch_size >= evals_per_epoch (an evaluation every few "
            f"steps): got {self.train_size} // {self.batch_size} < {self.evals_per_epoch}; "
            "lower batch_size or evals_per_epoch",
        )
        require(
            self.patience == 0 or self.val_size > 0,
            f"early stopping (patience={self.patience}) watches the validation split, but "
            "val_size=0: set val_size > 0 or patience=0",
        )


_MNIST = {
    "smoke": MNISTConfig(
        width=8,
        epochs=1,
        batch_size=64,
        lr=0.02,
        train_size=4096,
        val_size=2000,
        test_size=2000,
        evals_per_epoch=4,
    ),
    # width 16 (24k parameters): a quarter of width 32's convolution cost, still 99.2% on
    # validation in 2 epochs (seeds 0-1; width 32: 99.4%), so it reaches 99% about 4x sooner
    "quick": MNISTConfig(width=16, train_size=55_000, val_size=5_000, evals_per_epoch=2),
    "full": MNISTConfig(train_size=55_000, val_size=5_000, epochs=8, augment=2, evals_per_epoch=2),
}


@dataclass(frozen=True)
class RegularizationConfig(RunConfig):
    """Each regularizer alone vs the baseline, on several training-set sizes and seeds."""

    conditions: tuple[str, ...] = CONDITIONS
    """Which conditions to run (baseline must be one)."""
    train_sizes: tuple[int, ...] = (5_000, 50_000)
    """Training-set sizes (the first n training images; at most 60000 - val_size)."""
    val_size: int = 10_000
    """Validation images: the last n training images. Early stopping and the choice of the
    best regularizer use them; the test split never chooses anything."""
    seeds: int = 3
    """Seeds per (condition, size); mean ± std over them."""
    examples_per_run: int = 100_000
    """Training examples every run sees (epochs = this / train size)."""
    width: int = 16
    """CNN width (the study uses a smaller CNN than the 99% run to stay fast)."""
    batch_size: int = 128
    """Examples per step."""
    lr: float = 4e-3
    """Peak learning rate."""
    dropout: float = 0.3
    """Dropout probability in the dropout condition."""
    weight_decay: float = 0.3
    """AdamW weight decay in the weight_decay condition."""
    augment: int = 2
    """Max shift in pixels in the augmentation condition."""
    patience: int = 3
    """Evaluations without a better validation loss before early stopping."""
    evals_per_run: int = 12
    """Validation evaluations per run (early stopping's resolution)."""
    test_size: int = 10_000
    """Test examples for the final figures (evaluated once per run, after training)."""
    min_z: float = 2.0
    """Success bar: a gain counts when it exceeds this many standard errors."""

    def __post_init__(self) -> None:
        one_of(self, "conditions", CONDITIONS)
        check(self, "train_sizes", ge=1, le=MNIST_TRAIN)
        check(self, "val_size", ge=1, lt=MNIST_TRAIN)
        check(self, "seeds", "examples_per_run", "width", "batch_size", ge=1)
        check(self, "patience", "evals_per_run", ge=1)
        check(self, "test_size", ge=1, le=MNIST_TEST)
        check(self, "lr", "min_z", gt=0)
        check(self, "dropout", ge=0, lt=1)
        check(self, "weight_decay", ge=0)
        check(self, "augment", ge=0, le=MAX_SHIFT)
        require(
            "baseline" in self.conditions and len(set(self.conditions)) >= 2,
            f"conditions must hold baseline and at least one regularizer, got {self.conditions}",
        )
        require(
            max(self.train_sizes) + self.val_size <= MNIST_TRAIN,
            f"every train size must be at most {MNIST_TRAIN} - val_size = "
            f"{MNIST_TRAIN - self.val_size}, got train_sizes={self.train_sizes}: the validation "
            "images must not be trained on (lower train_sizes or val_size)",
        )
        require(
            min(self.train_sizes) >= self.batch_size,
            f"need every train size >= batch_size (one step per epoch): got train_sizes="
            f"{self.train_sizes} and batch_size={self.batch_size}; lower batch_size",
        )
        require(
            self.examples_per_run >= max(self.train_sizes),
            f"need examples_per_run >= every train size (at least one epoch): got "
            f"{self.examples_per_run} < {max(self.train_sizes)}; raise examples_per_run",
        )

    def cells(self) -> list[tuple[str, int, int]]:
        """(condition, train size, seed) for every training run, in a fixed order."""
        return [
            (c, n, s) for n in self.train_sizes for c in self.conditions for s in range(self.seeds)
        ]

    def cell_config(self, condition: str, train_size: int, seed: int) -> MNISTConfig:
        """The training config of one run: the baseline plus one regularizer."""
        epochs = max(1, round(self.examples_per_run / train_size))
        steps = epochs * (train_size // self.batch_size)
        return MNISTConfig(
            seed=1000 * self.seed + seed,
            width=self.width,
            epochs=epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            train_size=train_size,
            val_size=self.val_size,
            test_size=self.test_size,
            evals_per_epoch=max(
                1, min(train_size // self.batch_size, round(self.evals_per_run / epochs))
            ),
            dropout=self.dropout if condition == "dropout" else 0.0,
            weight_decay=self.weight_decay if condition == "weight_decay" else 0.0,
            augment=self.augment if condition == "augmentation" else 0,
            patience=self.patience if condition == "early_stopping" and steps > 1 else 0,
        )


_REGULARIZATION = {
    "smoke": RegularizationConfig(
        train_sizes=(512,),
        seeds=2,
        examples_per_run=2048,
        width=4,
        batch_size=64,
        evals_per_run=4,
        test_size=1000,
    ),
    "quick": RegularizationConfig(),
    "full": RegularizationConfig(
        train_sizes=(1_000, 5_000, 50_000), seeds=5, examples_per_run=300_000, width=32
    ),
}


PRESETS: dict[str, Mapping[str, RunConfig]] = {
    "mnist": _MNIST,
    "regularization": _REGULARIZATION,
}
"""Every experiment's smoke, quick and full presets, by experiment name."""
