"""The regularization study: dropout, weight decay, augmentation and early stopping vs a baseline.

Each regularizer is switched on alone, on the full training set and on a small subset
(where overfitting, and so regularization, matters), for several seeds. Every run sees
the same number of training examples, so a small subset means many epochs.
The last `val_size` training images are held out as the validation split: early stopping
watches it, and the best regularizer is chosen on it. The test split is evaluated once
per run, after training, and only the validation winner's test gain is judged.
"""

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum.ch00_mnist.experiments import (
    MAX_SHIFT,
    MNIST_TEST,
    MNIST_TRAIN,
    MNISTConfig,
    load_splits,
)
from dlcurriculum.ch00_mnist.loop import Split, evaluate, fit
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)
from dlcurriculum.core.seed import choose_device, seed_everything

CONDITIONS = ("baseline", "dropout", "weight_decay", "augmentation", "early_stopping")
MIN_SEEDS = 3
"""Fewer seeds than this give no usable spread between seeds."""
Stats = dict[str, float | int]
"""One (train size, condition) over seeds: n, then test accuracy's mean and std and
validation accuracy's val_mean and val_std."""


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


PRESETS = {
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


def run(cfg: RegularizationConfig, run_dir: Path) -> Result:
    """Train every cell; a row per finished cell in metrics.jsonl, so a restart skips done cells.

    Each cell's final model is evaluated on the validation split (which chooses the best
    regularizer) and, once, on the test split (which only reports).
    """
    clock = runs.Stopwatch()
    device = choose_device(cfg.device)
    ns = resolve("ch00_mnist", cfg.impl)
    train_all, test = load_splits(60_000, cfg.test_size, device)
    start = len(train_all) - cfg.val_size
    val = Split(train_all.images[start:], train_all.labels[start:])
    done = runs.read_metrics(run_dir)
    cells = cfg.cells()
    with runs.MetricLogger(run_dir, resume_step=len(done) - 1 if done else None) as logger:
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


def _complete(record: RunRecord) -> Verdict:
    cfg = record.config
    expected = len(cfg["conditions"]) * len(cfg["train_sizes"]) * cfg["seeds"]
    n = record.summary["cells"]
    return Verdict(
        n == expected and cfg["seeds"] >= MIN_SEEDS,
        f"{n}/{expected} runs, {cfg['seeds']} seeds each",
    )


def _helps_small(record: RunRecord) -> Verdict:
    table, z = record.summary["table"], record.config["min_z"]
    small = min(table, key=int)
    chosen = choose_on_validation(table[small])
    gain, se = gain_on_test(table[small], chosen)
    return Verdict(
        gain > z * se,
        f"{chosen} (chosen on validation): {100 * gain:+.2f} ± {100 * se:.2f} (SE) test points "
        f"on n={small}, {gain / se if se else float('inf'):.1f} SE",
    )


def _matters_more_when_small(record: RunRecord) -> Verdict:
    table, z = record.summary["table"], record.config["min_z"]
    sizes = sorted(table, key=int)
    if len(sizes) < 2:
        return not_measured("the run has a single training-set size; it needs two")
    gains = {n: gain_on_test(table[n], choose_on_validation(table[n])) for n in sizes}
    (g_small, se_small), (g_large, se_large) = gains[sizes[0]], gains[sizes[-1]]
    diff, se = g_small - g_large, (se_small**2 + se_large**2) ** 0.5
    text = ", ".join(
        f"n={n}: {choose_on_validation(table[n])} {100 * g:+.2f} ± {100 * e:.2f}"
        for n, (g, e) in gains.items()
    )
    return Verdict(
        diff > z * se,
        f"test gain (points ± SE) {text}; difference {100 * diff:+.2f} ± {100 * se:.2f}",
    )


def _figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    table = record.summary["table"]
    sizes = sorted(table, key=int)
    conditions = list(table[sizes[0]])
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.8), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        means = [100 * table[size][c]["mean"] for c in conditions]
        stds = [100 * table[size][c]["std"] for c in conditions]
        has_val = len(conditions) > 1 and all("val_mean" in table[size][c] for c in conditions)
        chosen = choose_on_validation(table[size]) if has_val else None
        ax.bar(
            range(len(conditions)),
            means,
            yerr=stds,
            capsize=4,
            color=[
                "gray" if c == "baseline" else "C1" if c == chosen else "C0" for c in conditions
            ],
        )
        ax.set_xticks(
            range(len(conditions)), [c.replace("_", "\n") for c in conditions], fontsize=8
        )
        lo = min(m - s for m, s in zip(means, stds, strict=True))
        ax.set(
            ylim=(max(0, lo - 0.5), min(100, max(means) + 0.5)),
            ylabel="test accuracy (%)",
            title=f"{int(size):,} training examples",
        )
    fig.suptitle(
        "Each regularizer alone vs baseline: test accuracy, mean ± std over seeds\n"
        "(orange: the regularizer chosen on validation)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # leave room for the two-line title
    return [save_figure(fig, record.run_dir / "figures" / "regularization.png")]


def _sections(record: RunRecord) -> list[tuple[str, str]]:
    table = record.summary["table"]
    rows = []
    for size, by_condition in sorted(table.items(), key=lambda kv: int(kv[0])):
        base = by_condition["baseline"]["mean"]
        has_val = len(by_condition) > 1 and all("val_mean" in s for s in by_condition.values())
        chosen = choose_on_validation(by_condition) if has_val else None
        for condition, s in by_condition.items():
            delta = "" if condition == "baseline" else f"{100 * (s['mean'] - base):+.2f}"
            rows.append(
                (
                    f"{int(size):,}",
                    condition + (" (chosen)" if condition == chosen else ""),
                    f"{100 * s['val_mean']:.2f} ± {100 * s['val_std']:.2f}"
                    if "val_mean" in s
                    else "—",
                    f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}",
                    delta,
                    s["n"],
                )
            )
    header = [
        "train size",
        "condition",
        "validation accuracy (%)",
        "test accuracy (%)",
        "test Δ vs baseline (points)",
        "seeds",
    ]
    note = (
        "Mean ± std over seeds. The regularizer marked *chosen* has the best validation "
        "accuracy at that size; only its test gain is judged, so the test split chooses nothing."
    )
    return [("Results", markdown_table(header, rows) + "\n\n" + note)]


REGULARIZATION = ExperimentSpec(
    name="regularization",
    title="Prerequisite: regularization on full and scarce MNIST",
    presets=PRESETS,
    run=run,
    criteria=(
        Criterion(f"every condition ran on every size with at least {MIN_SEEDS} seeds", _complete),
        Criterion(
            "on the smallest set, the regularizer chosen on validation beats baseline on test "
            "by > {min_z:g} standard errors",
            _helps_small,
        ),
        Criterion(
            "its test gain is larger on the smallest set than on the largest "
            "(each size's validation choice) by > {min_z:g} standard errors",
            _matters_more_when_small,
        ),
    ),
    figures=_figures,
    sections=_sections,
    next_steps=(
        "Compare the gaps between conditions with the error bars: a difference smaller than "
        "the spread over seeds is not a finding. Try combining the two best regularizers "
        "(e.g. `--set dropout=0.5`) or a smaller subset (`--set train_sizes=1000,50000`)."
    ),
)
