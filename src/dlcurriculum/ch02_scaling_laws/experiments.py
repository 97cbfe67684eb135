"""`dlc run scaling`: the MNIST scaling study, with and without dropout, on a resumable sweep.

The run folder holds up to two sweeps (core/sweep.py): `tune/` (the learning-rate search,
only with lr_mode=tuned) and `grid/` (width x data fraction x seed x dropout). `run`
trains every pending cell in a local pool, then fits the laws; `plan` prints the same
cells as independent commands for a cluster instead. `dlc report DIR` refits the laws
from grid/ and redraws the report without training anything.

Ref: Kaplan et al. 2020; Hoffmann et al. 2022.
"""

import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dlcurriculum.ch02_scaling_laws import analysis
from dlcurriculum.ch02_scaling_laws.plots import report_figures, report_sections
from dlcurriculum.ch02_scaling_laws.train import POOL_SIZE, lr_for_width
from dlcurriculum.core import runs, sweep
from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import Criterion, RunRecord, Verdict, not_measured

WORKER = "dlcurriculum.ch02_scaling_laws.train:train_cell"
TUNE, GRID = "tune", "grid"
MAX_WIDTHS = 20
"""Each width step about doubles a cell's FLOPs: 20 widths span a factor of 2^19 in compute."""
MIN_BOOTSTRAP = 10
"""Fewer resamples than this give no interval (`analysis._interval`)."""


