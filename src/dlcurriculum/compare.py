"""A run beside a reference: the report's "Compared with the reference run" and `dlc compare`.

The reference is the package's record of the same experiment and preset (reference.py) or
another run folder; either way both sides are read as a `Reference`, so one comparison
serves the report, the site and the terminal.
"""

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum import reference
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.report import RunRecord, markdown_table, pyplot, save_figure
from dlcurriculum.core.runs import read_json_object
from dlcurriculum.reference import Reference

MAX_PANELS = 6
MAX_ROWS = 15
FIRST = ("loss", "acc", "return", "reward", "kl")
"""Curves whose names hold these come first, in this order."""
SKIP = ("epoch", "seed")
"""Counters, not results (the last part of a key: `pgd/epoch` too)."""


def as_reference(run_dir: Path) -> Reference:
    """A run folder read the way a record is (curves thinned, summary flattened)."""
    from dlcurriculum.core.report import load_record

    if not (run_dir / "config.json").is_file():
        raise DlcError(
            f"{run_dir} is not a run folder (no config.json): pass one like runs/mnist/<timestamp>"
        )
    record = load_record(run_dir)
    judged_path = run_dir / "criteria.json"
    judged = read_json_object(judged_path) if judged_path.is_file() else None
    return Reference(
        experiment=str(record.config.get("experiment", "")),
        preset=str(record.config.get("preset", "")),
        seed=int(record.config.get("seed", 0)),
        recorded=run_dir.name,
        commit="",
        wall_time_s=float(record.summary.get("wall_time_s", math.nan)),
        criteria=judged or {},
        summary=reference.flat_summary(record.summary),
        curves=reference.curves(record.metrics),
        figures=tuple(reference.report_figures(run_dir)),
    )


def _rank(key: str) -> tuple[int, str]:
    low = key.lower()
    return next((i for i, w in enumerate(FIRST) if w in low), len(FIRST)), key


def shared_curves(mine: Reference, ref: Reference, points: int = 2) -> list[str]:
    """Curves both sides logged with at least `points` points, the telling ones first."""
    both = [k for k in mine.curves if k in ref.curves and k.rsplit("/", 1)[-1] not in SKIP]
    enough = [k for k in both if min(len(mine.curves[k]), len(ref.curves[k])) >= points]
    return sorted(enough, key=_rank)


@dataclass(frozen=True)
class Row:
    key: str
    mine: float | int | str
    ref: float | int | str

    @property
    def delta(self) -> str:
        if isinstance(self.mine, str) or isinstance(self.ref, str):
            return "" if self.mine == self.ref else "differs"
        d = self.mine - self.ref
        pct = f" ({100 * d / abs(self.ref):+.1f}%)" if self.ref else ""
        return f"{d:+.4g}{pct}"


def summary_rows(mine: Reference, ref: Reference) -> list[Row]:
    """The final figures both sides have, in the reference's order."""
    return [Row(k, mine.summary[k], v) for k, v in ref.summary.items() if k in mine.summary]


def overlay_figure(mine: Reference, ref: Reference, keys: list[str], path: Path) -> Path:
    """One panel per curve: yours a line, the reference a grey band beneath it."""
    plt = pyplot()
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        # the reference as a wide grey band under your line: equal runs show one inside the other
        ax.plot(*ref.series(key), label="reference", lw=4, color="0.6", alpha=0.5)
        ax.plot(*mine.series(key), label="yours", lw=1.4, color="C0")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def _cell(v: float | int | str) -> str:
    return str(v) if isinstance(v, str) else f"{v:.4g}"


def report_section(record: RunRecord) -> str:
    """Markdown for the report: the overlay, the final figures side by side, the reference's
    figures (copied into the run's figures/); one line when the package has no record."""
    exp, preset = str(record.config.get("experiment")), str(record.config.get("preset"))
    ref = reference.load(exp, preset)
    if ref is None:
        others = reference.presets_of(exp)
        has = f"it has one for {', '.join(others)}" if others else "it has none for this experiment"
        return f"The package has no reference run of `{exp}` at preset `{preset}` ({has})."
    mine = as_reference(record.run_dir)
    figures = record.run_dir / "figures"
    figures.mkdir(exist_ok=True)
    lines = [
        f"The reference solution's `{preset}` run, kept in the package (seed {ref.seed}, "
        f"recorded {ref.recorded}, {ref.wall_time_s:.0f} s; yours took "
        f"{record.summary.get('wall_time_s', math.nan):.0f} s). `dlc compare "
        f"{record.run_dir}` prints the differences.",
    ]
    keys = shared_curves(mine, ref)[:MAX_PANELS]
    if keys:
        overlay_figure(mine, ref, keys, figures / "vs_reference.png")
        lines += ["", "![vs_reference](figures/vs_reference.png)"]
    rows = summary_rows(mine, ref)[:MAX_ROWS]
    if rows:
        table = [(f"`{r.key}`", _cell(r.mine), _cell(r.ref), r.delta) for r in rows]
        lines += ["", markdown_table(["final figure", "yours", "reference", "delta"], table)]
    pairs = []
    for fig in ref.figures:  # yours and ours side by side where you have the same figure
        shutil.copyfile(fig, figures / f"reference_{fig.name}")
        theirs = f"![reference {fig.stem}](figures/reference_{fig.name})"
        yours = f"![{fig.stem}](figures/{fig.name})" if (figures / fig.name).is_file() else "-"
        pairs.append((yours, theirs))
    if pairs:
        lines += ["", markdown_table(["yours", "reference"], pairs)]
    return "\n".join(lines)


def resolve(run_dir: Path, against: Path | None) -> tuple[Reference, Reference]:
    """Both sides of `dlc compare RUN [REF]`."""
    mine = as_reference(run_dir)
    if against is not None:
        return mine, as_reference(against)
    ref = reference.load(mine.experiment, mine.preset)
    if ref is None:
        raise DlcError(
            f"the package has no reference run of {mine.experiment} at preset {mine.preset}: "
            f"pass another run folder to compare with, or make one with "
            f"`dlc reference record {mine.experiment} --preset {mine.preset}`"
        )
    return mine, ref


def criteria_rows(mine: Reference, ref: Reference) -> list[tuple[str, str, str]]:
    """(criterion, yours, reference), matched by the criterion's text."""

    def by_name(r: Reference) -> dict[str, Any]:
        return {str(c.get("criterion")): c for c in r.criteria.get("criteria", [])}

    a, b = by_name(mine), by_name(ref)
    show = lambda c: f"{c.get('status')} {c.get('measured')}" if c else "-"  # noqa: E731
    return [(name, show(a.get(name)), show(b.get(name))) for name in {**b, **a}]
