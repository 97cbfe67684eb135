"""Every rlhf criterion on planted summaries: the README's quick run passes each one; a reward
model at chance, a flat reward, a KL that ran past the stop, clip fractions out of band, a
jagged KL curve, a judge whose rise is within noise and a slow run never do."""

from typing import Any

import pytest

from dlcurriculum.ch07_alignment.experiments import RLHF
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, Judgement
from dlcurriculum.core.stats import rise_interval, wilson_interval
from tests.criteria import judge_summary, statuses


def _judge(summary: dict[str, Any], *sets: str, preset: str = "quick") -> Judgement:
    return judge_summary(RLHF, summary, *sets, preset=preset)


def _statuses(summary: dict[str, Any], *sets: str, preset: str = "quick") -> list[str]:
    return statuses(RLHF, summary, *sets, preset=preset)


def _milestones(rates: list[tuple[float, float, float]], n: int = 200) -> list[dict[str, Any]]:
    return [{"target": t, "kl": kl, "iteration": 0, "n": n, "judge": j} for t, kl, j in rates]


# the README's quick run (its milestones: 200 samples each, lexicon-judge shares)
QUICK = {
    "rm_accuracy": 0.933,
    "rm_accuracy_ci95": list(wilson_interval(1829, 1960)),
    "rm_majority": 0.644,
    "rm_n_train": 16000,
    "rm_n_test_non_neutral": 1960,
    "rm_ece": 0.084,
    "bt_accuracy": 0.815,
    "bt_baseline_accuracy": 0.872,
    "bt_pairs": {"n_prompts": 12000, "n_ties": 2439, "n_train": 7649, "n_test": 1912},
    "iterations": 24,
    "final_kl": 10.56,
    "max_kl": 10.0,
    "reward_start": -0.80,
    "reward_end": -0.19,
    "clip_in_band": 14 / 24,
    "clip_median": 0.010,
    "low_clip_iterations": 10,
    "sqrt_kl_r2": 0.982,
    "milestones": _milestones(
        [
            (0.0, 0.0, 0.26),
            (0.5, 0.64, 0.23),
            (1.0, 1.03, 0.26),
            (2.0, 2.33, 0.46),
            (4.0, 4.07, 0.59),
            (6.0, 6.12, 0.68),
            (8.0, 9.00, 0.78),
            (10.0, 10.56, 0.84),
        ]
    ),
    "wall_time_s": 28.4 * 60,
}
# nothing learned: reward model and comparison model at chance, the reward flat, clip
# fractions below the band, sqrt(KL) a random walk, the judge unmoved, and slow
BROKEN = {
    **QUICK,
    "rm_accuracy": 0.5,
    "rm_accuracy_ci95": list(wilson_interval(980, 1960)),
    "bt_accuracy": 0.5,
    "reward_start": -0.80,
    "reward_end": -0.78,
    "clip_in_band": 0.1,
    "sqrt_kl_r2": 0.3,
    "milestones": _milestones(
        [(0.0, 0.0, 0.26), (0.5, 0.6, 0.25), (1.0, 1.1, 0.28), (2.0, 2.1, 0.27)]
    ),
    "wall_time_s": 43.1 * 60,
}


def test_the_quick_run_passes_every_criterion_and_a_broken_one_none() -> None:
    judged = _judge(QUICK)
    assert [v.status for _, v in judged.verdicts] == [PASS] * 7, judged.verdicts
    assert judged.status == PASS
    assert _statuses(BROKEN) == [FAIL] * 7
    assert _statuses({}) == [NOT_MEASURED] * 7  # an interrupted run


def test_the_reward_model_must_beat_the_majority_class_beyond_its_interval() -> None:
    # 71% of 240 held-out labels clears a 70% bar, but 64-77% does not exclude the 67.5% of
    # always answering "positive": no evidence the model learned anything
    few = {
        **QUICK,
        "rm_accuracy": 0.71,
        "rm_accuracy_ci95": list(wilson_interval(170, 240)),
        "rm_majority": 0.675,
        "rm_n_test_non_neutral": 240,
        "rm_n_train": 500,
    }
    verdict = _judge(few, "min_rm_accuracy=0.7").verdicts[0][1]
    assert verdict.status == FAIL and "majority class 67.5%" in verdict.measured
    # the same accuracy on 2400 labels is evidence
    many = {**few, "rm_accuracy_ci95": list(wilson_interval(1704, 2400))}
    assert _statuses(many, "min_rm_accuracy=0.7")[0] == PASS
    # below the bar with a tight interval still fails
    assert _statuses({**many, "rm_accuracy": 0.69}, "min_rm_accuracy=0.7")[0] == FAIL
    # the verdict names the recipe: its base and how many labels were corpus snippets
    mixed = {**many, "rm_base": "minilm", "rm_n_train_corpus": 350}
    measured = _judge(mixed, "min_rm_accuracy=0.7").verdicts[0][1].measured
    assert "500 labels (a MiniLM sentence-encoder head; 350 of them clear corpus" in measured
    old = {k: v for k, v in QUICK.items() if k != "rm_accuracy_ci95"}
    assert _statuses(old)[0] == NOT_MEASURED
    assert _statuses({**QUICK, "rm_n_test_non_neutral": 0})[0] == NOT_MEASURED