@dataclass(frozen=True)
class ScalingConfig(RunConfig):
    """A grid of CNN widths x training-set fractions x seeds x dropout rates, one epoch each."""

    min_width: int = 2
    """Width of the narrowest CNN (channels of its first conv layer; the others have 2x, 4x)."""
    n_widths: int = 6
    """Widths are min_width * sqrt(2)^k rounded, k < n_widths: forward FLOPs ~double per step."""
    n_fractions: int = 6
    """Training-set fractions 1, 1/2, ..., 1/2^(n_fractions - 1) of the pool."""
    pool_size: int = POOL_SIZE
    """Training images the fractions are taken from (the first n; at most 50k)."""
    seeds: int = 2
    """Seeds per cell; the bootstrap intervals resample them."""
    dropouts: tuple[float, ...] = (0.0, 0.2)
    """Dropout rates before the head: the whole study is repeated for each."""
    batch_size: int = 64
    """Examples per Adam step."""
    lr: float = 1e-2
    """Adam's peak learning rate at base_width (cosine decay to 0 over each run)."""
    base_width: int = 8
    """The width that gets `lr`; others get lr * sqrt(base_width / width) (1/sqrt(fan_in))."""
    lr_mode: Literal["scaled", "tuned"] = "scaled"
    """scaled: the 1/sqrt(fan_in) rule; tuned: per width and dropout, the best of
    lr_factors x the scaled rate, by loss on 10k held-out training images (all data)."""
    lr_factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Multipliers of the scaled learning rate that lr_mode=tuned tries."""
    irreducible: bool = False
    """Fit L = e + a * C^-alpha (an irreducible loss e) instead of a pure power law."""
    bootstrap: int = 1000
    """Bootstrap resamples of the seeds for the 95% intervals."""
    workers: int = 0
    """Processes in the pool (0: one per available core); each uses one thread."""
    min_r2: float = 0.9
    """The bar for the frontier fit's R² (of log loss)."""
    max_exponent_ci_width: float = 0.2
    """The widest 95% bootstrap interval a judged exponent may have (the optimal-size β, and
    each dropout rate's frontier α): narrower than the 0.23 between Kaplan's β (0.73) and
    Hoffmann's (about 0.5), so the measurement could tell the two apart."""
    size_exponent_range: tuple[float, float] = (0.2, 0.9)
    """Plausible range of β in N_opt ∝ C^β. With C ∝ N D, β <= 0 (a bigger budget buys no
    bigger model) and β >= 1 (it buys less data) are nonsense. Language models give 0.46-0.73
    (Hoffmann et al. 2022, table 2; Kaplan et al. 2020, eq. 1.6); a small one-epoch CPU grid
    whose frontier ends at the grid's edges (the smallest width, all the data) is far
    cruder, hence the wide margin on both sides (our quick run measured 0.39)."""

    def __post_init__(self) -> None:
        check(self, "min_width", ge=2)  # from 2 up, every sqrt(2) step rounds to a new width
        check(self, "n_widths", ge=2, le=MAX_WIDTHS)
        check(self, "n_fractions", "seeds", "batch_size", "base_width", ge=1)
        check(self, "pool_size", ge=1, le=POOL_SIZE)
        check(self, "dropouts", ge=0, lt=1)
        check(self, "lr", "lr_factors", "max_exponent_ci_width", gt=0)
        one_of(self, "lr_mode", ("scaled", "tuned"))
        check(self, "bootstrap", ge=MIN_BOOTSTRAP)
        check(self, "workers", ge=0)
        check(self, "min_r2", "size_exponent_range", ge=0, le=1)
        # pool_size >> k is pool_size // 2^k, without computing 2^k for a huge n_fractions
        smallest = self.pool_size >> min(self.n_fractions - 1, self.pool_size.bit_length())
        require(
            smallest >= self.batch_size,
            f"the smallest fraction must hold at least one batch: pool_size // "
            f"2^(n_fractions - 1) = {self.pool_size} // 2^{self.n_fractions - 1} = {smallest} "
            f"< batch_size={self.batch_size}; lower n_fractions or batch_size",
        )
        lo_hi = self.size_exponent_range
        require(
            len(lo_hi) == 2 and lo_hi[0] < lo_hi[1],
            f"size_exponent_range must be two numbers lo < hi, got {lo_hi}",
        )

    @property
    def widths(self) -> tuple[int, ...]:
        """The CNN widths, narrowest first."""
        return tuple(round(self.min_width * math.sqrt(2) ** k) for k in range(self.n_widths))

    @property
    def train_sizes(self) -> tuple[int, ...]:
        """Training examples per fraction, largest first."""
        return tuple(self.pool_size // 2**k for k in range(self.n_fractions))


PRESETS = {
    "smoke": ScalingConfig(n_widths=2, n_fractions=2, pool_size=1024, bootstrap=50, workers=2),
    "quick": ScalingConfig(),
    "full": ScalingConfig(n_widths=9, n_fractions=7, seeds=3),
}


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
    ns = resolve("ch02_scaling_laws", cfg.impl)
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


def _fits(record: RunRecord, dropout: str = "0") -> dict[str, Any]:
    return record.summary["fits"][dropout]  # type: ignore[no-any-return]


def _complete(record: RunRecord) -> Verdict:
    s, cfg = record.summary, record.config
    done = s["cells"] == s["expected_cells"] and cfg["seeds"] >= 2
    return Verdict(done, f"{s['cells']}/{s['expected_cells']} runs, {cfg['seeds']} seeds each")


def _frontier_r2(record: RunRecord) -> Verdict:
    r2 = {d: f["frontier"]["r2"] for d, f in record.summary["fits"].items()}
    shown = ", ".join(f"dropout {d}: {_fmt(v)}" for d, v in r2.items())
    if any(v is not None and not v >= record.config["min_r2"] for v in r2.values()):
        return Verdict(False, f"R² {shown}")
    if not r2 or None in r2.values():
        return not_measured(f"no frontier fit (fewer than 3 frontier runs): R² {shown}")
    return Verdict(True, f"R² {shown}")


def _interval_flaw(ci: list[float] | None, max_width: float) -> str | None:
    """Why a bootstrap interval cannot support a verdict: None when it is finite, not
    degenerate and no wider than max_width."""
    lo, hi = ci or (math.nan, math.nan)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "no finite interval"
    if hi <= lo:  # every resample picked the same runs: too few model sizes to say anything
        return "a degenerate interval, widen the grid"
    if hi - lo > max_width:
        return f"interval wider than {max_width:g}"
    return None


def _optimal_size(record: RunRecord) -> Verdict:
    fit, cfg = _fits(record)["optimal_size"], record.config
    beta, ci = fit["exponent"], fit["ci"]
    if beta is None:
        return not_measured(f"no fit ({fit['points']} frontier runs)")
    if ci is None:
        return not_measured(f"β = {beta:.2f} without an interval (one seed, or no resamples)")
    lo, hi = ci
    text = f"β = {beta:.2f}, 95% CI [{lo:.2f}, {hi:.2f}] (width {hi - lo:.2f})"
    low, high = cfg["size_exponent_range"]
    flaw = _interval_flaw(ci, cfg["max_exponent_ci_width"])
    if flaw is None and not low <= beta <= high:
        flaw = "outside the plausible range"
    return Verdict(flaw is None, text if flaw is None else f"{text}: {flaw}")


def _dropout_compared(record: RunRecord) -> Verdict:
    fits, max_width = record.summary["fits"], record.config["max_exponent_ci_width"]
    if "0" not in fits or len(fits) < 2:
        return not_measured(
            f"conditions {sorted(fits)}: the study needs dropout 0 and a rate above it "
            "(--set dropouts=0,0.2)"
        )
    parts, verdicts = [], []
    for d, f in fits.items():
        alpha, ci = f["frontier"]["exponent"], f["frontier"]["ci"]
        shown = _fmt(alpha) + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else " (no interval)")
        flaw = _interval_flaw(ci, max_width) if alpha is not None else "no fit"
        parts.append(f"dropout {d}: α = {shown}" + (f" ({flaw})" if flaw else ""))
        # a missing fit or interval is unmeasured; a too-wide one is a measured failure
        verdicts.append(None if flaw in ("no fit", "no finite interval") else flaw is None)
    others = [d for d in fits if d != "0"]
    base = fits["0"]["frontier"]["exponent"]
    moves = [
        f"Δα({d}) = {fits[d]['frontier']['exponent'] - base:+.3f}"
        for d in others
        if base is not None and fits[d]["frontier"]["exponent"] is not None
    ]
    measured = "; ".join(parts + moves)
    if False in verdicts:
        return Verdict(False, measured)
    if None in verdicts:
        return not_measured(measured)
    return Verdict(True, measured)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


