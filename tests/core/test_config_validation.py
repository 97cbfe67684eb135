"""Every experiment's config refuses values it cannot run with: one line naming the field,
never a traceback, never a run folder; and `python -O` keeps the checks."""

import dataclasses
import math
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcurriculum import catalog, cli
from dlcurriculum.core.config import ConfigError, check, describe, one_of, require
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import load_spec

SPECS = {name: load_spec(e.module, e.attr) for name, e in catalog.experiments().items()}
FIELDS = sorted(
    (name, f.name, hint)
    for name, spec in SPECS.items()
    for f in dataclasses.fields(spec.config_cls)
    for hint in [typing.get_type_hints(spec.config_cls)[f.name]]
)
# Numeric fields where a negative value means something: seeds, returns (Pendulum's are <= 0),
# log2 of the smallest batch.
NEGATIVE_OK = {"seed", "target_return", "min_log2_batch"}
BAD_VALUES = ("0", "-1", "nan", "inf", "-inf", "1e300", str(10**30), "abc", "", "1.5", "[]")


def _numeric(hint: object) -> bool:
    args = typing.get_args(hint) or (hint,)
    return any(a in (int, float) for a in args)


def _configure(experiment: str, preset: str, assignment: str) -> str | None:
    """The error a `--set` gets, or None when the config takes it. Any other exception fails
    the test: that is the traceback a user would see."""
    spec = SPECS[experiment]
    try:
        cfg = spec.config(preset, [assignment])
    except DlcError as e:
        return str(e)
    describe(cfg)  # what --dry-run prints
    return None


@pytest.mark.parametrize(
    ("experiment", "field", "hint"), FIELDS, ids=[f"{e}-{f}" for e, f, _ in FIELDS]
)
def test_every_field_refuses_what_it_cannot_run_with(
    experiment: str, field: str, hint: object
) -> None:
    for preset in SPECS[experiment].presets:
        for raw in BAD_VALUES:
            message = _configure(experiment, preset, f"{field}={raw}")
            if message is None:
                continue
            assert message.strip() and "\n" not in message, (experiment, field, raw, message)
            assert field in message, f"{experiment} {field}={raw}: {message!r} must name {field}"
        if _numeric(hint) and field not in NEGATIVE_OK:
            refused = _configure(experiment, preset, f"{field}=-1")
            assert refused is not None, f"{experiment} --preset {preset}: {field}=-1 accepted"


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    item=st.sampled_from(FIELDS),
    raw=st.one_of(
        st.integers(min_value=-(10**40), max_value=10**40).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.text(max_size=12),
        st.sampled_from(BAD_VALUES),
    ),
)
def test_any_set_passes_dry_run_or_is_one_error_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    item: tuple[str, str, object],
    raw: str,
) -> None:
    experiment, field, _ = item
    runs = tmp_path / "runs"
    argv = ["dlc", "run", experiment, "--set", f"{field}={raw}", "--dry-run", "--out", str(runs)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    captured = capsys.readouterr()
    assert exit_.value.code in (0, None, 2), (argv, captured.err)
    assert "Traceback" not in captured.err + captured.out
    if exit_.value.code == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, captured.err)
    assert not runs.exists(), "a dry run never creates a run folder"


def test_checks_name_field_value_and_range() -> None:
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        epochs: int = 1
        dropout: float = 0.0
        eps: tuple[float, ...] = (0.1,)
        method: str = "a"

    def refusal(**changes: object) -> str:
        cfg = Cfg(**changes)  # type: ignore[arg-type]
        with pytest.raises(ConfigError) as e:
            check(cfg, "epochs", ge=1)
            check(cfg, "dropout", ge=0, lt=1)
            check(cfg, "eps", gt=0, le=1)
            one_of(cfg, "method", ("a", "b"))
        return str(e.value)

    assert refusal(epochs=0) == "epochs must be >= 1, got 0"
    assert refusal(dropout=1.0) == "dropout must be in [0, 1), got 1.0"
    assert refusal(dropout=math.nan) == "dropout must be in [0, 1), got nan"
    assert refusal(eps=()) == "eps must not be empty"
    assert refusal(eps=(0.5, 2.0)) == "every value of eps must be in (0, 1], got (0.5, 2.0)"
    assert refusal(epochs="3") == "epochs must be a number, got '3'"
    assert refusal(method="c") == "method must be one of a, b, got 'c'"
    with pytest.raises(ConfigError, match=r"^need a < b$"):
        require(False, "need a < b")


def test_python_O_keeps_the_checks(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-O",
            "-m",
            "dlcurriculum",
            "run",
            "mnist",
            "--set",
            "epochs=0",
            "--dry-run",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: epochs must be >= 1, got 0"
    assert not (tmp_path / "runs").exists()


def test_no_config_validates_with_assert() -> None:
    """`assert` vanishes under `python -O` and gives an empty message: configs use check()."""
    import inspect

    for name, spec in SPECS.items():
        post_init = getattr(spec.config_cls, "__post_init__", None)
        if post_init is not None:
            source = inspect.getsource(post_init)
            assert "assert " not in source, f"{name}: {spec.config_cls.__name__} uses assert"
