"""The study's figures and tables: pure functions of fitted grids, plus the report adapters.

`report_figures` and `report_sections` back `dlc report DIR`: they refit the laws from
the grid's result rows (no training), so a change to the analysis shows up at once.

Ref: Kaplan et al. 2020, fig. 1, 2 and 14; Hoffmann et al. 2022, fig. 3.
"""

import math
from pathlib import Path
from typing import Any

import numpy as np

from dlcurriculum.ch02_scaling_laws import analysis
from dlcurriculum.ch02_scaling_laws.analysis import ConditionFit, Grid
from dlcurriculum.ch02_scaling_laws.impl import load_impl
from dlcurriculum.core import sweep
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)
from dlcurriculum.core.runs import write_json

Conditions = dict[str, tuple[Grid, ConditionFit]]
SHORT = {
    "frontier": "L(C)",
    "error": "err(C)",
    "optimal_size": "N_opt(C), frontier",
    "isoflop_size": "N_opt(C), iso-C",
    "data": "L(D)",
    "width": "L(N)",
}
LAWS = {
    "frontier": "L(C) ∝ C^-α, loss frontier",
    "error": "err(C) ∝ C^-α, error-rate frontier",
    "optimal_size": "N_opt(C) ∝ C^β, frontier models",
    "isoflop_size": "N_opt(C) ∝ C^β, iso-compute minima",
    "data": "L(D) ∝ D^-α, largest width",
    "width": "L(N) ∝ N^-α, all the data",
}


def _label(dropout: str) -> str:
    return "no dropout" if float(dropout) == 0 else f"dropout {float(dropout):.0%}"


def plot_frontier(conditions: Conditions, metric: str = "loss") -> Any:
    """Every run's validation loss (or error rate) against compute, the frontier and its fit."""
    plt = pyplot()
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, len(conditions), figsize=(5.5 * len(conditions), 4), squeeze=False)
    for ax, (dropout, (g, result)) in zip(axes[0], conditions.items(), strict=True):
        values = g.loss if metric == "loss" else g.error  # [cells, seeds]
        seeds = values.shape[1]
        dots = ax.scatter(
            np.repeat(g.compute, seeds),
            values.ravel(),
            c=np.repeat(g.width, seeds),
            norm=LogNorm(),
            cmap="viridis",
            s=14,
            alpha=0.7,
        )
        mean = values.mean(1)
        front = result.frontier if metric == "loss" else result.error_frontier
        ax.plot(g.compute[front], mean[front], "k.-", lw=0.8, label="frontier (seed means)")
        law = result.laws["frontier" if metric == "loss" else "error"]
        if law.points:
            x = np.geomspace(g.compute[front].min(), g.compute[front].max(), 50)
            ax.plot(x, law.predict(x), "r--", label=f"fit: α = {law.alpha:.3f}, R² = {law.r2:.3f}")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="training compute (FLOPs)",
            title=_label(dropout),
            ylabel="validation loss" if metric == "loss" else "validation error rate",
        )
        ax.legend(fontsize=8)
    bar = fig.colorbar(dots, ax=axes[0].tolist(), label="width")
    widths = np.unique(next(iter(conditions.values()))[0].width)
    bar.set_ticks(widths, labels=[str(w) for w in widths])
    bar.minorticks_off()
    return fig


def plot_optimal_size(conditions: Conditions) -> Any:
    """Compute-optimal parameters against compute: the frontier's models (dots) and the
    iso-compute profiles' minima (squares), each with its fitted law."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for k, (dropout, (g, result)) in enumerate(conditions.items()):
        color, front = f"C{k}", result.frontier
        ax.plot(g.compute[front], g.params[front], "o", color=color, ms=4, label=_label(dropout))
        budgets, sizes = result.optima
        ax.plot(budgets, sizes, "s", mfc="none", color=color, label="iso-compute minima")
        for name, style in (("optimal_size", "-"), ("isoflop_size", ":")):
            law = result.laws[name]
            if law.points:
                x = np.geomspace(g.compute[front].min(), g.compute[front].max(), 50)
                ax.plot(x, law.predict(x), style, color=color, label=f"β = {-law.alpha:.2f}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training compute (FLOPs)",
        ylabel="compute-optimal parameters",
        title="Compute-optimal model size",
    )
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_slices(conditions: Conditions) -> Any:
    """Loss against data at each width, and against parameters at each data size."""
    plt = pyplot()
    fig, axes = plt.subplots(len(conditions), 2, figsize=(10, 3.8 * len(conditions)), squeeze=False)
    for row, (dropout, (g, _)) in zip(axes, conditions.items(), strict=True):
        mean = g.loss.mean(1)
        for k, w in enumerate(np.unique(g.width)):
            mine = np.flatnonzero(g.width == w)
            mine = mine[np.argsort(g.examples[mine])]
            color = pyplot().cm.viridis(k / max(1, len(np.unique(g.width)) - 1))
            row[0].plot(g.examples[mine], mean[mine], "o-", color=color, ms=3, label=f"w={w}")
        for k, n in enumerate(np.unique(g.train_size)):
            mine = np.flatnonzero(g.train_size == n)
            mine = mine[np.argsort(g.params[mine])]
            color = pyplot().cm.plasma(k / max(1, len(np.unique(g.train_size)) - 1))
            row[1].plot(g.params[mine], mean[mine], "o-", color=color, ms=3, label=f"n={n}")
        row[0].set(xlabel="training examples (one epoch)", title=f"{_label(dropout)}: by width")
        row[1].set(xlabel="parameters", title=f"{_label(dropout)}: by data size")
        for ax in row:
            ax.set(xscale="log", yscale="log", ylabel="validation loss")
            ax.xaxis.set_minor_formatter(plt.NullFormatter())  # minor labels collide
            ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_exponents(fits: dict[str, dict[str, dict[str, Any]]]) -> Any:
    """Each law's exponent with its 95% interval, side by side for each dropout rate."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = list(LAWS)
    for k, (dropout, by_law) in enumerate(fits.items()):
        x = np.arange(len(names)) + (k - (len(fits) - 1) / 2) * 0.2
        y = np.array(
            [np.nan if by_law[n]["exponent"] is None else by_law[n]["exponent"] for n in names]
        )
        ci = [by_law[n]["ci"] or [np.nan, np.nan] for n in names]
        err = np.abs(np.array(ci).T - y)  # [2, laws]: distances below and above
        ax.errorbar(x, y, yerr=np.nan_to_num(err), fmt="o", capsize=4, label=_label(dropout))
    ax.set_xticks(range(len(names)), [SHORT[n] for n in names], fontsize=8)
    ax.set(ylabel="exponent (95% bootstrap CI)", title="Exponents with and without dropout")
    ax.axhline(0, color="gray", lw=0.5)
    ax.legend(fontsize=8)
    return fig


