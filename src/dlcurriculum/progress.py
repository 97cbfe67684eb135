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

from dlcurriculum.catalog import IMPORTANCE_ORDER, chapters, prerequisites_of
from dlcurriculum.core import report
from dlcurriculum.core.curriculum import Chapter
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import chapter_exercises
from dlcurriculum.core.runs import atomic_write_text

if TYPE_CHECKING:  # checks imports torch; `dlc list` should not
    from dlcurriculum.core.checks import CheckResult

RESULTS = ".dlc-checks.json"
UNREADABLE = "unreadable"
"""The status of a run whose config.json, summary.json or criteria.json cannot be read."""
WORKSPACE_FIX = "give the workspace folder (create one with `dlc start N`)"
RUNS_FIX = "give the folder that holds run folders (`dlc run` writes them under ./runs)"


def require_folder(path: Path, flag: str, fix: str) -> None:
    """DlcError when `path` exists but is not a folder: a missing folder is an empty
    overview, a file is a mistake worth saying."""
    if path.exists() and not path.is_dir():
        what = "a file" if path.is_file() else "not a folder"
        raise DlcError(f"{flag} {path} is {what}: {fix}")


def check_folders(workspace: Path, runs_root: Path) -> None:
    """DlcError when --dir or --runs names something other than a folder."""
    require_folder(workspace, "--dir", WORKSPACE_FIX)
    require_folder(runs_root, "--runs", RUNS_FIX)


def _load_json(path: Path) -> tuple[Any, str]:
    """(the JSON value in `path`, "") or (None, why it cannot be read); "missing" when there
    is no such file."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except FileNotFoundError:
        return None, "missing"
    except IsADirectoryError:
        return None, "a folder, not a file"
    except PermissionError:
        return None, "permission denied"
    except OSError as e:
        return None, e.strerror or type(e).__name__
    except json.JSONDecodeError as e:
        return None, f"not valid JSON (line {e.lineno} column {e.colno})"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except (ValueError, RecursionError) as e:  # e.g. nested too deep to parse
        return None, f"not valid JSON ({type(e).__name__})"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def read_object(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object in `path`, "") or (None, why it cannot be read), e.g. "not valid
    JSON (line 1 column 5)"; "missing" when there is no such file."""
    data, why = _load_json(path)
    if why:
        return None, why
    if not isinstance(data, dict):
        return None, f"{_kind(data)}, not a JSON object"
    return data, ""


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


def _check_record(folder: Path) -> tuple[dict[str, Any] | None, str]:
    """The last `dlc check` results in `folder` with whether its files changed since:
    ({"results": {name: passed}, "current": bool}, "") or (None, why there are none)."""
    data, why = read_object(folder / RESULTS)
    if data is None:
        return None, why
    results = data.get("results")
    if not (
        isinstance(data.get("files"), str)
        and isinstance(results, dict)
        and all(isinstance(v, bool) for v in results.values())
    ):
        return None, "not a record `dlc check` wrote"
    try:
        current = data["files"] == _files_hash(folder)
    except OSError as e:  # a learner's file that cannot be read cannot be graded either
        return None, f"{e.filename}: {e.strerror}"
    return {"results": results, "current": current}, ""


def checks_status(ch: Chapter, workspace: Path) -> str:
    """'2/3 pass', 'changed since check', 'not checked', 'not started' or 'unreadable checks
    (.dlc-checks.json: why)'."""
    folder = workspace / ch.slug
    if not folder.is_dir():
        return "not started"
    record, why = _check_record(folder)
    if record is None:
        return "not checked" if why == "missing" else f"unreadable checks ({RESULTS}: {why})"
    if not record["current"]:
        return "changed since check"
    results = record["results"]
    return f"{sum(results.values())}/{len(results)} pass"


def runs_status(ch: Chapter, runs_root: Path) -> str:
    """The latest reported (or unreadable) run of each experiment: 'mnist PASS',
    'regularization FAIL', 'nqm unreadable', ..."""
    runs = find_runs(runs_root)
    parts = []
    for e in ch.experiments:
        reported = [r for r in runs if r.experiment == e.name and (r.criteria or r.unreadable)]
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
    unreadable: str = ""
    """Why the run cannot be read ('summary.json: not valid JSON (line 1 column 5)'), or ""
    for a readable run. An unreadable run keeps a config.json it could read, never a summary
    or criteria: a torn file must not pass for an unfinished or unjudged run."""

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
        reported' before that; 'unreadable' when a file of the run cannot be read."""
        if self.unreadable:
            return UNREADABLE
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
        judged)', 'unfinished', 'not reported' or 'unreadable'."""
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


def _read_judgement(run_dir: Path) -> tuple[dict[str, Any], str]:
    """criteria.json as (judgement, "") or ({}, why it cannot be read); a missing one, or an
    older run's list of criteria, is {} (not reported until `dlc report` writes it)."""
    judgement, why = _load_json(run_dir / "criteria.json")
    if why == "missing" or isinstance(judgement, list):
        return {}, ""
    if not isinstance(judgement, dict):
        return {}, why or f"{_kind(judgement)}, not a JSON object"
    for key in ("criteria", "not_run"):
        items = judgement.get(key, [])
        if not (isinstance(items, list) and all(isinstance(c, dict) for c in items)):
            return {}, f'"{key}" is not a list of objects'
    return judgement, ""


def read_run(run_dir: Path) -> RunInfo:
    """One run folder; a config.json, summary.json or criteria.json that cannot be read makes
    it unreadable, with the reason. A missing summary.json is a run still in progress."""
    config, config_why = read_object(run_dir / "config.json")
    summary, summary_why = read_object(run_dir / "summary.json")
    judgement, judgement_why = _read_judgement(run_dir)
    problems = [
        f"{name}: {why}"
        for name, why in (
            ("config.json", config_why),
            ("summary.json", "" if summary_why == "missing" else summary_why),
            ("criteria.json", judgement_why),
        )
        if why
    ]
    if problems:
        return RunInfo(run_dir, config or {}, {}, {}, unreadable="; ".join(problems))
    return RunInfo(run_dir, config or {}, summary or {}, judgement)


def find_runs(runs_root: Path) -> list[RunInfo]:
    """Every run folder `runs_root/<experiment>/<run>/` (one with a config.json), oldest first
    within each experiment. Runs with a file that cannot be read are included, as unreadable,
    so that an overview shows them instead of losing them."""
    return [read_run(path.parent) for path in sorted(runs_root.glob("*/*/config.json"))]


def check_counts(ch: Chapter, workspace: Path) -> tuple[int, int] | None:
    """(checks passed, exercises in the chapter) from the last full `dlc check`, or None when
    there is no result for the current files."""
    folder = workspace / ch.slug
    record, _ = _check_record(folder)
    if record is None or not record["current"]:
        return None
    results = record["results"]
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
    unreadable: list[RunInfo]
    """Runs with a file that cannot be read: shown, so the learner can repair them."""


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
    """Progress over every chapter, from `workspace` and the run folders under `runs_root`;
    DlcError when either names a file."""
    check_folders(workspace, runs_root)
    runs = find_runs(runs_root)
    table = {n: chapter_progress(ch, workspace, runs) for n, ch in chapters().items()}
    n, step = suggest_next(table, workspace)
    return Progress(list(table.values()), n, step, [r for r in runs if r.unreadable])
