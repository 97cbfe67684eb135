"""Learner progress, derived from the workspace and run folders only.

`dlc check` leaves its results next to the learner's files, with a hash of those files, so
a result whose files have changed since shows as stale rather than wrong. Runs are found by
reading run folders (`config.json`, `summary.json`, `criteria.json`); nothing else is kept,
so there is no state to fall out of step with the files.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcurriculum.catalog import IMPORTANCE_ORDER, Chapter, chapters, prerequisites_of
from dlcurriculum.core import report
from dlcurriculum.core.exercises import chapter_exercises
from dlcurriculum.core.runs import atomic_write_text, read_json_object

if TYPE_CHECKING:  # checks imports torch; `dlc list` should not
    from dlcurriculum.core.checks import CheckResult

RESULTS = ".dlc-checks.json"


def _files_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def record_checks(ch: Chapter, workspace: Path, results: Sequence["CheckResult"]) -> None:
    """Save a chapter's check results in the workspace (nothing when the chapter's folder does
    not exist: checking a missing workspace must not create one)."""
    folder = workspace / ch.slug
    if not folder.is_dir():
        return
    data = {"files": _files_hash(folder), "results": {r.name: r.passed for r in results}}
    atomic_write_text(folder / RESULTS, json.dumps(data, indent=2) + "\n")


def checks_status(ch: Chapter, workspace: Path) -> str:
    """'2/3 pass', 'stale', 'not started' or '-' (no exercises)."""
    folder = workspace / ch.slug
    path = folder / RESULTS
    if not folder.is_dir():
        return "not started"
    if not path.exists():
        return "not checked"
    data = json.loads(path.read_text())
    if data["files"] != _files_hash(folder):
        return "changed since check"
    results = data["results"]
    return f"{sum(results.values())}/{len(results)} pass"


def runs_status(ch: Chapter, runs_root: Path) -> str:
    """The latest finished run of each experiment: 'mnist PASS', 'regularization FAIL', ..."""
    runs = find_runs(runs_root)
    parts = []
    for e in ch.experiments:
        reported = [r for r in runs if r.experiment == e.name and r.criteria]
        if reported:
            parts.append(f"{e.name} {reported[-1].verdict}")
    return ", ".join(parts) or "-"


@dataclass(frozen=True)
class RunInfo:
    """One run folder as found on disk."""

    run_dir: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    judgement: dict[str, Any]
    """criteria.json: {"status", "criteria": [{"criterion", "status", "measured"}], "not_run"},
    empty before the report."""

    @property
    def experiment(self) -> str:
        return str(self.config.get("experiment") or self.run_dir.parent.name)

    @property
    def name(self) -> str:
        """The run folder's own name (its start time)."""
        return self.run_dir.name

    @property
    def finished(self) -> bool:
        return bool(self.summary)

    @property
    def criteria(self) -> list[dict[str, Any]]:
        return list(self.judgement.get("criteria", []))

    @property
    def status(self) -> str:
        """PASS, FAIL, INCOMPLETE or SMOKE as the report judged it; 'unfinished' or 'not
        reported' before that."""
        if not self.finished:
            return "unfinished"
        if not self.criteria:
            return "not reported"
        return str(self.judgement.get("status", "not reported"))

    @property
    def passed(self) -> bool:
        """Judged PASS: finished, not a smoke run, every criterion measured and passed."""
        return self.status == report.PASS

    @property
    def verdict(self) -> str:
        """The status with counts: 'PASS', 'FAIL (1 of 3)', 'INCOMPLETE (1 N/A)', 'SMOKE (not
        judged)', 'unfinished' or 'not reported'."""
        statuses = [c.get("status") for c in self.criteria]
        if self.status == report.FAIL:
            return f"FAIL ({statuses.count(report.FAIL)} of {len(statuses)})"
        if self.status == report.INCOMPLETE:
            return f"INCOMPLETE ({statuses.count(report.NOT_MEASURED)} N/A)"
        if self.status == report.SMOKE:
            return "SMOKE (not judged)"
        return self.status

    def uses(self, workspace: Path) -> bool:
        """Whether the run used the learner's code from `workspace` (`dlc run --impl`)."""
        impl = self.config.get("impl") or ""
        return bool(impl) and Path(str(impl)).resolve() == workspace.resolve()


