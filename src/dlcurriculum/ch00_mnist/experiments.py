"""The prerequisite's experiments: `dlc run mnist` (a CNN to 99%) and `dlc run regularization`."""

from dataclasses import dataclass
from pathlib import Path

import torch

from dlcurriculum.ch00_mnist.model import count_parameters
from dlcurriculum.ch00_mnist.training import Split, fit
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import Criterion, RunRecord, Verdict, pyplot, save_figure
from dlcurriculum.core.seed import choose_device, seed_everything


@dataclass(frozen=True)
class MNISTConfig(RunConfig):
    """Train the CNN on MNIST and measure test accuracy."""

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
    """Training examples used (the first n of the 60k training set)."""
    test_size: int = 10_000
    """Test examples evaluated (10k = the whole test set)."""
    evals_per_epoch: int = 4
    """Evaluations (and checkpoints) per epoch."""
    patience: int = 0
    """Early stopping: evaluations without a better validation loss before stopping (0 = off)."""
    target_accuracy: float = 0.99
    """The exercise's bar for test accuracy."""

    def __post_init__(self) -> None:
        assert 0 < self.train_size <= 60_000, "train_size must be in 1..60000"
        assert 0 < self.test_size <= 10_000, "test_size must be in 1..10000"
        assert self.train_size // self.batch_size >= self.evals_per_epoch >= 1, (
            "need at least evals_per_epoch optimizer steps per epoch: lower batch_size"
        )
        assert 0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)"
        assert self.epochs >= 1 and self.lr > 0 and 0 < self.warmup < 1


MNIST_PRESETS = {
    "smoke": MNISTConfig(
        width=8,
        epochs=1,
        batch_size=64,
        lr=0.02,
        train_size=4096,
        test_size=2000,
        evals_per_epoch=4,
        target_accuracy=0.8,
    ),
    "quick": MNISTConfig(evals_per_epoch=2),
    "full": MNISTConfig(epochs=8, augment=2, evals_per_epoch=2),
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


def run_mnist(cfg: MNISTConfig, run_dir: Path) -> Result:
    """Train the CNN, checkpointing as it goes (resumes from run_dir's last checkpoint)."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = resolve("ch00_mnist", cfg.impl)
    train, test = load_splits(cfg.train_size, cfg.test_size, device)
    model = ns.CNN(width=cfg.width, dropout=cfg.dropout).to(device)
    summary = fit(cfg, model, train, ns, {"test": test}, test, run_dir, desc="mnist")
    weights = run_dir / "model.pt"
    with runs.atomic_open(weights, "wb") as f:
        torch.save(model.state_dict(), f)
    summary |= {
        "parameters": count_parameters(model),
        "wall_time_s": clock.elapsed,
        "device": str(device),
    }
    return finish(run_dir, summary, weights)


def _target_criterion(record: RunRecord) -> Verdict:
    target = record.config["target_accuracy"]
    acc = record.summary["test_accuracy"]
    return Verdict(acc >= target, f"{acc:.2%} (target {target:.1%})")


def _mnist_figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    steps, loss = record.series("losses/train")
    ax1.plot(steps, loss, label="train")
    ax1.plot(*record.series("test/loss"), label="test")
    ax1.set(xlabel="optimizer step", ylabel="cross-entropy", yscale="log", title="Loss")
    ax1.legend()
    test_steps, acc = record.series("test/accuracy")
    ax2.plot(test_steps, [100 * a for a in acc], marker="o")
    ax2.axhline(100 * record.config["target_accuracy"], color="gray", ls="--", label="target")
    ax2.set(
        xlabel="optimizer step",
        ylabel="test accuracy (%)",
        ylim=(max(90, 100 * min(acc) - 1), 100),
        title="Test accuracy",
    )
    ax2.legend()
    fig.tight_layout()
    return [save_figure(fig, record.run_dir / "figures" / "training.png")]


def _mnist_sections(record: RunRecord) -> list[tuple[str, str]]:
    s = record.summary
    reached = s.get("time_to_target_s")
    lines = [
        f"- Parameters: {s['parameters']:,}; device: {s['device']}.",
        f"- {s['steps']} optimizer steps ({s['epochs_run']:.2f} epochs) in "
        f"{s['train_time_s']:.1f} s "
        "of training (evaluation excluded).",
        f"- Test loss {s['test_loss']:.4f}, test accuracy {s['test_accuracy']:.2%}.",
        "- Target first reached after "
        + (f"{reached:.1f} s of training." if reached is not None else "— never reached."),
    ]
    return [("Results", "\n".join(lines))]


MNIST = ExperimentSpec(
    name="mnist",
    title="Prerequisite: a CNN to 99% on MNIST",
    presets=MNIST_PRESETS,
    run=run_mnist,
    criteria=(
        Criterion("test accuracy reaches the target (99.0% for quick and full)", _target_criterion),
    ),
    figures=_mnist_figures,
    sections=_mnist_sections,
    next_steps=(
        "Look at the loss curves: train and test loss should fall together. Then try "
        "`dlc run regularization --preset quick` to see which regularizers help when data is "
        "scarce, and `dlc start 0` to write the CNN yourself."
    ),
)
