"""The prerequisite's experiments: `dlc run mnist` (a CNN to 99%) and `dlc run regularization`."""

from pathlib import Path

import torch

from dlcurriculum.ch00_mnist.config import PRESETS, MNISTConfig
from dlcurriculum.ch00_mnist.impl import load_impl
from dlcurriculum.ch00_mnist.loop import evaluate, fit, load_splits, split_validation
from dlcurriculum.ch00_mnist.model import count_parameters
from dlcurriculum.ch00_mnist.regularization_experiment import run_regularization
from dlcurriculum.ch00_mnist.report import (
    MNIST_CRITERIA,
    REGULARIZATION_CRITERIA,
    mnist_figures,
    mnist_sections,
    regularization_figures,
    regularization_sections,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything


def run_mnist(cfg: MNISTConfig, run_dir: Path) -> Result:
    """Train the CNN, checkpointing as it goes (resumes from run_dir's last checkpoint).

    Curves and early stopping watch the validation split; the test split is evaluated once,
    after training, for the reported figure.
    """
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = load_impl(cfg.impl)
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


MNIST = ExperimentSpec(
    name="mnist",
    title="Prerequisite: a CNN to 99% on MNIST",
    presets=PRESETS["mnist"],
    run=run_mnist,
    criteria=MNIST_CRITERIA,
    figures=mnist_figures,
    sections=mnist_sections,
    next_steps=(
        "Look at the loss curves: train and validation loss should fall together. Then try "
        "`dlc run regularization --preset quick` to see which regularizers help when data is "
        "scarce, and `dlc start 0` to write the CNN yourself."
    ),
)

REGULARIZATION = ExperimentSpec(
    name="regularization",
    title="Prerequisite: regularization on full and scarce MNIST",
    presets=PRESETS["regularization"],
    run=run_regularization,
    criteria=REGULARIZATION_CRITERIA,
    figures=regularization_figures,
    sections=regularization_sections,
    next_steps=(
        "Compare the gaps between conditions with the error bars: a difference smaller than "
        "the spread over seeds is not a finding. Try combining the two best regularizers "
        "(e.g. `--set dropout=0.5`) or a smaller subset (`--set train_sizes=1000,50000`)."
    ),
)
