"""`dlc run X --estimate`: the projection against a real run, the stop, and what is left behind."""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from dlcurriculum import catalog
from dlcurriculum.core import experiment as exp
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig
from dlcurriculum.core.estimate import estimate

LONGER = ["steps=1500", "eval_every=250"]
"""reverse's smoke preset, long enough (a few seconds) to be stopped and extrapolated."""


def dlc(*args: str, cwd: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp)}
    return subprocess.run(
        [sys.executable, "-m", "dlcurriculum", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_projection_is_near_the_real_wall_time(tmp_path: Path) -> None:
    entry = catalog.get_experiment("reverse")
    spec = exp.load_spec(entry.module, entry.attr)
    cfg = spec.config("smoke", LONGER)
    result, _ = exp.launch(spec, cfg, "smoke", tmp_path)
    real = result.summary["wall_time_s"]
    found = estimate(spec, cfg, "smoke", budget_s=real / 3)
    assert not found.finished and found.total_s is not None
    assert 0.5 < found.total_s / real < 2, (found.total_s, real)
    (stage,) = found.stages
    assert (stage.desc, stage.total) == ("reverse", 1500) and 0 < stage.done < 1500
    assert found.disk["checkpoints"] > 0  # one checkpoint was written to size them
    assert found.peak_rss and found.peak_rss > 10**7


def test_a_run_without_steps_is_stopped_at_the_deadline() -> None:
    def run(cfg: object, run_dir: Path) -> None:
        bar = runs.progress(10, "slow")
        time.sleep(30)  # the deadline interrupts the sleep
        bar.update(1)

    start = time.perf_counter()
    found = estimate(SimpleNamespace(name="slow", run=run), RunConfig(), "smoke", budget_s=1.0)
    assert time.perf_counter() - start < 10
    assert not found.finished and found.total_s is None
    assert "no step ended" in found.describe("dlc run slow")
    assert runs.meter is None


def test_cli_prints_the_estimate_and_keeps_nothing(tmp_path: Path) -> None:
    tmp, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmp.mkdir(), cwd.mkdir()
    sets = [a for s in LONGER for a in ("--set", s)]
    done = dlc(
        "run",
        "reverse",
        "--preset",
        "smoke",
        *sets,
        "--estimate",
        "--estimate-seconds",
        "2",
        cwd=cwd,
        tmp=tmp,
    )
    assert done.returncode == 0, done.stderr
    assert "Estimate of `dlc run reverse --preset smoke --set steps=1500" in done.stdout
    assert "reverse  " in done.stdout and "extrapolated past the warm-up" in done.stdout
    assert "projected" in done.stdout and "Peak memory" in done.stdout and "Disk" in done.stdout
    assert list(cwd.iterdir()) == [] and list(tmp.iterdir()) == []  # no run folder anywhere


def test_bad_input_is_one_error_line(tmp_path: Path) -> None:
    for args, message in [
        (["run", "nope", "--estimate"], "unknown experiment 'nope'"),
        (["run", "reverse", "--estimate", "--set", "steps=0"], "steps must be >= 1"),
        (["run", "reverse", "--estimate", "--resume", str(tmp_path)], "drop --resume"),
    ]:
        done = dlc(*args, cwd=tmp_path, tmp=tmp_path)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith("error:") and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_show_gpu_prints_the_page(tmp_path: Path) -> None:
    done = dlc("show", "gpu", cwd=tmp_path, tmp=tmp_path)
    assert done.returncode == 0
    assert "Running on a GPU" in done.stdout and "--device cuda" in done.stdout
    assert "--estimate" in done.stdout
