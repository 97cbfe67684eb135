"""Figures and report.md: each success criterion as PASS, FAIL or N/A with its measured figure.

A report is rebuilt from the run folder alone (config.json, metrics.jsonl, summary.json),
so `dlc report DIR` can redraw it at any time, and criteria are plain functions of that
record.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.runs import (
    atomic_open,
    atomic_write_text,
    read_config,
    read_json_object,
    read_metrics,
    write_json,
)


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
    config = read_config(run_dir)
    summary_path = run_dir / "summary.json"
    summary = read_json_object(summary_path) if summary_path.exists() else {}
    if summary is None:
        raise DlcError(
            f"{summary_path} cannot be read (torn or not a JSON object): delete it, then "
            f"`dlc run {config.get('experiment', 'NAME')} --resume {run_dir}` finishes the run"
        )
    return RunRecord(run_dir, config, read_metrics(run_dir), summary)


PASS, FAIL, NOT_MEASURED = "PASS", "FAIL", "N/A"
SMOKE, INCOMPLETE = "SMOKE", "INCOMPLETE"
"""A run's status is PASS (every criterion measured and passed), FAIL (one failed),
INCOMPLETE (none failed, one could not be measured, or the run did not finish) or SMOKE (a
smoke preset: its criteria are computed and shown, but a smoke run proves that the code runs,
not that the exercise works, so it is not judged)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one criterion on one run."""

    passed: bool | None
    """True: PASS. False: FAIL. None: N/A, asked for but not measured (the reason is in
    `measured`); an N/A never counts as a pass."""
    measured: str

    @property
    def status(self) -> str:
        return NOT_MEASURED if self.passed is None else PASS if self.passed else FAIL


def not_measured(reason: str) -> Verdict:
    """N/A: the criterion applies to this run but its figure could not be measured."""
    return Verdict(None, f"not measured: {reason}")


@dataclass(frozen=True)
class Criterion:
    """A success criterion of the exercise, judged from a run's record.

    `name` may hold `{field}` placeholders (with format specs) filled from the run's config, so
    a label always shows the bar the run was judged against, also after `--set`. A criterion
    with `when` set applies only when that boolean config field is on; otherwise the report
    lists it under "not run in this configuration", with no verdict.
    """

    name: str
    judge: Callable[[RunRecord], Verdict]
    when: str | None = None

    def label(self, config: dict[str, Any]) -> str:
        """The name with config placeholders filled in (left as written if one is missing)."""
        try:
            return self.name.format_map(config)
        except (KeyError, ValueError, IndexError, AttributeError, TypeError):
            return self.name

    def applies(self, config: dict[str, Any]) -> bool:
        return self.when is None or bool(config.get(self.when))

    def __call__(self, record: RunRecord) -> Verdict:
        try:
            return self.judge(record)
        except KeyError as e:  # an interrupted run, or a figure this run could not produce
            return not_measured(f"{e} missing from the run's summary")


def _lookup(summary: dict[str, Any], key: str) -> Any:
    """summary["a"]["b"] for key "a.b"."""
    value: Any = summary
    for part in key.split("."):
        value = value[part]
    return value


def _bar(bar: str | float, fmt: str) -> str:
    """The bar as a label placeholder ("{field:spec}") or, when fixed, as text."""
    if isinstance(bar, str):
        return "{" + bar + fmt[1:]  # "{:.1%}" -> "{target_accuracy:.1%}"
    return fmt.format(bar)


def _compare(what: str, key: str, bar: str | float, fmt: str, sign: str) -> Criterion:
    def judge(r: RunRecord) -> Verdict:
        value = _lookup(r.summary, key)
        limit = r.config[bar] if isinstance(bar, str) else bar
        ok = value >= limit if sign == "≥" else value <= limit
        return Verdict(bool(ok), fmt.format(value))

    return Criterion(f"{what} {sign} {_bar(bar, fmt)}", judge)


def at_least(what: str, key: str, bar: str | float, fmt: str = "{:.4g}") -> Criterion:
    """Criterion "what ≥ bar": summary[key] (dots reach into nested dicts) against `bar`, a
    config field's name or a fixed number. The label shows the bar the run used."""
    return _compare(what, key, bar, fmt, "≥")


def at_most(what: str, key: str, bar: str | float, fmt: str = "{:.4g}") -> Criterion:
    """Criterion "what ≤ bar"; see `at_least`."""
    return _compare(what, key, bar, fmt, "≤")


@dataclass(frozen=True)
class Judgement:
    """Every criterion of a run: verdicts of those that apply, labels of those not run."""

    status: str
    verdicts: list[tuple[str, Verdict]]
    not_run: list[tuple[str, str]]
    """(label, the `--set` that turns it on) of criteria this configuration did not ask for."""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "criteria": [
                {"criterion": n, "status": v.status, "measured": v.measured}
                for n, v in self.verdicts
            ],
            "not_run": [{"criterion": n, "enable": flag} for n, flag in self.not_run],
        }


def run_status(preset: str | None, finished: bool, statuses: Sequence[str]) -> str:
    """PASS, FAIL, INCOMPLETE or SMOKE (see the constants above)."""
    if preset == "smoke":
        return SMOKE
    if FAIL in statuses:
        return FAIL
    if not finished or not statuses or NOT_MEASURED in statuses:
        return INCOMPLETE
    return PASS


def judge_run(record: RunRecord, criteria: Sequence[Criterion]) -> Judgement:
    """Judge a run's record against the criteria that apply to its configuration."""
    cfg = record.config
    verdicts = [(c.label(cfg), c(record)) for c in criteria if c.applies(cfg)]
    not_run = [(c.label(cfg), f"--set {c.when}=true") for c in criteria if not c.applies(cfg)]
    status = run_status(cfg.get("preset"), bool(record.summary), [v.status for _, v in verdicts])
    return Judgement(status, verdicts, not_run)


def status_line(judgement: Judgement) -> str:
    """One sentence on the run's status, for the report and the console."""
    statuses = [v.status for _, v in judgement.verdicts]
    n, n_fail, n_na = len(statuses), statuses.count(FAIL), statuses.count(NOT_MEASURED)
    if judgement.status == SMOKE:
        return (
            f"SMOKE run, not judged: its {n} criteria are computed above, but a smoke preset "
            "proves that the code runs, not that the exercise works (run --preset quick)."
        )
    if judgement.status == PASS:
        return f"PASS: all {n} criteria measured and passed."
    if judgement.status == FAIL:
        return f"FAIL: {n_fail} of {n} criteria fail" + (f", {n_na} not measured." if n_na else ".")
    if n_na:
        return f"INCOMPLETE: {n_na} of {n} criteria could not be measured (N/A)."
    return "INCOMPLETE: the run has not finished."


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
) -> Judgement:
    """Write report.md and criteria.json for a run and return its judgement."""
    judgement = judge_run(record, criteria)
    cfg = record.config
    wall = record.summary.get("wall_time_s")
    impl = cfg.get("impl") or "reference solution"
    shown = {PASS: "PASS", FAIL: "**FAIL**", NOT_MEASURED: "N/A"}
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
            [(n, v.measured, shown[v.status]) for n, v in judgement.verdicts],
        ),
        "",
        f"**{status_line(judgement)}**",
    ]
    if judgement.not_run:
        lines += ["", "Not run in this configuration:", ""]
        lines += [f"- {n} (turn it on with `{flag}`)" for n, flag in judgement.not_run]
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
    write_json(record.run_dir / "criteria.json", judgement.to_json())
    return judgement
