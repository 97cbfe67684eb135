"""Every criterion of both PPO experiments on planted run folders: the README's quick runs
pass; too few seeds solved, returns no better than random, clip fractions out of band, a
critic that learns nothing and KL spikes never do, and what was not measured is N/A."""

import json
from pathlib import Path
from typing import Any

from dlcurriculum.ch06_reinforcement_learning.experiments import PPO_CARTPOLE, PPO_PROCGEN
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, Judgement
from tests.criteria import judge_summary, statuses


def _judge(spec: ExperimentSpec, run_dir: Path, summary: dict[str, Any], *sets: str) -> Judgement:
    return judge_summary(spec, summary, *sets, run_dir=run_dir)


def _statuses(
    spec: ExperimentSpec, run_dir: Path, summary: dict[str, Any], *sets: str
) -> list[str]:
    return statuses(spec, summary, *sets, run_dir=run_dir)


def _healthy_rows(n: int = 20) -> list[dict[str, Any]]:
    """A healthy seed's updates: clip fraction 5%, explained variance rising to 0.9, KL 0.01."""
    return [
        {
            "step": 256 * (i + 1),
            "policy/clipfrac": 0.05,
            "value/explained_variance": -0.2 + 1.1 * i / (n - 1),
            "policy/approx_kl": 0.01 + 0.001 * (i % 3),
            "policy/entropy": 0.69 - 0.02 * i,
        }
        for i in range(n)
    ]


def _seed_folders(run_dir: Path, per_seed: dict[int, list[dict[str, Any]]]) -> Path:
    for seed, rows in per_seed.items():
        (run_dir / f"seed_{seed}").mkdir(parents=True)
        lines = "".join(json.dumps(r) + "\n" for r in rows)
        (run_dir / f"seed_{seed}" / "metrics.jsonl").write_text(lines)
    return run_dir


def _seed(seed: int, time_to_target: float | None, **extra: Any) -> dict[str, Any]:
    return {"seed": seed, "time_to_target_s": time_to_target, "final_eval_return": 500.0, **extra}


# the README's quick CartPole run: all 5 seeds reach 500 in 2-6 s of training
CARTPOLE = {"seeds": [_seed(s, t) for s, t in enumerate([2.1, 3.4, 5.8, 2.6, 4.0])]}


def test_cartpole_passes_the_quick_run_and_fails_too_few_seeds(tmp_path: Path) -> None:
    run_dir = _seed_folders(tmp_path, {s: _healthy_rows() for s in range(5)})
    judged = _judge(PPO_CARTPOLE, run_dir, CARTPOLE)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS] * 4
    # 3 of 5 seeds in time, where the quick preset asks for 4
    three = {"seeds": [_seed(s, t) for s, t in enumerate([2.1, None, 5.8, 200.0, 4.0])]}
    assert _statuses(PPO_CARTPOLE, run_dir, three)[0] == FAIL
    # the bar is recounted from the seeds: the same run fails a tighter time limit
    assert _statuses(PPO_CARTPOLE, run_dir, CARTPOLE, "target_time_s=3")[0] == FAIL
    assert _statuses(PPO_CARTPOLE, run_dir, {"seeds": []})[0] == NOT_MEASURED
    assert _statuses(PPO_CARTPOLE, run_dir, {})[0] == NOT_MEASURED  # an interrupted run


def test_health_criteria_fail_each_broken_diagnostic(tmp_path: Path) -> None:
    def health(name: str, rows: list[dict[str, Any]]) -> list[str]:
        run_dir = _seed_folders(tmp_path / name, {0: _healthy_rows(), 1: rows})
        return _statuses(PPO_CARTPOLE, run_dir, CARTPOLE)[1:]

    healthy = _healthy_rows()
    assert health("ok", healthy) == [PASS] * 3
    # steps too big in one seed: most ratios clipped
    assert health("clip", [{**r, "policy/clipfrac": 0.4} for r in healthy]) == [FAIL, PASS, PASS]
    # a critic that learns nothing
    flat = [{**r, "value/explained_variance": -0.1} for r in healthy]
    assert health("critic", flat) == [PASS, FAIL, PASS]
    # one update of these 40 that jumps (KL 0.5 against a median of 0.01): 2.5% > 1%
    spike = [dict(r) for r in healthy]
    spike[12]["policy/approx_kl"] = 0.5
    assert health("spike", spike) == [PASS, PASS, FAIL]
    # a seed that logged no diagnostics, and a run without seed folders, are not measured
    assert health("none", [{"step": 1}]) == [NOT_MEASURED] * 3
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _statuses(PPO_CARTPOLE, empty, CARTPOLE)[1:] == [NOT_MEASURED] * 3