def find_runs(runs_root: Path) -> list[RunInfo]:
    """Every run folder `runs_root/<experiment>/<run>/` (one with a config.json), oldest first
    within each experiment."""
    found = []
    for config_path in sorted(runs_root.glob("*/*/config.json")):
        config = read_json_object(config_path)
        if config is None:
            continue  # not a run folder dlc wrote
        run_dir = config_path.parent
        summary = read_json_object(run_dir / "summary.json") or {}
        # an older run's criteria.json is a list: not reported until `dlc report` rewrites it
        judgement = read_json_object(run_dir / "criteria.json") or {}
        found.append(RunInfo(run_dir, config, summary, judgement))
    return found


def check_counts(ch: Chapter, workspace: Path) -> tuple[int, int] | None:
    """(checks passed, exercises in the chapter) from the last full `dlc check`, or None when
    there is no result for the current files."""
    folder = workspace / ch.slug
    data = read_json_object(folder / RESULTS)
    if data is None or data.get("files") != _files_hash(folder):
        return None
    results = data.get("results", {})
    total = len(chapter_exercises(ch.slug)) or len(results)
    return sum(bool(results.get(e.name)) for e in chapter_exercises(ch.slug)), total


@dataclass(frozen=True)
class ChapterProgress:
    """Where a learner stands in one chapter."""

    chapter: Chapter
    checks: str
    """As `checks_status` says it: '2/3 pass', 'not started', 'changed since check', ..."""
    counts: tuple[int, int] | None
    your_runs: list[RunInfo]
    """The latest run of each experiment made with the learner's code (smoke runs are not
    counted: they prove that the code runs, not that the exercise works)."""

    @property
    def tracked(self) -> bool:
        """The chapter has a learner mode, so progress can see the learner's work."""
        return bool(chapter_exercises(self.chapter.slug))

    @property
    def started(self) -> bool:
        return self.checks != "not started"

    @property
    def done(self) -> bool:
        """Every check passes on the current files."""
        return self.counts is not None and self.counts[0] == self.counts[1] > 0


@dataclass(frozen=True)
class Progress:
    """The whole picture: every chapter, and what to do next."""

    chapters: list[ChapterProgress]
    next_chapter: int | None
    next_step: str


def chapter_progress(ch: Chapter, workspace: Path, runs: Sequence[RunInfo]) -> ChapterProgress:
    """One chapter's progress from the workspace and the runs found."""
    names = {e.name for e in ch.experiments}
    latest: dict[str, RunInfo] = {}
    for r in runs:  # oldest first, so the last one seen is the latest
        if r.experiment in names and r.uses(workspace) and r.status != report.SMOKE:
            latest[r.experiment] = r  # a smoke run proves the code runs, not that it works
    return ChapterProgress(
        ch, checks_status(ch, workspace), check_counts(ch, workspace), list(latest.values())
    )


def _advice(p: ChapterProgress, workspace: Path) -> str:
    n = p.chapter.number
    if not p.started:
        return f"start it: `dlc show {n}`, then `dlc start {n} --dir {workspace}`"
    if p.counts is None:
        return f"grade your current code: `dlc check {n} --dir {workspace}`"
    passed, total = p.counts
    return f"{passed}/{total} checks pass: fix the rest, then `dlc check {n} --dir {workspace}`"


def suggest_next(table: dict[int, ChapterProgress], workspace: Path) -> tuple[int | None, str]:
    """The next chapter by the order of importance, dependencies first, and the step to take.

    Chapter 0 comes first unless another chapter has been started (then MNIST is familiar).
    Chapters without a learner mode are skipped: progress cannot see work done on them.
    """
    others_started = any(p.started for n, p in table.items() if n != 0)
    order = ([] if others_started else [0]) + list(IMPORTANCE_ORDER)
    for n in order:
        p = table[n]
        if not p.tracked or p.done:
            continue
        for d in prerequisites_of(n):
            dep = table[d]
            if dep.tracked and not dep.done:
                return d, f"chapter {d} helps with chapter {n}; {_advice(dep, workspace)}"
        return n, _advice(p, workspace)
    for n in (0, *IMPORTANCE_ORDER):  # all checks pass: run the experiments with your code
        p = table[n]
        if p.tracked and p.chapter.experiments and not any(r.passed for r in p.your_runs):
            e = p.chapter.experiments[0].name
            return n, f"run it with your code: `dlc run {e} --impl {workspace}`"
    return None, "every chapter with a learner mode is done: try the exercises' extensions"


def learner_progress(workspace: Path, runs_root: Path) -> Progress:
    """Progress over every chapter, from `workspace` and the run folders under `runs_root`."""
    runs = find_runs(runs_root)
    table = {n: chapter_progress(ch, workspace, runs) for n, ch in chapters().items()}
    n, step = suggest_next(table, workspace)
    return Progress(list(table.values()), n, step)
