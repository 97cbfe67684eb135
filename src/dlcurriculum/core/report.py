"""Figures and report.md: each success criterion as PASS/FAIL with its measured figure.

A report is rebuilt from the run folder alone (config.json, metrics.jsonl, summary.json),
so `dlc report DIR` can redraw it at any time, and criteria are plain functions of that
record.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum.core.runs import atomic_open, atomic_write_text, read_config, read_metrics


@dataclass(frozen=True)
class RunRecord:
    """Everything a finished (or interrupted) run left in its folder."""

    run_dir: Path
    config: dict[str, Any]
    metrics: list[dict[str, Any]]
    summary: dict[str, Any]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric over the run, skipping rows without it."""
        rows = [r for r in self.metrics if key in r]
        return [r["step"] for r in rows], [r[key] for r in rows]


def load_record(run_dir: Path) -> RunRecord:
    """Read a run folder into a RunRecord."""
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return RunRecord(run_dir, read_config(run_dir), read_metrics(run_dir), summary)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one criterion on one run."""

    passed: bool
    measured: str


@dataclass(frozen=True)
class Criterion:
    """A success criterion of the exercise, judged from a run's record."""

    name: str
    judge: Callable[[RunRecord], Verdict]

    def __call__(self, record: RunRecord) -> Verdict:
        try:
            return self.judge(record)
        except KeyError as e:  # an interrupted run lacks the final figures
            return Verdict(False, f"not measured (missing {e})")


def at_least(name: str, key: str, threshold: float, fmt: str = "{:.4g}") -> Criterion:
    """Criterion: summary[key] >= threshold."""

    def judge(r: RunRecord) -> Verdict:
        value = r.summary[key]
        return Verdict(value >= threshold, fmt.format(value))

    return Criterion(name, judge)


def at_most(name: str, key: str, threshold: float, fmt: str = "{:.4g}") -> Criterion:
    """Criterion: summary[key] <= threshold."""

    def judge(r: RunRecord) -> Verdict:
        value = r.summary[key]
        return Verdict(value <= threshold, fmt.format(value))

    return Criterion(name, judge)


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    import matplotlib.pyplot as plt

    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def pyplot() -> Any:
    """matplotlib.pyplot on the headless Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-style markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(
    record: RunRecord,
    title: str,
    criteria: Sequence[Criterion],
    figures: Sequence[Path],
    sections: Sequence[tuple[str, str]] = (),
    next_steps: str = "",
) -> list[tuple[str, Verdict]]:
    """Write report.md for a run and return each criterion's verdict."""
    verdicts = [(c.name, c(record)) for c in criteria]
    cfg = record.config
    n_fail = sum(not v.passed for _, v in verdicts)
    wall = record.summary.get("wall_time_s")
    impl = cfg.get("impl") or "reference solution"
    lines = [
        f"# {title}",
        "",
        f"Experiment `{cfg.get('experiment')}`, preset `{cfg.get('preset')}`, "
        f"seed {cfg.get('seed')}, code: {impl}.",
        f"Wall time: {wall:.1f} s." if wall is not None else "The run has not finished.",
        "",
        "## Success criteria",
        "",
        markdown_table(
            ["criterion", "measured", "result"],
            [(n, v.measured, "PASS" if v.passed else "**FAIL**") for n, v in verdicts],
        ),
        "",
        "All criteria pass." if n_fail == 0 else f"**{n_fail} of {len(verdicts)} criteria fail.**",
    ]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{p.stem}]({p.relative_to(record.run_dir).as_posix()})\n" for p in figures]
    for heading, body in sections:
        lines += ["", f"## {heading}", "", body.strip()]
    if next_steps:
        lines += ["", "## What to look at next", "", next_steps.strip()]
    config_rows = [(k, f"`{json.dumps(v)}`") for k, v in cfg.items() if k != "__class__"]
    lines += ["", "## Config", "", markdown_table(["field", "value"], config_rows), ""]
    atomic_write_text(record.run_dir / "report.md", "\n".join(lines))
    verdict_rows = [
        {"criterion": n, "passed": v.passed, "measured": v.measured} for n, v in verdicts
    ]
    atomic_write_text(record.run_dir / "criteria.json", json.dumps(verdict_rows, indent=2) + "\n")
    return verdicts
