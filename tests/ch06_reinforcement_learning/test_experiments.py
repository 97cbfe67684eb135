"""Both experiments through `launch`: run folder, report, GIF, `dlc eval`, resume, bad input."""

import dataclasses
import json
from pathlib import Path

import pytest

from dlcurriculum.ch06_reinforcement_learning.config import PRESETS
from dlcurriculum.ch06_reinforcement_learning.experiments import (
    PPO_CARTPOLE,
    PPO_PROCGEN,
    run_ppo,
)
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE
from dlcurriculum.core.runs import read_metrics

from .helpers import metrics_without_clock


def test_cartpole_smoke_computes_its_criteria_and_writes_the_run_folder(tmp_path: Path) -> None:
    result, judgement = launch(PPO_CARTPOLE, PRESETS["ppo-cartpole"]["smoke"], "smoke", tmp_path)
    run_dir = result.run_dir
    for name in (
        "config.json",
        "metrics.jsonl",
        "summary.json",
        "report.md",
        "criteria.json",
        "figures/returns.png",
        "figures/diagnostics.png",
        "seed_0/metrics.jsonl",
        "seed_0/agent.pt",
        "seed_0/eval.gif",
        "seed_0/summary.json",
    ):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "seed_0").glob("events.out.tfevents.*")), "TensorBoard events"
    # a smoke run is not judged, but every criterion is computed from its figures
    assert judgement.status == SMOKE and len(judgement.verdicts) == 4
    assert all(v.status in (PASS, FAIL) for _, v in judgement.verdicts), judgement.verdicts
    report = (run_dir / "report.md").read_text()
    assert "SMOKE run, not judged" in report
    assert "seed_0/eval.gif" in report and "what to turn" in report
    # dlc eval replays the final evaluation exactly
    evaluated = PPO_CARTPOLE.evaluate(run_dir)  # type: ignore[misc]
    final = result.summary["seeds"][0]["final_eval_return"]
    assert evaluated["seed_0"].startswith(f"mean return {final:.2f}")


def test_an_interrupted_multi_seed_run_resumes_inside_the_seed(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        PRESETS["ppo-cartpole"]["smoke"], total_timesteps=2048, num_seeds=2, gif_episodes=0
    )
    ref, crashed = tmp_path / "ref", tmp_path / "crashed"
    ref.mkdir(), crashed.mkdir()
    first = run_ppo(cfg, ref)
    run_ppo(cfg, crashed)
    # as if killed during seed 1, after its first checkpoint
    (crashed / "summary.json").unlink()
    (crashed / "seed_1" / "summary.json").unlink()
    (crashed / "seed_1" / "checkpoints" / "step_00002048.pt").unlink()
    lines = (crashed / "metrics.jsonl").read_text().splitlines(keepends=True)
    (crashed / "metrics.jsonl").write_text(lines[0])
    again = run_ppo(cfg, crashed)
    assert read_metrics(crashed) == read_metrics(ref)
    assert metrics_without_clock(crashed / "seed_1") == metrics_without_clock(ref / "seed_1")
    assert [s["final_eval_return"] for s in again.summary["seeds"]] == [
        s["final_eval_return"] for s in first.summary["seeds"]
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"env": "CartPoel-v1"}, "unknown environment 'CartPoel-v1'"),
        ({"network": "impala"}, "use --set network=mlp"),
    ],
)
def test_bad_settings_are_a_clear_error_and_leave_no_run_folder(
    tmp_path: Path, change: dict, message: str
) -> None:
    cfg = dataclasses.replace(PRESETS["ppo-cartpole"]["smoke"], **change)
    with pytest.raises(DlcError, match=message):
        launch(PPO_CARTPOLE, cfg, "smoke", tmp_path)
    assert not list((tmp_path / "ppo-cartpole").iterdir())


def test_procgen_smoke_on_a_real_game(tmp_path: Path) -> None:
    result, judgement = launch(PPO_PROCGEN, PRESETS["ppo-procgen"]["smoke"], "smoke", tmp_path)
    s = result.summary
    assert s["env"] == "starpilot" and s["random_episodes"] == 4
    rows = read_metrics(result.run_dir / "seed_0")
    assert len(rows) == 2 and "charts/reward_scale" in rows[-1]
    assert (result.run_dir / "seed_0" / "eval.gif").exists()
    assert judgement.status == SMOKE
    label, beats = judgement.verdicts[0]
    assert "standard errors" in label and beats.status in (PASS, FAIL, NOT_MEASURED)
    # N/A only when none of its 512 steps finished an episode
    assert beats.status != NOT_MEASURED or s["seeds"][0]["recent_episodes"] == 0
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["seeds"][0]["env_steps"] == 512


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["num_envs=1", "num_steps=1"], r"num_envs \* num_steps must be at least 2"),
        (["num_minibatches=3"], r"num_minibatches \(3\) must divide the rollout .* = 256 samples"),
        (["total_timesteps=100"], r"total_timesteps \(100\) must cover at least one rollout"),
        (["min_seeds_solved=2"], r"min_seeds_solved \(2\) must be at most num_seeds \(1\)"),
        (["target_kl=0"], r"target_kl must be > 0, got 0.0"),
        (["downsample=3"], r"downsample must be one of 1, 2, 4, got 3"),
    ],
)
def test_ppo_config_refuses_what_it_cannot_run_with(assignments: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PPO_CARTPOLE.config("smoke", assignments)
