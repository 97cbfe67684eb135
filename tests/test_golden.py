"""The golden comparison sees a moved figure, ignores the clock, and keeps CPUs apart."""

import json
import math
from pathlib import Path

import pytest

from tests import golden
from tests.golden import comparable, differences

FIGURES = {"accuracy": 0.9871, "n_params": 1234, "curve.0": 2.5, "status": "PASS"}


def _summary(figures: dict) -> dict:
    """A nested summary rebuilt from dotted paths."""
    summary: dict = {}
    for path, value in figures.items():
        node = summary
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return summary


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two CPUs' figures of one experiment: they agree on everything but the accuracy."""
    for name, accuracy in (("GenuineIntel-6-207", 0.9871), ("AuthenticAMD-25-17", 0.9866)):
        (tmp_path / name).mkdir()
        figures = FIGURES | {"accuracy": accuracy}
        (tmp_path / name / "exp.json").write_text(json.dumps(figures))
    monkeypatch.setattr(golden, "GOLDEN", tmp_path)
    monkeypatch.setattr(golden, "cpu", lambda: "GenuineIntel-6-207")
    return tmp_path


def test_a_moved_figure_is_reported_and_clock_readings_are_not(recorded: Path) -> None:
    summary = _summary(FIGURES) | {"wall_time_s": 123.0}
    assert differences("exp", summary) == []
    summary["accuracy"] += 1e-3
    assert [d.split(":")[0] for d in differences("exp", summary)] == ["accuracy"]
    summary["accuracy"] = FIGURES["accuracy"] + 1e-9  # on its own CPU, to the tenth digit
    assert [d.split(":")[0] for d in differences("exp", summary)] == ["accuracy"]
    summary = _summary(FIGURES | {"n_params": 1235})
    assert [d.split(":")[0] for d in differences("exp", summary)] == ["n_params"]


def test_another_cpu_is_held_to_what_every_recorded_cpu_agrees_on(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(golden, "cpu", lambda: "GenuineIntel-6-85")
    assert differences("exp", _summary(FIGURES | {"accuracy": 0.5})) == []  # CPUs disagree
    moved = _summary(FIGURES | {"curve.0": 2.6})
    assert [d.split(":")[0] for d in differences("exp", moved)] == ["curve.0"]
    rounded = _summary(FIGURES | {"curve.0": 2.5000001})  # another CPU's last digit
    assert differences("exp", rounded) == []
    missing = _summary({k: v for k, v in FIGURES.items() if k != "status"})
    assert [d.split(":")[0] for d in differences("exp", missing)] == ["status"]
    assert "record them" in differences("unrecorded", _summary(FIGURES))[0]


def test_a_newer_record_on_another_cpu_is_pointed_out(recorded: Path) -> None:
    """Figures moved on purpose and recorded on one CPU leave the others' stale: say so."""
    for name, stamp in (("GenuineIntel-6-207", "2026-12-05T10:00 aaa"), ("AuthenticAMD-25-17", "")):
        path = recorded / name / "exp.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {golden.RECORDED: stamp}))
    moved = _summary(FIGURES | {"n_params": 1235})
    assert len(differences("exp", moved)) == 1, "the other CPU's record is older: no hint"
    path = recorded / "AuthenticAMD-25-17" / "exp.json"
    figures = json.loads(path.read_text()) | {golden.RECORDED: "2026-12-05T11:00 bbb"}
    path.write_text(json.dumps(figures))
    *_, hint = differences("exp", moved)
    assert "AuthenticAMD-25-17 recorded exp after this CPU did" in hint
    assert differences("exp", _summary(FIGURES)) == [], "no difference, no hint"


def test_the_cpu_names_vendor_family_and_model() -> None:
    name = golden.cpu()
    assert name and " " not in name
    if Path("/proc/cpuinfo").exists():
        assert len(name.split("-")) == 3, name


def test_lists_are_indexed_and_the_clock_left_out() -> None:
    figures = comparable({"a": [1.0, float("nan")], "steps_per_s": 9.0, "time": 1, "sps": 3})
    assert sorted(figures) == ["a.0", "a.1"] and math.isnan(figures["a.1"])
