"""The sweep runner with real processes: a pool, a real SIGKILL mid-sweep, and several
processes appending to one results table at once."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcurriculum.core import sweep
from dlcurriculum.core.errors import DlcError

# a toy worker in its own module, so that fresh processes can import it by name; it logs
# each start, so a test can tell a cell that ran twice from one that ran once
TOY = """
import os
import time


def work(params, sweep_dir):
    with open(sweep_dir / "starts.log", "a") as f:
        f.write(f"{params['x']}\\n")
    time.sleep(params.get("sleep", 0.0))
    if params.get("fail"):
        raise ValueError("planted failure")
    row = {"y": params["x"] ** 2, "pid": os.getpid()}
    if params.get("torch"):
        import torch

        row["threads"] = torch.get_num_threads()
    return row
"""
WORKER = "toy_sweep_worker:work"


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the toy worker module, importable here and in child processes."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "toy_sweep_worker.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(code))  # spawned pool processes inherit sys.path
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]))
    return tmp_path / "sweep"


def _starts(sweep_dir: Path) -> list[int]:
    log = sweep_dir / "starts.log"
    return [int(x) for x in log.read_text().split()] if log.exists() else []


def _table(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / sweep.TABLE).open() as f:
        return list(csv.DictReader(f))


def test_prepare_is_idempotent_and_refuses_another_sweep(toy: Path) -> None:
    cells = [{"x": 1}, {"x": 2}]
    sweep.prepare(toy, WORKER, cells, {"sleep": 0.0})
    sweep.prepare(toy, WORKER, cells, {"sleep": 0.01})  # a restart may change settings
    assert sweep.load(toy) == sweep.Manifest(WORKER, cells, {"sleep": 0.01})
    with pytest.raises(DlcError, match="holds a different sweep"):
        sweep.prepare(toy, WORKER, [{"x": 1}, {"x": 3}])
    with pytest.raises(DlcError, match="not a sweep folder"):
        sweep.load(toy.parent)


def test_a_cell_runs_once_and_its_row_lands_in_the_table(toy: Path) -> None:
    sweep.prepare(toy, WORKER, [{"x": 3}, {"x": 4}])
    row = sweep.run_cell(toy, 1)
    assert row == {"cell": 1, "x": 4, "y": 16, "pid": os.getpid()}
    assert sweep.run_cell(toy, 1) == row  # done: read back, not run again
    assert _starts(toy) == [4]
    assert sweep.pending(toy) == [0]
    assert _table(toy) == [{"cell": "1", "x": "4", "y": "16", "pid": str(os.getpid())}]
    with pytest.raises(DlcError, match=r"has cells 0\.\.1"):
        sweep.run_cell(toy, 2)


def test_pool_runs_every_cell_in_worker_processes(toy: Path) -> None:
    cells = [{"x": x, "sleep": 0.05} for x in range(5)] + [{"x": 5, "torch": True}]
    sweep.prepare(toy, WORKER, cells)
    sweep.run_cell(toy, 2)  # already done: the pool must skip it
    rows = sweep.run_sweep(toy, workers=2, show="y")
    assert [(r["cell"], r["y"]) for r in rows] == [(x, x * x) for x in range(6)]
    assert rows[5]["threads"] == 1  # pool processes are single-threaded
    pool_pids = {r["pid"] for r in rows if r["cell"] != 2}
    assert os.getpid() not in pool_pids and 1 <= len(pool_pids) <= 2
    assert sorted(_starts(toy)) == list(range(6))
    assert [int(r["cell"]) for r in _table(toy)] == list(range(6))


def test_failed_cell_is_one_clear_error_and_finished_cells_are_kept(toy: Path) -> None:
    cells = [{"x": 0}, {"x": 1, "fail": True}, {"x": 2}]
    sweep.prepare(toy, WORKER, cells)
    with pytest.raises(DlcError, match=r"cell 1 .*ValueError: planted failure.*rerun"):
        sweep.run_sweep(toy, workers=1)
    assert 1 in sweep.pending(toy)
    assert not (toy / sweep.ROWS / "00001.json").exists()


def test_killed_sweep_resumes_without_losing_or_repeating_cells(toy: Path) -> None:
    """SIGKILL a real sweep (its whole process group, as a scheduler or Ctrl-C would) once
    a few cells are done; the rerun runs exactly the cells without a row."""
    n = 12
    sweep.prepare(toy, WORKER, [{"x": x, "sleep": 0.3} for x in range(n)])
    command = [sys.executable, "-m", "dlcurriculum.core.sweep", "run", str(toy), "--workers", "2"]
    proc = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 60
    while len(sweep.read_rows(toy)) < 3:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.time() < deadline, "the sweep made no progress"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)  # let the killed group's exit settle before reading the folder
    done = {
        r["cell"]: sweep.row_path(toy, r["cell"]).stat().st_mtime_ns for r in sweep.read_rows(toy)
    }
    assert 3 <= len(done) < n, "the sweep must be killed mid-way"
    starts_before = len(_starts(toy))

    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    rows = sweep.read_rows(toy)
    assert [r["cell"] for r in rows] == list(range(n))  # nothing lost
    assert [r["y"] for r in rows] == [x * x for x in range(n)]
    rerun = _starts(toy)[starts_before:]
    assert sorted(rerun) == sorted(set(range(n)) - set(done))  # nothing repeated
    for cell, mtime in done.items():
        assert sweep.row_path(toy, cell).stat().st_mtime_ns == mtime  # rows untouched
    assert [int(r["cell"]) for r in _table(toy)] == list(range(n))


def test_plan_commands_append_safely_from_concurrent_processes(toy: Path) -> None:
    """The plan's commands, all started at once as separate processes (as on a cluster),
    each add their row; the merged table ends with every row exactly once."""
    n = 5
    sweep.prepare(toy, WORKER, [{"x": x} for x in range(n)])
    commands = sweep.plan(toy, python=sys.executable)
    assert len(commands) == n and commands[0].endswith("--cell 0")
    procs = [subprocess.Popen(c, shell=True, stderr=subprocess.PIPE) for c in commands]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode() if p.stderr else ""
    assert [int(r["cell"]) for r in _table(toy)] == list(range(n))
    assert len({r["pid"] for r in _table(toy)}) == n  # one process per cell
    assert sweep.plan(toy) == []  # nothing left to run
    assert not list((toy / sweep.ROWS).glob(".*"))  # no temp file left behind


def test_command_line_status_and_errors(
    toy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # restored after the test: --cell sets it
    sweep.prepare(toy, WORKER, [{"x": 1}, {"x": 2}])
    assert sweep.main(["run", str(toy), "--cell", "0"]) == 0
    assert sweep.main(["status", str(toy)]) == 0
    assert "1/2 cells done" in capsys.readouterr().out
    assert sweep.main(["run", str(toy), "--cell", "7"]) == 2
    assert "has cells 0..1" in capsys.readouterr().err
    assert json.loads(sweep.row_path(toy, 0).read_text())["y"] == 1
