"""The prerequisite's experiments: `dlc run mnist` (a CNN to 99%) and `dlc run regularization`."""

from dataclasses import dataclass
from pathlib import Path

import torch

from dlcurriculum.ch00_mnist.loop import Split, evaluate, fit
from dlcurriculum.ch00_mnist.model import count_parameters
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import RunRecord, at_least, pyplot, save_figure
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

MAX_SHIFT = 27
"""The largest augmentation shift that leaves any pixel: 28 moves all of them out of the frame."""


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


MNIST_PRESETS = {
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
    "quick": MNISTConfig(train_size=55_000, val_size=5_000, evals_per_epoch=2),
    "full": MNISTConfig(train_size=55_000, val_size=5_000, epochs=8, augment=2, evals_per_epoch=2),
}


def load_splits(train_size: int, test_size: int, device: torch.device) -> tuple[Split, Split]:
    """MNIST as float tensors in [0, 1] with a channel dim, on `device`."""
    from dlcurriculum.data import load_mnist

    data = load_mnist("float32")
    train = Split(
        data.train_images[:train_size, None].to(device), data.train_labels[:train_size].to(device)
    )
    test = Split(
        data.test_images[:test_size, None].to(device), data.test_labels[:test_size].to(device)
    )
    return train, test


def split_validation(train_all: Split, train_size: int, val_size: int) -> tuple[Split, Split]:
    """(first `train_size` images, last `val_size` images) of the 60k training set.

    Validation comes from the end so that a smaller train_size (the first n images) never
    changes it: runs with different training-set sizes are selected on the same images.
    """
    assert train_size + val_size <= len(train_all), "train and validation would overlap"
    start = len(train_all) - val_size
    return (
        Split(train_all.images[:train_size], train_all.labels[:train_size]),
        Split(train_all.images[start:], train_all.labels[start:]),
    )


def run_mnist(cfg: MNISTConfig, run_dir: Path) -> Result:
    """Train the CNN, checkpointing as it goes (resumes from run_dir's last checkpoint).

    Curves and early stopping watch the validation split; the test split is evaluated once,
    after training, for the reported figure.
    """
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = resolve("ch00_mnist", cfg.impl)
    train_all, test = load_splits(60_000, cfg.test_size, device)
    train, val = split_validation(train_all, cfg.train_size, cfg.val_size)
    model = ns.CNN(width=cfg.width, dropout=cfg.dropout).to(device)
    evals = {"val": val} if cfg.val_size else {}
    summary = fit(cfg, model, train, ns, evals, test, run_dir, desc="mnist")
    if cfg.val_size:  # the returned model's (after early stopping: the best one's)
        summary["val_loss"], summary["val_accuracy"] = evaluate(model, val, ns)
    weights = run_dir / "model.pt"
    with runs.atomic_open(weights, "wb") as f:
        torch.save(model.state_dict(), f)
    summary |= {
        "parameters": count_parameters(model),
        "wall_time_s": clock.elapsed,
        "device": str(device),
    }
    return finish(run_dir, summary, weights)


def _mnist_figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    s = record.summary
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(*record.series("losses/train"), label="train (running mean)")
    val_steps, val_loss = record.series("val/loss")
    if val_steps:
        ax1.plot(val_steps, val_loss, marker="o", label="validation")
    ax1.plot([s["steps"]], [s["test_loss"]], "k*", ms=10, label="test (once, at the end)")
    ax1.set(xlabel="optimizer step", ylabel="cross-entropy", yscale="log", title="Loss")
    ax1.legend()
    _, val_acc = record.series("val/accuracy")
    if val_steps:
        ax2.plot(val_steps, [100 * a for a in val_acc], marker="o", label="validation")
    acc = [*val_acc, s["test_accuracy"]]
    ax2.plot([s["steps"]], [100 * s["test_accuracy"]], "k*", ms=10, label="test (once)")
    ax2.axhline(100 * record.config["target_accuracy"], color="gray", ls="--", label="target")
    ax2.set(
        xlabel="optimizer step",
        ylabel="accuracy (%)",
        # zoom on the last percents, but keep the test point in view
        ylim=(min(max(90, 100 * min(acc) - 1), 100 * s["test_accuracy"] - 1), 100),
        title="Validation accuracy during training",
    )
    ax2.legend()
    fig.tight_layout()
    return [save_figure(fig, record.run_dir / "figures" / "training.png")]


def _mnist_sections(record: RunRecord) -> list[tuple[str, str]]:
    s, cfg = record.summary, record.config
    reached = s.get("time_to_target_s")
    lines = [
        f"- Parameters: {s['parameters']:,}; device: {s['device']}.",
        f"- Data: trained on the first {cfg['train_size']:,} training images; the last "
        f"{cfg.get('val_size', 0):,} are the validation split; {cfg['test_size']:,} test images.",
        f"- {s['steps']} optimizer steps ({s['epochs_run']:.2f} epochs) in "
        f"{s['train_time_s']:.1f} s of training (evaluation excluded).",
    ]
    if "val_accuracy" in s:
        lines += [
            f"- Validation loss {s['val_loss']:.4f}, validation accuracy {s['val_accuracy']:.2%}.",
            "- Validation accuracy "
            + (
                f"first reached the target after {reached:.1f} s of training."
                if reached is not None
                else "never reached the target."
            ),
        ]
    lines.append(
        f"- Test loss {s['test_loss']:.4f}, test accuracy {s['test_accuracy']:.2%} "
        "(the test split is evaluated once, after training)."
    )
    return [("Results", "\n".join(lines))]


MNIST = ExperimentSpec(
    name="mnist",
    title="Prerequisite: a CNN to 99% on MNIST",
    presets=MNIST_PRESETS,
    run=run_mnist,
    criteria=(at_least("test accuracy", "test_accuracy", "target_accuracy", "{:.2%}"),),
    figures=_mnist_figures,
    sections=_mnist_sections,
    next_steps=(
        "Look at the loss curves: train and validation loss should fall together. Then try "
        "`dlc run regularization --preset quick` to see which regularizers help when data is "
        "scarce, and `dlc start 0` to write the CNN yourself."
    ),
)
