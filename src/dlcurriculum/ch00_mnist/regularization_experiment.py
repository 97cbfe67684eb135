"""The regularization study: dropout, weight decay, augmentation and early stopping vs a baseline.

Each regularizer is switched on alone, on the full training set and on a small subset
(where overfitting, and so regularization, matters), for several seeds. Every run sees
the same number of training examples, so a small subset means many epochs.
The last `val_size` training images are held out as the validation split: early stopping
watches it, and the best regularizer is chosen on it. The test split is evaluated once
per run, after training, and only the validation winner's test gain is judged.
"""

import statistics
from pathlib import Path
from typing import Any

from dlcurriculum.ch00_mnist.config import RegularizationConfig
from dlcurriculum.ch00_mnist.impl import load_impl
from dlcurriculum.ch00_mnist.loop import Split, evaluate, fit, load_splits
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything

Stats = dict[str, float | int]
"""One (train size, condition) over seeds: n, then test accuracy's mean and std and
validation accuracy's val_mean and val_std."""


def run_regularization(cfg: RegularizationConfig, run_dir: Path) -> Result:
    """Train every cell; a row per finished cell in metrics.jsonl, so a restart skips done cells.

    Each cell's final model is evaluated on the validation split (which chooses the best
    regularizer) and, once, on the test split (which only reports).
    """
    clock = runs.Stopwatch()
    device = choose_device(cfg.device)
    ns = load_impl(cfg.impl)
    train_all, test = load_splits(60_000, cfg.test_size, device)
    start = len(train_all) - cfg.val_size
    val = Split(train_all.images[start:], train_all.labels[start:])
    done = runs.read_metrics(run_dir)
    cells = cfg.cells()
    with (
        runs.MetricLogger(run_dir, resume_step=len(done) - 1 if done else None) as logger,
        runs.progress(len(cells), "cells", initial=len(done)) as bar,
    ):
        for i, (condition, size, seed) in enumerate(cells[len(done) :], start=len(done)):
            cell = cfg.cell_config(condition, size, seed)
            seed_everything(cell.seed)
            model = ns.CNN(width=cell.width, dropout=cell.dropout).to(device)
            train = Split(train_all.images[:size], train_all.labels[:size])
            desc = f"[{i + 1}/{len(cells)}] {condition} n={size} seed={seed}"
            evals = {"val": val} if cell.patience else {}  # only early stopping watches val
            out = fit(cell, model, train, ns, evals, test, desc=desc)
            out["val_loss"], out["val_accuracy"] = evaluate(model, val, ns)
            logger.log(
                i,
                condition=condition,
                train_size=size,
                seed=seed,
                **{f"eval/{k}": v for k, v in out.items() if v is not None},
            )
            bar.update(1)
    rows = runs.read_metrics(run_dir)
    return finish(
        run_dir, {"cells": len(rows), "table": aggregate(rows), "wall_time_s": clock.elapsed}
    )


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[str, Stats]]:
    """{train size: {condition: stats}} over seeds: test accuracy as mean, std and n, and
    validation accuracy as val_mean and val_std."""
    table: dict[str, dict[str, Stats]] = {}
    for size in sorted({r["train_size"] for r in rows}):
        table[str(size)] = {}
        for condition in dict.fromkeys(r["condition"] for r in rows):
            cell = [r for r in rows if r["train_size"] == size and r["condition"] == condition]
            if not cell:
                continue
            stats: Stats = {"n": len(cell)}
            for prefix, key in (("", "eval/test_accuracy"), ("val_", "eval/val_accuracy")):
                accs = [r[key] for r in cell if key in r]
                if accs:
                    stats[prefix + "mean"] = statistics.fmean(accs)
                    stats[prefix + "std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
            table[str(size)][condition] = stats
    return table


def choose_on_validation(by_condition: dict[str, Stats]) -> str:
    """The regularizer (not the baseline) with the best mean validation accuracy."""
    regularizers = [c for c in by_condition if c != "baseline"]
    return max(regularizers, key=lambda c: by_condition[c]["val_mean"])


def gain_on_test(by_condition: dict[str, Stats], condition: str) -> tuple[float, float]:
    """(mean test-accuracy gain of `condition` over baseline, its standard error).

    Raises KeyError (the criterion is then N/A) when either mean has fewer than 2 seeds,
    as its spread, and so the standard error, is unknown.
    """
    s, base = by_condition[condition], by_condition["baseline"]
    if min(s["n"], base["n"]) < 2:
        raise KeyError(f"a spread over seeds for {condition} and baseline (needs seeds >= 2)")
    se = (s["std"] ** 2 / s["n"] + base["std"] ** 2 / base["n"]) ** 0.5
    return s["mean"] - base["mean"], se