def test_the_judge_needs_a_rise_beyond_its_interval() -> None:
    # 26% -> 29% of 200 samples: a rise, but well within chance (the old criterion passed it)
    small = {**QUICK, "milestones": _milestones([(0.0, 0.0, 0.26), (4.0, 4.1, 0.29)])}
    verdict = _judge(small).verdicts[5][1]
    assert verdict.status == FAIL and "52/200" in verdict.measured and "58/200" in verdict.measured
    # the same shares from 2000 samples each are evidence
    many = {**QUICK, "milestones": _milestones([(0.0, 0.0, 0.26), (4.0, 4.1, 0.31)], n=2000)}
    assert _statuses(many)[5] == PASS
    # the README's negative run: 13% -> 14% negative at KL 2.2, the middle of the KLs reached
    negative = {
        **QUICK,
        "milestones": _milestones(
            [
                (0.0, 0.0, 0.13),
                (0.5, 0.6, 0.13),
                (1.0, 1.1, 0.12),
                (2.0, 2.2, 0.14),
                (4.0, 4.2, 0.12),
                (6.0, 6.1, 0.10),
            ]
        ),
    }
    assert _statuses(negative)[5] == FAIL
    # a summary from before the sample counts were kept, or no milestone past the original
    uncounted = [{k: v for k, v in m.items() if k != "n"} for m in QUICK["milestones"]]
    old = {**QUICK, "milestones": uncounted}
    assert _statuses(old)[5] == NOT_MEASURED
    assert _statuses({**QUICK, "milestones": QUICK["milestones"][:1]})[5] == NOT_MEASURED


def test_newcombe_interval_matches_the_published_examples() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873, table II, method 10, and the Wilson
    interval of 81/263 from his companion paper on the single proportion."""
    for (k0, n0, k1, n1), expected in [
        ((48, 80, 56, 70), (0.0524, 0.3339)),
        ((3, 10, 9, 10), (0.1705, 0.8090)),
        ((0, 29, 5, 56), (-0.0381, 0.1926)),
    ]:
        assert rise_interval(k0, n0, k1, n1) == pytest.approx(expected, abs=1e-4)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    low, high = rise_interval(5, 10, 5, 10)
    assert low < 0 < high and low == pytest.approx(-high)  # no rise: symmetric about 0


def test_reward_and_kl_window() -> None:
    # the stop overshoots max_kl by one iteration's step, as designed: 10.56 at max_kl 10
    assert _statuses({**QUICK, "final_kl": 14.9})[2] == PASS
    # a KL far past the stop (the stop check broken) fails, however much the reward rose
    assert _statuses({**QUICK, "final_kl": 16.0})[2] == FAIL
    assert _statuses({**QUICK, "final_kl": 16.0}, "max_kl_overshoot=2")[2] == PASS
    # a rise below min_reward_gain is not the reward rising
    assert _statuses({**QUICK, "reward_end": -0.65})[2] == FAIL
    assert _statuses({**QUICK, "reward_end": -0.65}, "min_reward_gain=0.1")[2] == PASS
    # no update ran: nothing to judge the reward, clip fraction or sqrt(KL) fit by
    none = {**QUICK, "iterations": 0, "sqrt_kl_r2": float("nan")}
    assert [_statuses(none)[i] for i in (2, 3, 4)] == [NOT_MEASURED] * 3


def test_skipped_stages_and_a_missing_budget_are_not_passes() -> None:
    statuses = _statuses(QUICK, "n_comparison_prompts=0")
    assert statuses[1] == NOT_MEASURED and statuses.count(PASS) == 6
    # the full preset sets no time budget: its time criterion is N/A, never a free pass
    judged = _judge(QUICK, preset="full")
    verdict = judged.verdicts[6][1]
    assert verdict.status == NOT_MEASURED and "time_budget_s" in verdict.measured
    assert judged.status != PASS
    assert (
        _statuses({**QUICK, "wall_time_s": 3 * 3600}, "time_budget_s=14400", preset="full")[6]
        == PASS
    )


def test_labels_show_the_bars_the_run_used() -> None:
    labels = [n for n, _ in _judge(QUICK).verdicts]
    assert labels[0].startswith("reward model held-out accuracy ≥ 70%, 95% interval")
    assert "≥ 70%" in labels[1]
    assert "≥ 0.2 nats" in labels[2] and "1.5 × max_kl (10 nats)" in labels[2]
    assert labels[3] == "clip fraction in 1%–20% for ≥ 50% of updates"
    assert labels[4] == "√KL linear in steps: R² ≥ 0.9"
    assert labels[6] == "wall time ≤ time_budget_s (1800 s)"
    changed = [
        n
        for n, _ in _judge(
            QUICK,
            "min_rm_accuracy=0.9",
            "min_bt_accuracy=0.75",
            "min_reward_gain=0.5",
            "max_kl=6",
            "max_kl_overshoot=1.2",
            "min_clipfrac=0.02",
            "max_clipfrac=0.3",
            "min_clip_in_band=0.6",
            "min_sqrt_kl_r2=0.95",
            "time_budget_s=900",
        ).verdicts
    ]
    assert changed[0].startswith("reward model held-out accuracy ≥ 90%, ")
    assert "≥ 75%" in changed[1]
    assert "≥ 0.5 nats" in changed[2] and "1.2 × max_kl (6 nats)" in changed[2]
    assert changed[3] == "clip fraction in 2%–30% for ≥ 60% of updates"
    assert changed[4] == "√KL linear in steps: R² ≥ 0.95"
    assert changed[6] == "wall time ≤ time_budget_s (900 s)"
    # and the bars are the ones judged: the quick run's 93.3% fails a 95% bar
    assert _statuses(QUICK, "min_rm_accuracy=0.95")[0] == FAIL
    assert _statuses(QUICK, "min_sqrt_kl_r2=0.99")[4] == FAIL
    assert _statuses(QUICK, "min_clip_in_band=0.6")[3] == FAIL
