"""`dlc progress`: checks, runs with the learner's code and the next chapter, all from files.

`real_runs` makes real run folders with smoke presets once per session; the site tests use
them too.
"""

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
    """The reference mnist run: the quick preset shrunk with --set, judged PASS."""
    learner: Path
    """The same mnist run made with the workspace's code, judged PASS."""
    failing: Path
    """The reference mnist run against a bar it cannot reach, judged FAIL."""
    learner_smoke: Path
    """A smoke run with the workspace's code, newer than `learner`: never counted."""
    nqm: Path
    """An nqm smoke run: criteria computed (some fail), status SMOKE, not judged."""


SMALL_MNIST = ("width=8", "epochs=1", "batch_size=64", "lr=0.02", "train_size=4096")
"""`--set` that shrink mnist's quick preset to seconds; with target_accuracy=0.8 it passes."""


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


def _launch(name: str, root: Path, *assignments: str, preset: str = "smoke") -> Path:
    entry = catalog.get_experiment(name)
    spec = load_spec(entry.module, entry.attr)
    result, _ = launch(spec, spec.config(preset, list(assignments)), preset, root)
    return result.run_dir


def real_runs(factory: pytest.TempPathFactory) -> RealRuns:
    """Smoke runs of mnist (reference and learner code) and nqm, made once per session."""
    if "runs" not in _CACHE:
        base = factory.mktemp("real_runs")
        root, workspace = base / "runs", base / "workspace"
        _solve_chapter_0(workspace)
        ch0 = catalog.get_chapter(0)
        progress.record_checks(ch0, workspace, exercises.check(ch0.slug, workspace))
        impl = f"impl={workspace.resolve()}"
        small = (*SMALL_MNIST, "target_accuracy=0.8")
        _CACHE["runs"] = RealRuns(
            root,
            workspace,
            reference=_launch("mnist", root, *small, preset="quick"),
            learner=_launch("mnist", root, *small, impl, preset="quick"),
            failing=_launch("mnist", root, *SMALL_MNIST, "target_accuracy=0.9999", preset="quick"),
            learner_smoke=_launch("mnist", root, impl),
            nqm=_launch("nqm", root),
        )
    return _CACHE["runs"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    return real_runs(tmp_path_factory)


def test_find_runs_reads_real_run_folders(runs: RealRuns) -> None:
    found = {r.run_dir: r for r in progress.find_runs(runs.runs_root)}
    assert set(found) == {
        runs.reference,
        runs.learner,
        runs.failing,
        runs.learner_smoke,
        runs.nqm,
    }
    ref, failing, nqm = found[runs.reference], found[runs.failing], found[runs.nqm]
    assert ref.experiment == "mnist" and ref.finished and ref.passed and ref.verdict == "PASS"
    assert not ref.uses(runs.workspace) and found[runs.learner].uses(runs.workspace)
    assert failing.status == "FAIL" and failing.verdict == "FAIL (1 of 1)" and not failing.passed
    statuses = [c["status"] for c in nqm.criteria]
    assert "PASS" in statuses and "FAIL" in statuses  # computed, both ways...
    assert nqm.status == "SMOKE" and nqm.verdict == "SMOKE (not judged)" and not nqm.passed
    smoke = found[runs.learner_smoke]
    assert smoke.status == "SMOKE" and not smoke.passed  # ...but never judged


def test_an_old_criteria_file_is_not_judged_and_a_torn_one_is_unreadable(
    runs: RealRuns, tmp_path: Path
) -> None:
    run = tmp_path / "runs" / "mnist" / "old"
    shutil.copytree(runs.reference, run)
    (run / "criteria.json").write_text('[{"criterion": "x", "passed": true, "measured": "1"}]')
    [info] = progress.find_runs(tmp_path / "runs")  # the format before `dlc report` rewrote it
    assert info.status == "not reported" and not info.passed and not info.unreadable
    (run / "criteria.json").write_text("{torn")
    [info] = progress.find_runs(tmp_path / "runs")
    assert info.status == "unreadable" and not info.passed and info.criteria == []
    assert info.unreadable == "criteria.json: not valid JSON (line 1 column 2)"


def test_progress_of_a_learner_who_solved_chapter_0(runs: RealRuns) -> None:
    state = progress.learner_progress(runs.workspace, runs.runs_root)
    ch0 = state.chapters[0]
    assert ch0.counts == (4, 4) and ch0.done
    # not the reference run, nor the newer smoke run with the learner's code
    assert [r.run_dir for r in ch0.your_runs] == [runs.learner]
    assert all(not p.started for p in state.chapters[1:])
    assert state.next_chapter == catalog.IMPORTANCE_ORDER[0]
    assert f"dlc start {catalog.IMPORTANCE_ORDER[0]}" in state.next_step


def test_changed_files_make_the_checks_stale(runs: RealRuns, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(runs.workspace, workspace)
    ch0 = catalog.get_chapter(0)
    assert progress.check_counts(ch0, workspace) == (4, 4)
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
    found, torn = progress.find_runs(tmp_path)
    assert found.run_dir == run and found.verdict == "unreadable" and not found.passed
    assert found.unreadable.startswith("criteria.json: not valid JSON (line 1 column ")
    assert torn.experiment == "mnist" and torn.name == "r2" and torn.verdict == "unreadable"
    assert torn.unreadable == "config.json: not valid JSON (line 1 column 1)"
    assert progress.find_runs(tmp_path / "missing") == []


def test_dlc_progress_prints_the_table_and_next_step(runs: RealRuns) -> None:
    result = CliRunner().invoke(
        app,
        ["progress", "--dir", str(runs.workspace), "--runs", str(runs.runs_root)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "4/4 pass" in result.output
    assert f"mnist {runs.learner.name}: PASS" in result.output
    assert f"Next: chapter {catalog.IMPORTANCE_ORDER[0]}" in result.output


def test_a_smoke_run_with_your_code_does_not_count(runs: RealRuns, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    shutil.copytree(runs.learner_smoke, root / "mnist" / runs.learner_smoke.name)
    state = progress.learner_progress(runs.workspace, root)
    assert state.chapters[0].your_runs == []
    table = {p.chapter.number: p for p in state.chapters}
    table = {
        n: progress.ChapterProgress(p.chapter, "3/3 pass", (3, 3), p.your_runs)
        for n, p in table.items()
    }
    n, step = progress.suggest_next(table, runs.workspace)
    assert n == 0 and f"dlc run mnist --impl {runs.workspace}" in step
