"""The study's figures and tables: pure functions of fitted grids, plus the report adapters.

`report_figures` and `report_sections` back `dlc report DIR`: they refit the laws from
the grid's result rows (no training), so a change to the analysis shows up at once.

Ref: Kaplan et al. 2020, fig. 1, 2 and 14; Hoffmann et al. 2022, fig. 3.
"""

from pathlib import Path
from typing import Any

import numpy as np

from dlcurriculum.ch02_scaling_laws import analysis
from dlcurriculum.ch02_scaling_laws.analysis import ConditionFit, Grid
from dlcurriculum.core import sweep
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.report import RunRecord, markdown_table, pyplot, save_figure
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
    ns = resolve("ch02_scaling_laws", cfg["impl"])
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


def report_figures(record: RunRecord) -> list[Path]:
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


def report_sections(record: RunRecord) -> list[tuple[str, str]]:
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
