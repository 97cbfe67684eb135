"""Which exceptions are the user's (one line) and which are a bug in dlc (a traceback)."""

import errno
import json
import sys
from pathlib import Path

import pytest

from dlcurriculum import catalog, cli
from dlcurriculum.core.errors import LEARNER_PACKAGE, DlcError, user_message
from dlcurriculum.core.exercises import chapter_exercises, start, unfinished
from dlcurriculum.core.experiment import load_spec


def _raised(exc: BaseException, module: str | None = None) -> BaseException:
    """`exc` raised for real (so it has a traceback), from code in `module` when given."""
    code = compile("def boom(e):\n    raise e\n", f"{module or 'dlc'}.py", "exec")
    namespace: dict[str, object] = {"__name__": module or "dlcurriculum.fake"}
    exec(code, namespace)
    try:
        namespace["boom"](exc)  # type: ignore[operator]
    except BaseException as e:
        return e
    raise AssertionError("unreachable")


def test_user_errors_become_one_line() -> None:
    assert user_message(DlcError("bad seed")) == "bad seed"
    gone = _raised(FileNotFoundError(errno.ENOENT, "No such file or directory", "runs/x"))
    assert user_message(gone) == "runs/x: No such file or directory: check the path"
    denied = _raised(PermissionError(errno.EACCES, "Permission denied", "/root/x"))
    assert "/root/x: Permission denied: choose a path you may write to" in str(user_message(denied))
    port = _raised(OSError(errno.EADDRINUSE, "Address already in use"))
    assert "choose another with --port" in str(user_message(port))
    extra = _raised(ModuleNotFoundError("No module named 'gymnasium'", name="gymnasium"))
    assert user_message(extra) == (
        "this needs the optional package gymnasium: pip install -e '.[rl]' "
        "(in your checkout of this repository)"
    )
    torn = _raised(json.JSONDecodeError("Expecting value", "{", 1))
    assert "invalid JSON" in str(user_message(torn))


def test_an_exception_in_the_learners_code_names_their_line() -> None:
    learner = f"{LEARNER_PACKAGE}0123456789.ch00_mnist.model"
    stub = _raised(NotImplementedError("forward: see the docstring"), learner)
    message = str(user_message(stub))
    assert message.startswith(f"{learner}.py:2 in boom is not written yet")
    assert "dlc check" in message
    bug = _raised(IndexError("list index out of range"), learner)
    assert "your code raised IndexError: list index out of range" in str(user_message(bug))


def test_anything_else_is_a_bug_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert user_message(_raised(KeyError("oops"))) is None
    assert user_message(_raised(ModuleNotFoundError("x", name="not_an_extra"))) is None

    def broken() -> dict[int, object]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(catalog, "chapters", broken)
    monkeypatch.setattr(sys, "argv", ["dlc", "list"])
    with pytest.raises(RuntimeError, match="a bug"):  # the traceback is printed, not hidden
        cli.main()
    assert "this is a bug in dlc: please report it" in capsys.readouterr().err


def test_unfinished_names_each_stub_and_forgets_the_written_ones(tmp_path: Path) -> None:
    start("ch00_mnist", tmp_path)
    todo = unfinished("ch00_mnist", tmp_path)
    assert [t.split(" ")[0] for t in todo] == [
        "CNN.__init__",
        "CNN.forward",
        "train_step",
        "accuracy",
        "predict",
    ]
    training = tmp_path / "ch00_mnist" / "training.py"
    source = training.read_text()
    training.write_text(
        source.replace('raise NotImplementedError("accuracy: see the docstring")', "return 1.0")
    )
    assert unfinished("ch00_mnist", tmp_path, ["accuracy"]) == []
    # an exercise's dependencies count: train_step depends on the CNN
    assert [t.split(" ")[0] for t in unfinished("ch00_mnist", tmp_path, ["train_step"])] == [
        "CNN.__init__",
        "CNN.forward",
        "train_step",
    ]
    training.write_text("def train_step(:\n")
    with pytest.raises(DlcError, match=r"training\.py:1 does not parse"):
        unfinished("ch00_mnist", tmp_path)


@pytest.mark.parametrize("experiment", sorted(catalog.experiments()))
def test_each_experiment_names_real_exercises(experiment: str) -> None:
    entry = catalog.experiments()[experiment]
    spec = load_spec(entry.module, entry.attr)
    names = {e.name for e in chapter_exercises(catalog.get_chapter(entry.chapter).slug)}
    assert set(spec.exercises or ()) <= names
    if spec.exercises is None:
        assert names, f"{experiment}: a chapter without exercises must declare exercises=()"