def test_kl_and_critic_criteria_forgive_chance_in_a_seed_but_not_a_bug(tmp_path: Path) -> None:
    """Five seeds of 195 updates, as the quick preset logs: one jumpy update or one noisy
    critic is chance (healthy seeds show them); spikes in many updates, a critic that is
    noisy in most seeds, or one that explains nothing in any seed are bugs."""

    def health(name: str, broken: dict[int, list[dict[str, Any]]]) -> list[str]:
        seeds = {s: broken.get(s, _healthy_rows(195)) for s in range(5)}
        return _statuses(PPO_CARTPOLE, _seed_folders(tmp_path / name, seeds), CARTPOLE)[2:]

    healthy = _healthy_rows(195)

    def spiky(n_spikes: int) -> list[dict[str, Any]]:
        return [
            {**r, "policy/approx_kl": 0.3} if i < n_spikes else r for i, r in enumerate(healthy)
        ]

    assert health("one spike", {2: spiky(1)}) == [PASS, PASS]
    assert health("one spike in each seed", {s: spiky(1) for s in range(5)}) == [PASS, PASS]
    assert health("a jumpy seed", {2: spiky(10)}) == [PASS, FAIL]  # 10 of 975 > 1%
    assert health("jumpy everywhere", {s: spiky(3) for s in range(5)}) == [PASS, FAIL]

    def critic(ev: float) -> list[dict[str, Any]]:
        return [{**r, "value/explained_variance": ev} for r in healthy]

    assert health("a noisy critic", {0: critic(-3.9), 3: critic(0.1)}) == [PASS, PASS]
    assert health("noisy in most seeds", {s: critic(-0.4) for s in (0, 2, 4)}) == [FAIL, PASS]
    assert health("a dead critic", {s: critic(0.05) for s in range(5)}) == [FAIL, PASS]


# the README's quick starpilot run: 4.2 against a random policy's 1.4, about 7 standard errors
# apart (the stds are planted: the README does not quote them)
PROCGEN = {
    "seeds": [_seed(0, None, recent_return_mean=4.2, recent_return_std=3.5, recent_episodes=100)],
    "random_return_mean": 1.4,
    "random_return_std": 1.9,
    "random_episodes": 128,
}


def test_procgen_beats_random_only_beyond_the_noise(tmp_path: Path) -> None:
    run_dir = _seed_folders(tmp_path, {0: _healthy_rows()})
    judged = _judge(PPO_PROCGEN, run_dir, PROCGEN)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS] * 4
    assert "7.2 standard errors" in judged.verdicts[0][1].measured

    def beats(summary: dict[str, Any], *sets: str) -> str:
        return _statuses(PPO_PROCGEN, run_dir, summary, *sets)[0]

    assert beats(PROCGEN, "min_sigmas_over_random=8") == FAIL
    no_better = {**PROCGEN, "seeds": [{**PROCGEN["seeds"][0], "recent_return_mean": 1.6}]}
    assert beats(no_better) == FAIL
    # no spread at all and worse than random: not an infinitely significant win
    flat = {
        **PROCGEN,
        "seeds": [{**PROCGEN["seeds"][0], "recent_return_mean": 1.0, "recent_return_std": 0.0}],
        "random_return_std": 0.0,
    }
    assert beats(flat) == FAIL
    # two seeds far apart (10 and -6, mean 2 vs random 1.4): the spread between seeds is
    # noise too, so this is no clear win however tight each seed is on its own
    apart = {
        **PROCGEN,
        "seeds": [
            _seed(0, None, recent_return_mean=10.0, recent_return_std=0.1, recent_episodes=100),
            _seed(1, None, recent_return_mean=-6.0, recent_return_std=0.1, recent_episodes=100),
        ],
        "random_return_std": 0.1,
    }
    assert beats(apart) == FAIL
    # no baseline measured, or no training episode finished: N/A, not a FAIL or a PASS
    no_baseline = {k: v for k, v in PROCGEN.items() if not k.startswith("random_")}
    assert beats(no_baseline) == NOT_MEASURED
    unfinished = {
        **PROCGEN,
        "seeds": [
            _seed(0, None, recent_return_mean=None, recent_return_std=None, recent_episodes=0)
        ],
    }
    assert beats(unfinished) == NOT_MEASURED


def test_labels_show_the_bars_the_run_used(tmp_path: Path) -> None:
    labels = [n for n, _ in _judge(PPO_CARTPOLE, tmp_path, CARTPOLE).verdicts]
    assert labels[0] == (
        "≥ 4 of 5 seeds reach a mean evaluation return ≥ 475 within 120 s of training"
    )
    assert labels[1] == "median clip fraction in 1%–20%, in every seed"
    sets = ("num_seeds=3", "min_seeds_solved=2", "target_return=400", "target_time_s=30")
    changed = _judge(PPO_CARTPOLE, tmp_path, CARTPOLE, *sets).verdicts[0][0]
    assert changed == "≥ 2 of 3 seeds reach a mean evaluation return ≥ 400 within 30 s of training"
    assert "≥ 3 standard errors" in _judge(PPO_PROCGEN, tmp_path, PROCGEN).verdicts[0][0]
    procgen = _judge(PPO_PROCGEN, tmp_path, PROCGEN, "min_sigmas_over_random=5")
    assert "≥ 5 standard errors" in procgen.verdicts[0][0]
