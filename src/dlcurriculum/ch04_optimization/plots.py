"""The NQM report's figures and tables, drawn from summary.json alone (`dlc report DIR`).

Ref: Zhang et al. 2019, fig. 3-5 (steps and optimal lr vs batch size); McCandlish et al.
2018, fig. 3 (the S(B) law).
"""

from pathlib import Path
from typing import Any

import numpy as np

from dlcurriculum.core.report import RunRecord, markdown_table, pyplot, save_figure

COLORS = {"sgd": "tab:blue", "momentum": "tab:orange", "adam": "tab:green"}


def report_figures(record: RunRecord) -> list[Path]:
    """lr vs batch, steps vs batch (with the fitted S(B) law) and loss curves."""
    plt = pyplot()
    out = record.run_dir / "figures"
    out.mkdir(exist_ok=True)
    opts: dict[str, Any] = record.summary["optimizers"]
    paths = []

    fig, ax = plt.subplots(figsize=(5, 4))
    for name, r in opts.items():
        ax.loglog(r["batch_sizes"], r["best_lr"], "o-", color=COLORS[name], label=name)
    ax.set(xlabel="batch size", ylabel="best constant lr", title="Optimal lr vs batch size")
    ax.legend()
    paths.append(save_figure(fig, out / "lr_vs_batch.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    for name, r in opts.items():
        b = np.asarray(r["batch_sizes"])
        fit = r["fit"]
        ax.loglog(
            b, r["steps"], "o", color=COLORS[name], label=f"{name}, B_crit {fit['b_crit']:.3g}"
        )
        ax.loglog(b, fit["s_min"] * (1 + fit["b_crit"] / b), "--", color=COLORS[name])
    ax.set(xlabel="batch size", ylabel="steps to target", title="Steps to target vs batch size")
    ax.legend()
    paths.append(save_figure(fig, out / "steps_vs_batch.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    for key, curve in record.summary["curves"].items():
        opt = key.split("/")[0]
        ax.semilogy(curve, color=COLORS[opt], alpha=0.8, label=key)
    ax.axhline(record.config["target"], color="k", lw=0.8, ls=":")
    ax.set(xlabel="step", ylabel="expected loss", title="Exact loss curves at the best lr")
    ax.set_xscale("symlog", linthresh=10)
    ax.legend(fontsize=7)
    paths.append(save_figure(fig, out / "loss_curves.png"))
    return paths


def report_sections(record: RunRecord) -> list[tuple[str, str]]:
    """Per-optimiser fits and the per-batch table."""
    s = record.summary
    opts: dict[str, Any] = s["optimizers"]
    fits = markdown_table(
        ["optimiser", "lr slope (small B)", "S_min", "B_crit", "E_min", "fit max rel. err"],
        [
            (
                n,
                f"{r['lr_slope']:.3f}",
                f"{r['fit']['s_min']:.3g}",
                f"{r['fit']['b_crit']:.3g}",
                f"{r['fit']['e_min']:.4g}",
                f"{r['fit']['max_rel_err']:.2f}",
            )
            for n, r in opts.items()
        ],
    )
    noise = (
        f"Gradient noise scale at θ_0: B_simple = {s['b_simple_init']:.3g}, "
        f"B_noise = {s['b_noise_init']:.3g} (McCandlish et al. 2018, eq. 2.6, 2.8); it "
        "grows as the loss falls, so the fitted B_crit at the target is larger."
    )
    rows = []
    first = next(iter(opts.values()))
    for i, b in enumerate(first["batch_sizes"]):
        cells = [f"{b:g}"]
        for r in opts.values():
            mark = "" if r["interior"][i] else " (edge)"
            cells.append(f"{r['best_lr'][i]:.3g}{mark} / {r['steps'][i]:g}")
        rows.append(cells)
    table = markdown_table(["B", *(f"{n}: lr / steps" for n in opts)], rows)
    note = "(edge): the best lr was at the end of the grid, so it is a bound, not an optimum."
    return [("Fits", fits + "\n\n" + noise), ("Per batch size", table + "\n\n" + note)]
