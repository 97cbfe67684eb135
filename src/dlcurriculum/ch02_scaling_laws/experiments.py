"""`dlc run scaling`: the MNIST scaling study, with and without dropout, on a resumable sweep.

The run folder holds up to two sweeps (core/sweep.py): `tune/` (the learning-rate search,
only with lr_mode=tuned) and `grid/` (width x data fraction x seed x dropout). `run`
trains every pending cell in a local pool, then fits the laws; `plan` prints the same
cells as independent commands for a cluster instead. `dlc report DIR` refits the laws
from grid/ and redraws the report without training anything.

Ref: Kaplan et al. 2020; Hoffmann et al. 2022.
"""

import shlex
from pathlib import Path
from typing import Any

from dlcurriculum.ch02_scaling_laws import analysis
from dlcurriculum.ch02_scaling_laws.config import PRESETS, ScalingConfig
from dlcurriculum.ch02_scaling_laws.impl import load_impl
from dlcurriculum.ch02_scaling_laws.report import (
    SCALING_CRITERIA,
    scaling_figures,
    scaling_sections,
)
from dlcurriculum.ch02_scaling_laws.train import lr_for_width
from dlcurriculum.core import runs, sweep
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish

WORKER = "dlcurriculum.ch02_scaling_laws.train:train_cell"
TUNE, GRID = "tune", "grid"


def _cell(cfg: ScalingConfig, **params: Any) -> dict[str, Any]:
    return {"batch_size": cfg.batch_size, "impl": cfg.impl, **params}


def tune_cells(cfg: ScalingConfig) -> list[dict[str, Any]]:
    """The learning-rate search: every width, dropout and factor, on all the data, seed 0."""
    return [
        _cell(
            cfg,
            width=w,
            train_size=cfg.pool_size,
            seed=1000 * cfg.seed,
            dropout=d,
            lr=factor * lr_for_width(w, cfg.lr, cfg.base_width),
            evaluate_on="tune",
        )
        for w in reversed(cfg.widths)
        for d in cfg.dropouts
        for factor in cfg.lr_factors
    ]


def grid_cells(cfg: ScalingConfig) -> list[dict[str, Any]]:
    """Every training of the study, the most expensive first (so the pool ends on short cells)."""
    tuned = cfg.lr_mode == "tuned"
    return [
        _cell(
            cfg,
            width=w,
            train_size=n,
            seed=1000 * cfg.seed + s,
            dropout=d,
            lr=None if tuned else lr_for_width(w, cfg.lr, cfg.base_width),
            evaluate_on="test",
            lr_from=f"../{TUNE}" if tuned else "",
        )
        for w in reversed(cfg.widths)
        for n in cfg.train_sizes
        for d in cfg.dropouts
        for s in range(cfg.seeds)
    ]


def prepare(cfg: ScalingConfig, run_dir: Path) -> list[tuple[str, Path]]:
    """Write the sweep folders' manifests; (label, folder) per stage, in order."""
    stages = [("lr search", run_dir / TUNE, tune_cells(cfg))] if cfg.lr_mode == "tuned" else []
    stages.append(("grid", run_dir / GRID, grid_cells(cfg)))
    for _, folder, cells in stages:
        # the device is a setting, not part of a cell: a resumed run may move to another
        sweep.prepare(folder, WORKER, cells, {"device": cfg.device})
    return [(label, folder) for label, folder, _ in stages]


def run(cfg: ScalingConfig, run_dir: Path) -> Result:
    """Train every pending cell in a pool, then fit the laws (a rerun skips finished cells)."""
    clock = runs.Stopwatch()
    for label, folder in prepare(cfg, run_dir):
        sweep.run_sweep(folder, cfg.workers, desc=label, show="val_loss")
    return finish(run_dir, {**summarize(cfg, run_dir), "wall_time_s": clock.elapsed})


def summarize(cfg: ScalingConfig, run_dir: Path) -> dict[str, Any]:
    """The grid's fits and facts, as summary.json holds them."""
    rows = sweep.read_rows(run_dir / GRID)
    ns = load_impl(cfg.impl)
    by_width = sorted(rows, key=lambda r: (r["width"], r["dropout"]))
    lrs = {f"{r['width']}/{r['dropout']:g}": r["lr"] for r in by_width}
    return {
        "cells": len(rows),
        "expected_cells": len(grid_cells(cfg)),
        "fits": analysis.analyze(rows, ns, cfg.irreducible, cfg.bootstrap, cfg.seed),
        "lrs": lrs,
        "compute_range": [min(r["compute"] for r in rows), max(r["compute"] for r in rows)],
        "cpu_s": sum(r["train_s"] for r in rows),
    }


def plan(cfg: ScalingConfig, run_dir: Path) -> list[str]:
    """Shell commands that run the study anywhere: one per cell, stage by stage, then the fits."""
    lines = []
    for k, (label, folder) in enumerate(prepare(cfg, run_dir), start=1):
        commands = sweep.plan(folder)
        after = "; start them once stage 1 has finished" if k > 1 else ""
        lines += [f"# stage {k}, {label}: {len(commands)} independent commands{after}", *commands]
    lines += [
        "# last, once every cell is done: fit the laws and write the report",
        f"dlc run scaling --resume {shlex.quote(str(run_dir.resolve()))}",
    ]
    return lines


SCALING = ExperimentSpec(
    name="scaling",
    title="Chapter 2: scaling laws of MNIST CNNs, with and without dropout",
    presets=PRESETS["scaling"],
    run=run,
    criteria=SCALING_CRITERIA,
    figures=scaling_figures,
    sections=scaling_sections,
    next_steps=(
        "Look at where the frontier bends: its ends are limited by the grid (no smaller or "
        "larger model, no more data), not by the law. Compare `--set lr_mode=tuned` with the "
        "default scaled learning rates: how much do the exponents move? Try "
        "`--set irreducible=true` to fit a floor under the loss, and `--preset full`."
    ),
    plan=plan,
)
