"""`dlc progress`: checks, runs with the learner's code and the next chapter, all from files.

`real_runs` makes real run folders with smoke presets once per session; the site tests use
them too.
"""

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcurriculum import catalog, progress
from dlcurriculum.cli import app
from dlcurriculum.core import exercises
from dlcurriculum.core.experiment import launch, load_spec


@dataclass(frozen=True)
class RealRuns:
    runs_root: Path
    workspace: Path
    """A learner workspace whose chapter 0 files are correct (a copy of the reference)."""
    reference: Path
    """The reference mnist run."""
    learner: Path
    """The mnist run made with the workspace's code."""
    nqm: Path
    """An nqm run; its smoke preset fails some criteria, so the site shows FAIL too."""


_CACHE: dict[str, RealRuns] = {}


def _solve_chapter_0(workspace: Path) -> None:
    """Write chapter 0 as a learner who solved it would: the reference files, with imports
    between them made relative as in `dlc start`."""
    folder = workspace / "ch00_mnist"
    folder.mkdir(parents=True)
    for module in sorted({e.module for e in exercises.chapter_exercises("ch00_mnist")}):
        source = exercises.reference_path("ch00_mnist", module).read_text()
        folder.joinpath(f"{module}.py").write_text(
            re.sub(r"from dlcurriculum\.ch00_mnist\.(\w+) import", r"from .\1 import", source)
        )


def _launch(name: str, root: Path, *assignments: str) -> Path:
    entry = catalog.get_experiment(name)
    spec = load_spec(entry.module, entry.attr)
    result, _ = launch(spec, spec.config("smoke", list(assignments)), "smoke", root)
    return result.run_dir


def real_runs(factory: pytest.TempPathFactory) -> RealRuns:
    """Smoke runs of mnist (reference and learner code) and nqm, made once per session."""
    if "runs" not in _CACHE:
        base = factory.mktemp("real_runs")
        root, workspace = base / "runs", base / "workspace"
        _solve_chapter_0(workspace)
        ch0 = catalog.get_chapter(0)
        progress.record_checks(ch0, workspace, exercises.check(ch0.slug, workspace))
        _CACHE["runs"] = RealRuns(
            root,
            workspace,
            reference=_launch("mnist", root),
            learner=_launch("mnist", root, f"impl={workspace.resolve()}"),
            nqm=_launch("nqm", root),
        )
    return _CACHE["runs"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    return real_runs(tmp_path_factory)


def test_find_runs_reads_real_run_folders(runs: RealRuns) -> None:
    found = {r.run_dir: r for r in progress.find_runs(runs.runs_root)}
    assert set(found) == {runs.reference, runs.learner, runs.nqm}
    ref, nqm = found[runs.reference], found[runs.nqm]
    assert ref.experiment == "mnist" and ref.finished and ref.passed and ref.verdict == "PASS"
    assert not ref.uses(runs.workspace) and found[runs.learner].uses(runs.workspace)
    criteria = json.loads((runs.nqm / "criteria.json").read_text())
    n_pass = sum(c["passed"] for c in criteria)
    assert 0 < len(criteria) and not nqm.passed
    assert nqm.verdict == f"{n_pass}/{len(criteria)} criteria pass"


def test_progress_of_a_learner_who_solved_chapter_0(runs: RealRuns) -> None:
    state = progress.learner_progress(runs.workspace, runs.runs_root)
    ch0 = state.chapters[0]
    assert ch0.counts == (3, 3) and ch0.done
    assert [r.run_dir for r in ch0.your_runs] == [runs.learner]  # not the reference run
    assert all(not p.started for p in state.chapters[1:])
    assert state.next_chapter == catalog.IMPORTANCE_ORDER[0]
    assert f"dlc start {catalog.IMPORTANCE_ORDER[0]}" in state.next_step


def test_changed_files_make_the_checks_stale(runs: RealRuns, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(runs.workspace, workspace)
    ch0 = catalog.get_chapter(0)
    assert progress.check_counts(ch0, workspace) == (3, 3)
    (workspace / ch0.slug / "model.py").write_text("# rewritten\n")
    assert progress.check_counts(ch0, workspace) is None
    state = progress.learner_progress(workspace, runs.runs_root)
    assert state.next_chapter == 0 and "dlc check 0" in state.next_step


def test_a_new_learner_starts_with_chapter_0_unless_another_is_started(tmp_path: Path) -> None:
    state = progress.learner_progress(tmp_path, tmp_path / "no-runs")
    assert state.next_chapter == 0 and all(p.your_runs == [] for p in state.chapters)
    first = catalog.IMPORTANCE_ORDER[0]
    (tmp_path / catalog.get_chapter(6).slug).mkdir()  # started chapter 6: MNIST is familiar
    assert progress.learner_progress(tmp_path, tmp_path).next_chapter == first


def test_dependencies_come_before_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / catalog.get_chapter(6).slug).mkdir()
    monkeypatch.setattr(progress, "IMPORTANCE_ORDER", (2, 1, 6))  # 1 helps 2 (catalog.HELPS)
    n, step = progress.suggest_next(
        {n: progress.chapter_progress(ch, tmp_path, []) for n, ch in catalog.chapters().items()},
        tmp_path,
    )
    assert n == 1 and step.startswith("chapter 1 helps with chapter 2")


def test_after_all_checks_pass_it_suggests_running_with_your_code(tmp_path: Path) -> None:
    table = {
        n: progress.ChapterProgress(ch, "1/1 pass", (1, 1), [])
        for n, ch in catalog.chapters().items()
    }
    n, step = progress.suggest_next(table, tmp_path)
    assert n == 0 and f"dlc run mnist --impl {tmp_path}" in step


def test_torn_or_foreign_files_do_not_break_progress(tmp_path: Path) -> None:
    run = tmp_path / "mnist" / "r1"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"experiment": "mnist"}')
    (run / "summary.json").write_text('{"wall_time_s": 1.0}')
    (run / "criteria.json").write_text('[{"criterion": "x", "pass')  # torn by a crash
    (tmp_path / "mnist" / "r2").mkdir()
    (tmp_path / "mnist" / "r2" / "config.json").write_text("not json")
    [found] = progress.find_runs(tmp_path)
    assert found.run_dir == run and found.verdict == "not reported" and not found.passed
    assert progress.find_runs(tmp_path / "missing") == []


def test_dlc_progress_prints_the_table_and_next_step(runs: RealRuns) -> None:
    result = CliRunner().invoke(
        app,
        ["progress", "--dir", str(runs.workspace), "--runs", str(runs.runs_root)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "3/3 pass" in result.output
    assert f"mnist {runs.learner.name}: PASS" in result.output
    assert f"Next: chapter {catalog.IMPORTANCE_ORDER[0]}" in result.output
