"""End-to-end runs of the prerequisite's experiments on real MNIST (smoke presets)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcurriculum.ch00_mnist import config, regularization_experiment
from dlcurriculum.ch00_mnist.experiments import MNIST, REGULARIZATION, run_mnist
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE
from dlcurriculum.core.runs import read_metrics

MNIST_PRESETS = config.PRESETS["mnist"]
DLC = [sys.executable, "-m", "dlcurriculum"]


def test_smoke_run_writes_the_run_folder_and_computes_its_criterion(tmp_path: Path) -> None:
    result, judgement = launch(MNIST, MNIST_PRESETS["smoke"], "smoke", tmp_path)
    run_dir = result.run_dir
    for name in (
        "config.json",
        "argv.txt",
        "metrics.jsonl",
        "summary.json",
        "report.md",
        "criteria.json",
        "model.pt",
        "figures/training.png",
    ):
        assert (run_dir / name).exists(), name
    assert list(run_dir.glob("events.out.tfevents.*")), "TensorBoard events"
    assert list((run_dir / "checkpoints").glob("step_*.pt"))
    rows = read_metrics(run_dir)
    assert {"losses/train", "charts/lr", "val/loss", "val/accuracy"} <= set(rows[-1])
    # the curves are validation curves: the test split is evaluated once, after training
    assert not any(key.startswith("test/") for row in rows for key in row)
    assert result.summary["test_accuracy"] >= 0.8  # 64 steps of a width-8 CNN: ~85%
    assert result.summary["val_accuracy"] == rows[-1]["val/accuracy"]
    assert judgement.status == SMOKE
    [(label, verdict)] = judgement.verdicts
    assert label == "test accuracy ≥ 99.00%" and verdict.status in (PASS, FAIL)
    assert verdict.measured == f"{result.summary['test_accuracy']:.2%}"
    report = (run_dir / "report.md").read_text()
    assert "SMOKE run, not judged" in report and "figures/training.png" in report


def test_same_seed_gives_identical_metrics(tmp_path: Path) -> None:
    cfg = MNIST_PRESETS["smoke"]
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    run_mnist(cfg, a)
    run_mnist(cfg, b)
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()


def _dlc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DLC, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_killed_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    """SIGKILL a real run after its first checkpoint; --resume must end exactly where an
    uninterrupted run of the same seed ends."""
    settings = ["--preset", "smoke", "--set", "epochs=2", "--set", "evals_per_epoch=8"]
    ref = _dlc("run", "mnist", *settings, "--out", "ref", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    [ref_dir] = (tmp_path / "ref" / "mnist").iterdir()

    proc = subprocess.Popen(
        [*DLC, "run", "mnist", *settings, "--out", "killed"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not list((tmp_path / "killed").glob("mnist/*/checkpoints/step_*.pt")):
        assert proc.poll() is None and time.time() < deadline, "run ended before a checkpoint"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    [killed_dir] = (tmp_path / "killed" / "mnist").iterdir()
    assert not (killed_dir / "summary.json").exists(), "the run finished before it was killed"

    resumed = _dlc("run", "mnist", "--resume", str(killed_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (killed_dir / "metrics.jsonl").read_text() == (ref_dir / "metrics.jsonl").read_text()
    ref_summary = json.loads((ref_dir / "summary.json").read_text())
    new_summary = json.loads((killed_dir / "summary.json").read_text())
    assert new_summary["test_accuracy"] == ref_summary["test_accuracy"]
    assert new_summary["test_loss"] == ref_summary["test_loss"]

    again = _dlc("run", "mnist", "--resume", str(killed_dir), cwd=tmp_path)
    assert again.returncode == 2 and "already finished" in again.stderr


def test_regularization_study_smoke_and_resume(tmp_path: Path) -> None:
    cfg = config.PRESETS["regularization"]["smoke"]
    result, judgement = launch(REGULARIZATION, cfg, "smoke", tmp_path)
    run_dir = result.run_dir
    rows = read_metrics(run_dir)
    assert len(rows) == len(cfg.cells()) == 10
    assert all({"eval/val_accuracy", "eval/test_accuracy"} <= set(r) for r in rows)
    table = result.summary["table"]["512"]
    assert set(table) == set(config.CONDITIONS)
    for condition, s in table.items():
        accs = [r["eval/test_accuracy"] for r in rows if r["condition"] == condition]
        assert s["n"] == 2 and s["mean"] == pytest.approx(sum(accs) / 2)
        assert 0.0 <= s["val_mean"] <= 1.0
    assert judgement.status == SMOKE
    statuses = [v.status for _, v in judgement.verdicts]
    # 2 seeds < the 3 required; one train size, so "more when small" cannot be measured
    assert statuses[0] == FAIL and statuses[1] in (PASS, FAIL) and statuses[2] == NOT_MEASURED
    assert (run_dir / "figures" / "regularization.png").exists()
    assert "Δ vs baseline" in (run_dir / "report.md").read_text()

    # a crash after 4 cells: the rerun skips them and ends with the same table
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "metrics.jsonl").write_text("".join(lines[:4]))
    (run_dir / "summary.json").unlink()
    again = regularization_experiment.run_regularization(cfg, run_dir)
    assert again.summary["table"] == result.summary["table"]
