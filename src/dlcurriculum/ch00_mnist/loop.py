"""The resumable training loop around the exercises: augmentation, evaluation, fit.

The loop keeps MNIST in memory as one tensor and slices batches from it: on a CPU this is
several times faster than a DataLoader with per-item transforms. It calls the exercises
(train_step, accuracy, predict) through a namespace, so it runs the learner's or ours.
"""

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from dlcurriculum.ch00_mnist.config import MNISTConfig
from dlcurriculum.ch00_mnist.impl import Impl
from dlcurriculum.core.training import Stateful, TrainingSession


def random_shift(
    images: Float[Tensor, "batch 1 28 28"], max_shift: int, generator: torch.Generator
) -> Float[Tensor, "batch 1 28 28"]:
    """Translate each image by up to `max_shift` pixels in x and y (zero fill).

    Small translations are the label-preserving augmentation MNIST has always used.
    """
    if max_shift == 0:
        return images
    n = len(images)
    padded = F.pad(images, (max_shift,) * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(images.device)
    window = torch.arange(28, device=images.device)
    # gather a 28x28 window at a per-image offset: index rows and columns separately
    rows = (dy[:, None] + window)[:, None, :, None].expand(n, 1, 28, 28 + 2 * max_shift)
    cols = (dx[:, None] + window)[:, None, None, :].expand(n, 1, 28, 28)
    return padded.gather(2, rows).gather(3, cols)


@dataclass(frozen=True)
class Split:
    """Images as float32 [n, 1, 28, 28] in [0, 1] and int64 labels."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FitState:
    """What `fit` changes as it trains: a checkpoint's "state" (the keys of older runs)."""

    step: int = 0
    train_s: float = 0.0
    time_to_target_s: float | None = None
    """Training seconds when the watched split first reached the target accuracy."""
    best: dict[str, Any] | None = None
    """Early stopping's best evaluation: loss, step, evals_since, model (a state dict)."""
    stopped: bool = False


def evaluate(model: nn.Module, split: Split, ns: Impl) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model on a whole split."""
    logits = ns.predict(model, split.images)
    return F.cross_entropy(logits, split.labels).item(), ns.accuracy(logits, split.labels)


def fit(
    cfg: MNISTConfig,
    model: nn.Module,
    train: Split,
    ns: Impl,
    evals: dict[str, Split],
    test: Split,
    run_dir: Path | None = None,
    desc: str = "train",
) -> dict[str, Any]:
    """Train with AdamW and a one-cycle schedule; log, checkpoint and resume in run_dir.

    Args:
        cfg: hyperparameters (epochs, batch_size, lr, weight_decay, augment, ...); a
            checkpoint is written after each evaluation.
        model: the freshly initialised model.
        train: training split.
        ns: exercise functions (reference or learner's): train_step, accuracy, predict.
        evals: named splits evaluated cfg.evals_per_epoch times per epoch (logged as
            `name/loss`, `name/accuracy`); with "val" and cfg.patience > 0, training stops
            early on validation loss and the best weights are restored. Pass a validation
            split here, not the test set, or the test set ends up choosing the model.
        test: the split of the final figures, evaluated once, after training.
        run_dir: where metrics and checkpoints go (None: in memory only, no resume).
        desc: progress bar label.

    Returns:
        Final figures: test loss/accuracy, steps, training seconds, and the training time
        at which accuracy on the first split of `evals` first reached cfg.target_accuracy
        (None if never, or if `evals` is empty).
    """
    # channels-last (NHWC) convolutions run about 2x faster on CPU at these shapes
    # (measured with benchmarks/mnist_speed.py); only the memory layout changes.
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lag
    steps_per_epoch = len(train) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=total, pct_start=cfg.warmup
    )
    stateful: dict[str, Stateful] = {"model": model, "optimizer": optimizer, "schedule": schedule}
    session = TrainingSession(run_dir, FitState(), total, desc, stateful)
    state, bar = session.state, session.bar
    running = 0.0
    step = state.step
    watched = next(iter(evals), None)  # the split whose accuracy times the race to the target
    while step < total and not state.stopped:
        epoch, i = divmod(step, steps_per_epoch)
        # the epoch's order depends only on (seed, epoch), so a resumed run sees the same batches
        order = torch.randperm(
            len(train), generator=torch.Generator().manual_seed(cfg.seed * 9973 + epoch)
        )
        idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
        shift_rng = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        images = random_shift(train.images[idx], cfg.augment, shift_rng)
        running += ns.train_step(model, optimizer, images, train.labels[idx])
        schedule.step()
        step += 1
        bar.update(1)
        if step % (steps_per_epoch // cfg.evals_per_epoch) == 0 or step == total:
            with session.paused():  # evaluation time does not count as training
                row = {
                    "losses/train": running / (step - state.step),
                    "charts/lr": schedule.get_last_lr()[0],
                }
                for name, split in evals.items():
                    row[f"{name}/loss"], row[f"{name}/accuracy"] = evaluate(model, split, ns)
                running, state.step = 0.0, step
                reached = row.get(f"{watched}/accuracy", 0.0) >= cfg.target_accuracy
                if state.time_to_target_s is None and reached:
                    state.time_to_target_s = state.train_s
                state.stopped = _early_stopping(cfg, model, row, state, step)
                session.log(step, epoch=step / steps_per_epoch, **row)
                live = {"loss": f"{row['losses/train']:.3f}"}
                live |= {f"{name} acc": f"{row[f'{name}/accuracy']:.4f}" for name in evals}
                bar.set_postfix(live)
            session.checkpoint()  # right after each evaluation
    session.close()
    if state.best is not None:
        model.load_state_dict(state.best["model"])
    test_loss, test_acc = evaluate(model, test, ns)
    return {
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "steps": step,
        "epochs_run": step / steps_per_epoch,
        "train_time_s": state.train_s,
        "time_to_target_s": state.time_to_target_s,
        "best_step": state.best["step"] if state.best else step,
    }


def _early_stopping(
    cfg: MNISTConfig, model: nn.Module, row: dict, state: "FitState", step: int
) -> bool:
    """Track the best validation loss; True once it has not improved for cfg.patience evals."""
    if cfg.patience <= 0 or "val/loss" not in row:
        return False
    best = state.best
    if best is None or row["val/loss"] < best["loss"]:
        state.best = {
            "loss": row["val/loss"],
            "step": step,
            "evals_since": 0,
            "model": copy.deepcopy(model.state_dict()),
        }
        return False
    best["evals_since"] += 1
    return best["evals_since"] >= cfg.patience


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