def _refit(record: RunRecord) -> tuple[Conditions, dict[str, Any]]:
    """Fit every condition again from grid/ (cheap next to training), and save the fits."""
    cfg = record.config
    rows = sweep.read_rows(record.run_dir / "grid")
    ns = load_impl(cfg["impl"])
    fits = analysis.analyze(rows, ns, cfg["irreducible"], cfg["bootstrap"], cfg["seed"])
    # the criteria are judged after the figures are drawn, so they see the refitted laws
    record.summary["fits"] = fits
    write_json(record.run_dir / "summary.json", record.summary)
    conditions = {}
    for dropout in sorted({r["dropout"] for r in rows}):
        g = analysis.to_grid(rows, dropout)
        point = analysis.fit_condition(g, g.loss.mean(1), g.error.mean(1), ns, cfg["irreducible"])
        conditions[f"{dropout:g}"] = (g, point)
    return conditions, fits


def scaling_figures(record: RunRecord) -> list[Path]:
    """Refit the laws and draw the report's figures into run_dir/figures."""
    conditions, fits = _refit(record)
    folder = record.run_dir / "figures"
    return [
        save_figure(plot_frontier(conditions, "loss"), folder / "loss_vs_compute.png"),
        save_figure(plot_frontier(conditions, "error"), folder / "error_vs_compute.png"),
        save_figure(plot_optimal_size(conditions), folder / "optimal_size.png"),
        save_figure(plot_slices(conditions), folder / "loss_vs_data_and_width.png"),
        save_figure(plot_exponents(fits), folder / "exponents.png"),
    ]


def _interval(fit: dict[str, Any]) -> tuple[str, str]:
    if fit["ci"] is None:
        return "n/a", "n/a"
    lo, hi = fit["ci"]
    return f"[{lo:.3f}, {hi:.3f}]", f"{hi - lo:.3f}"


def _with_interval(fit: dict[str, Any]) -> str:
    return f"{_num(fit['exponent'])} {_interval(fit)[0] if fit['ci'] else ''}".strip()


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def scaling_sections(record: RunRecord) -> list[tuple[str, str]]:
    """Tables of the fitted laws, the dropout comparison and the setup."""
    s, cfg = record.summary, record.config
    fits = s["fits"]
    rows = [
        (_label(d), LAWS[name], _num(f["exponent"]), *_interval(f), _num(f["r2"]), f["points"])
        for d, by_law in fits.items()
        for name, f in by_law.items()
    ]
    header = ["condition", "law", "exponent", "95% CI", "CI width", "R² (log)", "points"]
    laws = markdown_table(header, rows)
    conditions = list(fits)
    side = [(LAWS[name], *(_with_interval(fits[d][name]) for d in conditions)) for name in LAWS]
    compare = markdown_table(["law", *(_label(d) for d in conditions)], side)
    lr_text = (
        "tuned per width and dropout (best of "
        f"{', '.join(f'{f:g}x' for f in cfg['lr_factors'])} the scaled rate on held-out data)"
        if cfg["lr_mode"] == "tuned"
        else f"scaled as 1/sqrt(fan_in): {cfg['lr']:g} at width {cfg['base_width']}"
    )
    lrs = ", ".join(f"w{k.replace('/', ' d')}: {v:.2g}" for k, v in s["lrs"].items())
    lo, hi = s["compute_range"]
    setup = "\n".join(
        [
            f"- Learning rate: {lr_text}. Per width/dropout: {lrs}.",
            f"- Compute from {lo:.2e} to {hi:.2e} training FLOPs (3 x forward x examples).",
            f"- {s['cells']} trainings, {s['cpu_s'] / 60:.1f} CPU-minutes of training in total.",
            f"- Intervals: 2.5-97.5 percentiles of {cfg['bootstrap']} bootstrap resamples of the "
            "seeds of every cell. Fits: least squares of log y on log x"
            + (" after subtracting a fitted floor e." if cfg["irreducible"] else "."),
        ]
    )
    return [
        ("Fitted laws", laws),
        ("With and without dropout", compare),
        ("Setup", setup),
    ]


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


SCALING_CRITERIA = (
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
)
