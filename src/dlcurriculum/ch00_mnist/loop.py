"""The resumable training loop around the exercises: augmentation, evaluation, fit.

The loop keeps MNIST in memory as one tensor and slices batches from it: on a CPU this is
several times faster than a DataLoader with per-item transforms. It calls the exercises
(train_step, accuracy, predict) through a namespace, so it runs the learner's or ours.
"""

import copy
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from dlcurriculum.core import runs
from dlcurriculum.core.seed import rng_state, set_rng_state

if TYPE_CHECKING:
    from dlcurriculum.ch00_mnist.experiments import MNISTConfig


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


def evaluate(model: nn.Module, split: Split, ns: SimpleNamespace) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model on a whole split."""
    logits = ns.predict(model, split.images)
    return F.cross_entropy(logits, split.labels).item(), ns.accuracy(logits, split.labels)


def fit(
    cfg: "MNISTConfig",
    model: nn.Module,
    train: Split,
    ns: SimpleNamespace,
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
    state: dict[str, Any] = {
        "step": 0,
        "train_s": 0.0,
        "time_to_target_s": None,
        "best": None,
        "stopped": False,
    }
    ckpt = runs.latest_checkpoint(run_dir) if run_dir else None
    if ckpt is not None:
        saved = runs.load_checkpoint(ckpt)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        set_rng_state(saved["rng"])
        state = saved["state"]
    logger = (
        runs.MetricLogger(run_dir, resume_step=state["step"] if ckpt else None) if run_dir else None
    )
    bar = runs.progress(total, desc, initial=state["step"])
    clock = runs.Stopwatch(state["train_s"])
    running = 0.0
    step = state["step"]
    watched = next(iter(evals), None)  # the split whose accuracy times the race to the target
    while step < total and not state["stopped"]:
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
            state["train_s"] = clock.elapsed
            row = {
                "losses/train": running / (step - state["step"]),
                "charts/lr": schedule.get_last_lr()[0],
            }
            for name, split in evals.items():
                row[f"{name}/loss"], row[f"{name}/accuracy"] = evaluate(model, split, ns)
            running, state["step"] = 0.0, step
            reached = row.get(f"{watched}/accuracy", 0.0) >= cfg.target_accuracy
            if state["time_to_target_s"] is None and reached:
                state["time_to_target_s"] = state["train_s"]
            state["stopped"] = _early_stopping(cfg, model, row, state, step)
            if logger:
                logger.log(step, epoch=step / steps_per_epoch, **row)
            live = {"loss": f"{row['losses/train']:.3f}"}
            live |= {f"{name} acc": f"{row[f'{name}/accuracy']:.4f}" for name in evals}
            bar.set_postfix(live)
            clock = runs.Stopwatch(state["train_s"])  # evaluation time does not count as training
        if run_dir and state["step"] == step:  # checkpoint right after each evaluation
            runs.save_checkpoint(
                run_dir,
                step,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "rng": rng_state(),
                    "state": state,
                },
            )
    bar.close()
    if logger:
        logger.close()
    if state["best"] is not None:
        model.load_state_dict(state["best"]["model"])
    test_loss, test_acc = evaluate(model, test, ns)
    return {
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "steps": step,
        "epochs_run": step / steps_per_epoch,
        "train_time_s": state["train_s"],
        "time_to_target_s": state["time_to_target_s"],
        "best_step": state["best"]["step"] if state["best"] else step,
    }


def _early_stopping(
    cfg: "MNISTConfig", model: nn.Module, row: dict, state: dict, step: int
) -> bool:
    """Track the best validation loss; True once it has not improved for cfg.patience evals."""
    if cfg.patience <= 0 or "val/loss" not in row:
        return False
    best = state["best"]
    if best is None or row["val/loss"] < best["loss"]:
        state["best"] = {
            "loss": row["val/loss"],
            "step": step,
            "evals_since": 0,
            "model": copy.deepcopy(model.state_dict()),
        }
        return False
    best["evals_since"] += 1
    return best["evals_since"] >= cfg.patience
