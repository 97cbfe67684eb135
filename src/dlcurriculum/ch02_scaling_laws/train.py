"""One cell of the scaling sweep: a CNN of one width trained for one epoch on one subset.

`train_cell` is the sweep's worker: it gets a cell's parameters (a JSON-able dict) and
returns its row, so the same cell runs in a local pool or as one command on a cluster.
Each cell is seeded by its own parameters and runs single-threaded, so it gives the same
numbers in whichever process or machine runs it.

Ref: Kaplan et al. 2020, sec. 2-3 (one epoch, no data reuse; loss vs compute);
Hoffmann et al. 2022, sec. 3.1 (a cosine schedule matched to each run's length).
"""

import functools
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcurriculum.ch00_mnist.model import CNN, count_parameters, predict
from dlcurriculum.ch02_scaling_laws.impl import load_impl
from dlcurriculum.core import sweep
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.seed import choose_device, seed_everything

POOL_SIZE = 50_000
"""Training images the data fractions are taken from (the first 50k of the 60k)."""
TUNE_SIZE = 10_000
"""The last 10k training images: validation for the learning-rate search only, so the
test set that every reported loss uses never chooses a hyperparameter."""


def lr_for_width(width: int, base_lr: float, base_width: int) -> float:
    """Adam's learning rate scaled like the init scale, 1/sqrt(fan_in), from a base width.

    PyTorch initialises conv weights with a std proportional to 1/sqrt(fan_in), and Adam's
    step size is an absolute change per weight, so the step should shrink like the weights:
    the widest layers have fan_in proportional to width, hence lr ∝ 1/sqrt(width).
    """
    return base_lr * math.sqrt(base_width / width)


@functools.lru_cache(maxsize=1)  # a pool process runs many cells: load MNIST once per process
def _mnist(device: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from dlcurriculum.data import load_mnist

    data = load_mnist("float32")
    return (
        data.train_images[:, None].to(device),
        data.train_labels.to(device),
        data.test_images[:, None].to(device),
        data.test_labels.to(device),
    )


def tuned_lr(tune_dir: Path, width: int, dropout: float) -> float:
    """The learning rate with the lowest validation loss in a finished search, for one width."""
    done = sweep.read_rows(tune_dir)
    total = len(sweep.load(tune_dir).cells)
    if len(done) < total:
        raise DlcError(
            f"the learning-rate search in {tune_dir} has {len(done)}/{total} cells done: "
            "run its cells before the grid's"
        )
    mine = [r for r in done if r["width"] == width and r["dropout"] == dropout]
    if not mine:
        raise DlcError(f"the learning-rate search in {tune_dir} has no run of width {width}")
    return float(min(mine, key=lambda r: r["val_loss"])["lr"])


def train_cell(params: dict[str, Any], sweep_dir: Path) -> dict[str, Any]:
    """Train one CNN for exactly one epoch over its subset and evaluate it (the sweep worker).

    Args:
        params: width, train_size (the first n of the pool), seed, dropout, batch_size,
            lr (a number, or None to take the best of the search in sweep_dir / lr_from),
            evaluate_on ("test": the full 10k test set; "tune": the held-out 10k), impl
            (the learner's workspace, '' for the reference) and the setting device.
        sweep_dir: the sweep folder this cell belongs to.

    Returns:
        The cell's results: learning rate, parameters, forward FLOPs per example, examples
        seen, training compute, mean training loss, validation loss and accuracy, seconds
        of training, and the device it ran on.
    """
    ns = load_impl(params["impl"])
    device = choose_device(params["device"])
    train_x, train_y, test_x, test_y = _mnist(str(device))
    width, dropout, n, batch = (params[k] for k in ("width", "dropout", "train_size", "batch_size"))
    lr = params["lr"]
    if lr is None:
        lr = tuned_lr((sweep_dir / params["lr_from"]).resolve(), width, dropout)
    seed_everything(params["seed"])
    model = CNN(width=width, dropout=dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = n // batch  # the partial last batch is dropped; compute counts examples seen
    # cosine decay to zero over this run's own length: Hoffmann et al. 2022 show that a
    # schedule longer than the run (as in Kaplan et al.) makes short runs look worse
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(params["seed"]))
    start, total_loss = time.perf_counter(), 0.0
    model.train()
    for step in range(steps):
        idx = order[step * batch : (step + 1) * batch].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
        loss.backward()
        optimizer.step()
        schedule.step()
        total_loss += loss.item()
    train_s = time.perf_counter() - start
    if params["evaluate_on"] == "tune":
        val_x, val_y = train_x[-TUNE_SIZE:], train_y[-TUNE_SIZE:]
    else:
        val_x, val_y = test_x, test_y
    logits = predict(model, val_x)
    forward = ns.forward_flops(model)
    examples = steps * batch
    return {
        "lr": lr,
        "parameters": count_parameters(model),
        "forward_flops": forward,
        "examples": examples,
        "compute": ns.training_flops(forward, examples),
        "train_loss": total_loss / steps,
        "val_loss": F.cross_entropy(logits, val_y).item(),
        "val_accuracy": (logits.argmax(1) == val_y).float().mean().item(),
        "train_s": train_s,
        "device": str(device),
    }
