"""`dlc run rlhf --preset smoke` end to end on a tiny chapter-1 model, and its report."""

import json
from pathlib import Path

import pytest

from dlcurriculum.ch07_alignment.experiments import PRESETS, RLHF
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import launch
from tests.ch07_alignment.helpers import tiny_policy


def _run(tmp_path: Path, name: str, *sets: str):  # type: ignore[no-untyped-def]
    policy = tiny_policy(tmp_path / "policy")
    cfg = RLHF.config("smoke", [f"policy_run={policy.parent}", *sets])
    return launch(RLHF, cfg, "smoke", tmp_path / name)


def test_smoke_run_writes_every_stage_and_a_report(tmp_path: Path) -> None:
    result, verdicts = _run(tmp_path, "a")
    d = result.run_dir
    for name in (
        "labels.sqlite",
        "reward_model.pt",
        "reward_model.json",
        "constants.json",
        "milestones.json",
        "report.md",
    ):
        assert (d / name).exists(), name
    rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert {"objective/kl", "objective/reward", "policy/clipfrac"} <= set(rows[0])
    s = result.summary
    assert s["milestones"][0]["target"] == 0.0 and s["label_counts"]["neutral"] >= 0
    assert len(verdicts) == 6 and "VADER" in (d / "report.md").read_text()
    for m in s["milestones"][1:]:
        assert (d / "milestones" / f"kl_{m['target']:g}.pt").exists()
    # same seed, same metrics (STYLE.md section 7)
    again, _ = _run(tmp_path, "b")
    assert (again.run_dir / "metrics.jsonl").read_text() == (d / "metrics.jsonl").read_text()


def test_negative_flag_and_missing_policy(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, "neg", "negative=true", "max_iterations=2")
    assert "**negative**" in (result.run_dir / "report.md").read_text()
    with pytest.raises(DlcError, match="dlc run shakespeare --preset quick"):
        launch(RLHF, PRESETS["smoke"], "smoke", tmp_path / "none")
