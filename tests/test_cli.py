"""The dlc command as a user runs it: real subprocesses, exit codes and messages."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dlcurriculum
from dlcurriculum import catalog
from tests.golden import differences

DLC = [sys.executable, "-m", "dlcurriculum"]
PKG = Path(dlcurriculum.__file__).parent


def dlc(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    # wide columns so rich does not wrap the messages the tests look for
    return subprocess.run(
        [*DLC, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        timeout=300,
        # one thread: one job per core, and the golden figures were recorded so
        env={**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"},
    )


def test_list_and_show(tmp_path: Path) -> None:
    listing = dlc("list", cwd=tmp_path)
    assert listing.returncode == 0
    assert "Transformers" in listing.stdout and "Adversarial training" in listing.stdout
    page = dlc("show", "0", cwd=tmp_path)
    assert page.returncode == 0
    assert "dlc run mnist" in page.stdout and "Readings" in page.stdout
    last = dlc("show", "9", cwd=tmp_path)
    assert "dlc run adv-mnist" in last.stdout and "dlc run redteam" in last.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No such command 'nope'"),
        (["run", "mnist", "--plan"], "not a sweep"),
        (["show", "42"], "unknown chapter '42'"),
        (["run", "nope"], "unknown experiment 'nope'"),
        (["run", "mnist", "--preset", "huge"], "unknown preset 'huge'"),
        (["run", "mnist", "--set", "lr"], "malformed"),
        (["run", "mnist", "--set", "learning_rate=1"], "has no field 'learning_rate'"),
        (["run", "mnist", "--set", "epochs=two"], "epochs=two: expected an integer"),
        (["run", "mnist", "--set", "lr=fast"], "lr=fast: expected a number"),
        (["run", "mnist", "--set", "device=tpu"], "device 'tpu': unknown device"),
        (["run", "mnist", "--device", "cuda"], "no CUDA GPU"),
        (["run", "mnist", "--impl", "missing"], "no such folder"),
        # text is never read as console markup: brackets show as typed, and [/x] cannot crash
        (["run", "mnist", "--impl", "[/x] [rl] [1, 2]"], "--impl [/x] [rl] [1, 2]: no such"),
        (["report", "."], "not a run folder"),
        (["run", "mnist", "--resume", "."], "not a run folder"),
        (["check", "0", "--dir", "empty"], "does not exist: run `dlc start`"),
        (["data", "fetch", "cifar"], "unknown dataset 'cifar'"),
    ],
)
def test_user_errors_are_one_message_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = dlc(*args, cwd=tmp_path)
    if args[0] == "check":  # a missing workspace is a failed check, reported per exercise
        assert result.returncode == 1 and message in result.stdout
        assert not (tmp_path / "empty").exists(), "checking must not create the workspace"
        return
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "Resuming" not in result.stdout
    assert not (tmp_path / "runs").exists(), "a failed command must not leave a run folder"


def test_run_then_report(tmp_path: Path) -> None:
    result = dlc("run", "mnist", "--preset", "smoke", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # a smoke run exits 0 once it completes
    assert "SMOKE run, not judged" in result.stdout and "Wall time" in result.stdout
    assert "test accuracy ≥" in result.stdout
    [run_dir] = (tmp_path / "runs" / "mnist").iterdir()
    assert not differences("mnist", json.loads((run_dir / "summary.json").read_text()))
    (run_dir / "report.md").unlink()
    rebuilt = dlc("report", str(run_dir), cwd=tmp_path)
    assert rebuilt.returncode == 0 and (run_dir / "report.md").exists()
    assert "mnist SMOKE (not judged)" in dlc("list", cwd=tmp_path).stdout
    dry = dlc("run", "mnist", "--preset", "quick", "--set", "epochs=3", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "epochs" in dry.stdout and "3" in dry.stdout


SMALL_MNIST = ["--preset", "quick", "--set", "width=8", "--set", "epochs=1", "--set", "lr=0.02"]
SMALL_MNIST += ["--set", "batch_size=64", "--set", "train_size=4096"]


def test_a_failed_criterion_exits_3_and_a_passed_run_0(tmp_path: Path) -> None:
    failed = dlc("run", "mnist", *SMALL_MNIST, "--set", "target_accuracy=0.9999", cwd=tmp_path)
    assert failed.returncode == 3, failed.stderr
    assert "FAIL  test accuracy ≥ 99.99%" in failed.stdout and "FAIL: 1 of 1" in failed.stdout
    passed = dlc("run", "mnist", *SMALL_MNIST, "--set", "target_accuracy=0.5", cwd=tmp_path)
    assert passed.returncode == 0, passed.stderr
    assert "PASS  test accuracy ≥ 50.00%" in passed.stdout
    assert "mnist PASS" in dlc("list", cwd=tmp_path).stdout  # the latest run
    help_words = " ".join(dlc("run", "--help", cwd=tmp_path).stdout.replace("│", " ").split())
    assert "3 when a criterion FAILs or is N/A" in help_words


def test_ctrl_c_names_the_folder_to_resume_and_exits_130(tmp_path: Path) -> None:
    args = ["run", "mnist", "--preset", "smoke", "--set", "epochs=3", "--set", "evals_per_epoch=8"]
    proc = subprocess.Popen(
        [*DLC, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not list(tmp_path.glob("runs/mnist/*/checkpoints/step_*.pt")):
        assert proc.poll() is None and time.time() < deadline, "run ended before a checkpoint"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    [run_dir] = (tmp_path / "runs" / "mnist").iterdir()
    assert proc.returncode == 130, stderr
    ckpt = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-1]  # kept, intact
    resume = f"dlc run mnist --resume {run_dir.relative_to(tmp_path)}"
    assert f"resume with: {resume}" in " ".join(stderr.split())
    assert f"interrupted at step {int(ckpt.stem[5:])};" in stderr
    assert "Traceback" not in stderr
    assert dlc("run", "mnist", "--resume", str(run_dir), cwd=tmp_path).returncode == 0


def test_learner_workflow(tmp_path: Path) -> None:
    """start -> all stubs fail as 'not implemented'; the reference copied in passes and runs;
    a deliberately broken copy fails with a precise message."""
    started = dlc("start", "0", "--dir", "ws", cwd=tmp_path)
    assert started.returncode == 0 and "wrote" in started.stdout
    stubs = dlc("check", "0", "--dir", "ws", cwd=tmp_path)
    assert stubs.returncode == 1
    assert stubs.stdout.count("not implemented yet") == 4 and "Traceback" not in stubs.stdout
    assert "0/4 pass" in dlc("list", "--dir", "ws", cwd=tmp_path).stdout

    folder = tmp_path / "ws" / "ch00_mnist"
    for module in ("model", "training"):
        shutil.copy(PKG / "ch00_mnist" / f"{module}.py", folder / f"{module}.py")
    good = dlc("check", "0", "--dir", "ws", cwd=tmp_path)
    assert good.returncode == 0, good.stdout
    assert "4/4 checks pass" in good.stdout
    run = dlc("run", "mnist", "--preset", "smoke", "--impl", "ws", cwd=tmp_path)
    assert run.returncode == 0 and "SMOKE run, not judged" in run.stdout, run.stderr

    training = folder / "training.py"
    training.write_text(training.read_text().replace("argmax(dim=1)", "argmax(dim=0)"))
    bad = dlc("check", "0", "accuracy", "--dir", "ws", cwd=tmp_path)
    assert bad.returncode == 1
    # the message points at the learner's own line
    assert "FAIL  accuracy" in bad.stdout and "training.py:" in bad.stdout
    assert "argmax(dim=0)" in bad.stdout and "Traceback" not in bad.stdout

    # the learner's code raising mid-run: one line naming their line, and no run folder left
    training.write_text(training.read_text().replace("argmax(dim=0)", "argmax(dim=7)"))
    runs_before = sorted((tmp_path / "runs" / "mnist").iterdir())
    crash = dlc("run", "mnist", "--preset", "smoke", "--impl", "ws", cwd=tmp_path)
    assert crash.returncode == 2 and "Traceback" not in crash.stderr, crash.stderr
    [line] = crash.stderr.strip().splitlines()
    assert line.startswith("error: your code raised IndexError") and "training.py:" in line
    assert sorted((tmp_path / "runs" / "mnist").iterdir()) == runs_before


def test_hint_and_solution(tmp_path: Path) -> None:
    hint = dlc("hint", "0", "accuracy", cwd=tmp_path)
    assert hint.returncode == 0 and "dim=1" in hint.stdout and "argmax(dim=1) ==" not in hint.stdout
    refused = dlc("solution", "0", "accuracy", cwd=tmp_path, input="n\n")
    assert refused.returncode != 0 and "argmax(dim=1) ==" not in refused.stdout
    shown = dlc("solution", "0", "accuracy", "--yes", cwd=tmp_path)
    assert shown.returncode == 0 and "argmax(dim=1) ==" in shown.stdout


def test_written_exercise_start_and_solution(tmp_path: Path) -> None:
    """Chapter 1's first-principles questions: `dlc start` writes them (never over the learner's
    file); `dlc solution` asks before it shows our answers, as for code."""
    started = dlc("start", "1", "--dir", "ws", cwd=tmp_path)
    sheet = tmp_path / "ws" / "ch01_transformers" / "first_principles.md"
    assert started.returncode == 0
    assert "Are the dense layers shared across blocks?" in sheet.read_text()
    assert "first_principles.md  (written exercise; then compare:" in started.stdout
    sheet.write_text("my answers")
    assert "kept yours" in dlc("start", "1", "--dir", "ws", cwd=tmp_path).stdout
    assert sheet.read_text() == "my answers"
    answer = "| 8 | no | 3.466 | 3.2% | 3.2% | 48.4 | 113 |"  # the measured residual ablation
    refused = dlc("solution", "1", "first_principles", cwd=tmp_path, input="n\n")
    assert refused.returncode != 0 and answer not in refused.stdout
    shown = dlc("solution", "1", "first_principles", cwd=tmp_path, input="y\n")
    assert shown.returncode == 0 and answer in shown.stdout
    assert "The KV cache (`attention.KVCache`) plays the role" in shown.stdout


def test_data_info(tmp_path: Path) -> None:
    result = dlc("data", "info", cwd=tmp_path)
    assert result.returncode == 0
    assert "mnist" in result.stdout and "shakespeare" in result.stdout


def test_no_data_and_no_network_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DLC_OFFLINE": "1",
        "DLC_DATA_DIR": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [*DLC, "run", "mnist", "--preset", "smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: could not get the mnist dataset")
    assert "place the files by hand" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "runs").glob("mnist/*")), "the failed run left its folder"


# `mnist` is run by the tests above, `ppo-procgen` by chapter 6's (it needs the procgen extra)
# and `rlhf` below (it starts from a chapter-1 run)
OTHER_EXPERIMENTS = sorted(set(catalog.experiments()) - {"mnist", "ppo-procgen", "rlhf"})


@pytest.mark.parametrize("experiment", OTHER_EXPERIMENTS)
def test_every_experiment_runs_from_the_command_line(tmp_path: Path, experiment: str) -> None:
    """`mnist` is run by the tests above; each other experiment once, as a user would."""
    result = dlc("run", experiment, "--preset", "smoke", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Report:" in result.stdout and "SMOKE run, not judged" in result.stdout
    [run_dir] = (tmp_path / "runs" / experiment).iterdir()
    assert (run_dir / "report.md").exists() and (run_dir / "criteria.json").exists()
    # the figures are the golden ones: a change that moves them is deliberate and recorded
    assert not differences(experiment, json.loads((run_dir / "summary.json").read_text()))


def test_rlhf_starts_from_a_chapter_1_run_as_the_page_says(tmp_path: Path) -> None:
    missing = dlc("run", "rlhf", "--preset", "smoke", cwd=tmp_path)
    assert missing.returncode == 2 and "dlc run shakespeare" in missing.stderr
    assert dlc("run", "shakespeare", "--preset", "smoke", cwd=tmp_path).returncode == 0
    [policy] = (tmp_path / "runs" / "shakespeare").iterdir()
    result = dlc("run", "rlhf", "--preset", "smoke", "--set", f"policy_run={policy}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    [run_dir] = (tmp_path / "runs" / "rlhf").iterdir()
    assert (run_dir / "report.md").exists() and (run_dir / "labels.sqlite").exists()
    assert not differences("rlhf", json.loads((run_dir / "summary.json").read_text()))


def test_console_text_is_never_markup(capsys: pytest.CaptureFixture[str]) -> None:
    from dlcurriculum.console import err, out

    out.print("pip install 'deep-learning-curriculum[rl]'; got [inf, 31.0] [/path] [happy]")
    err.print("cache.layers[i] [bold]x[/bold]")
    captured = capsys.readouterr()
    assert "deep-learning-curriculum[rl]'; got [inf, 31.0] [/path] [happy]" in captured.out
    assert "cache.layers[i] [bold]x[/bold]" in captured.err


def test_a_torn_run_file_is_one_clear_line(tmp_path: Path) -> None:
    assert dlc("run", "mnist", "--preset", "smoke", cwd=tmp_path).returncode == 0
    [run_dir] = (tmp_path / "runs" / "mnist").iterdir()
    summary, config = run_dir / "summary.json", run_dir / "config.json"
    summary.write_text(summary.read_text()[:20])
    torn = dlc("report", str(run_dir), cwd=tmp_path)
    assert torn.returncode == 2 and "Traceback" not in torn.stderr
    assert torn.stderr.startswith(f"error: {summary} cannot be read")
    assert f"--resume {run_dir}" in " ".join(torn.stderr.split())
    config.write_text("{")
    torn = dlc("report", str(run_dir), cwd=tmp_path)
    assert torn.returncode == 2 and torn.stderr.startswith(f"error: {config} cannot be read")
    assert dlc("list", cwd=tmp_path).returncode == 0  # the overview survives


def test_solution_piped_is_not_wrapped_and_start_names_the_exercises(tmp_path: Path) -> None:
    narrow = {**os.environ, "COLUMNS": "30"}
    shown = subprocess.run(
        [*DLC, "solution", "1", "layer_norm", "--yes"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=narrow,
        timeout=120,
    )
    assert shown.returncode == 0
    assert "var = x.var(dim=-1, keepdim=True, correction=0)" in shown.stdout
    compile(shown.stdout, "solution", "exec")  # long lines intact: it parses as pasted
    started = dlc("start", "0", "--dir", "ws", cwd=tmp_path)
    assert "model.py  (exercises: cnn, predict)" in started.stdout


def test_the_chapter_folder_for_the_workspace_is_explained(tmp_path: Path) -> None:
    assert dlc("start", "0", "--dir", "ws", cwd=tmp_path).returncode == 0
    for args in (
        ["check", "0", "--dir", "ws/ch00_mnist"],
        ["run", "mnist", "--impl", "ws/ch00_mnist"],
    ):
        result = dlc(*args, cwd=tmp_path)
        assert result.returncode == 2
        flag = args[-2]
        assert f"{flag} ws/ch00_mnist is the chapter's folder" in result.stderr
        assert f"{flag} ws" in result.stderr.splitlines()[0].split(": ")[-1]
    assert not (tmp_path / "ws" / "ch00_mnist" / "ch00_mnist").exists()