SCALING = ExperimentSpec(
    name="scaling",
    title="Chapter 2: scaling laws of MNIST CNNs, with and without dropout",
    presets=PRESETS,
    run=run,
    criteria=(
        Criterion("every cell trained, with at least 2 seeds", _complete),
        Criterion(
            "the frontier's power law L(C) fits with R² ≥ {min_r2:g} at every dropout rate",
            _frontier_r2,
        ),
        Criterion(
            "compute-optimal size N_opt ∝ C^β (no dropout): "
            "{size_exponent_range[0]:g} ≤ β ≤ {size_exponent_range[1]:g}, "
            "bootstrap 95% CI width ≤ {max_exponent_ci_width:g}",
            _optimal_size,
        ),
        Criterion(
            "the study is repeated with dropout: every rate's frontier exponent α has a "
            "bootstrap 95% CI of width ≤ {max_exponent_ci_width:g}",
            _dropout_compared,
        ),
    ),
    figures=report_figures,
    sections=report_sections,
    next_steps=(
        "Look at where the frontier bends: its ends are limited by the grid (no smaller or "
        "larger model, no more data), not by the law. Compare `--set lr_mode=tuned` with the "
        "default scaled learning rates: how much do the exponents move? Try "
        "`--set irreducible=true` to fit a floor under the loss, and `--preset full`."
    ),
    plan=plan,
)
