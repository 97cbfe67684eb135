"""Every criterion of chapter 5's three experiments on planted summaries: the README's quick
runs pass; chance-level encoders, collapsed or noisy samples, a weak judge, a missing
objective or a run over its budget never do."""

import pytest

from dlcurriculum.ch05_modeling_objectives.experiments import CONTRASTIVE, DDPM, VAE
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import (
    FAIL,
    INCOMPLETE,
    NOT_MEASURED,
    PASS,
    Judgement,
)
from tests.criteria import judge_summary, statuses


def _judge(spec: ExperimentSpec, summary: dict, *sets: str) -> Judgement:
    return judge_summary(spec, summary, *sets)


def _statuses(spec: ExperimentSpec, summary: dict, *sets: str) -> list[str]:
    return statuses(spec, summary, *sets)


def _row(*accuracies: float) -> dict[str, float]:
    return dict(zip(("1", "2", "5", "10", "50"), accuracies, strict=True))


# the README's quick contrastive run (test accuracy per k; validation in the same shape)
CONTRASTIVE_OK = {
    "accuracy": {
        "raw pixels": _row(0.473, 0.572, 0.623, 0.696, 0.749),
        "simclr": _row(0.911, 0.956, 0.960, 0.9615, 0.961),
        "supcon": _row(0.988, 0.991, 0.991, 0.9905, 0.990),
        "triplet": _row(0.988, 0.988, 0.989, 0.989, 0.989),
    },
    "validation": {"simclr": _row(0.936, 0.968, 0.969, 0.969, 0.971)},
    "train_time_s": {"simclr": 522.0, "supcon": 131.0, "triplet": 102.0},
    "steps": 1272,
    "wall_time_s": 871.0,
    "resumed": False,
    "device": "cpu",
}
# collapsed encoders: SimCLR at chance, SupCon no better than raw pixels, and slow
CONTRASTIVE_BROKEN = {
    **CONTRASTIVE_OK,
    "accuracy": {
        "raw pixels": _row(0.473, 0.572, 0.623, 0.696, 0.749),
        "simclr": _row(0.10, 0.10, 0.11, 0.11, 0.11),
        "supcon": _row(0.60, 0.65, 0.70, 0.72, 0.75),
    },
    "wall_time_s": 1500.0,
}


def test_contrastive_quick_run_passes_every_criterion() -> None:
    judgement = _judge(CONTRASTIVE, CONTRASTIVE_OK)
    assert [v.status for _, v in judgement.verdicts] == [PASS] * 4
    assert judgement.status == PASS


def test_contrastive_broken_encoders_fail_every_criterion() -> None:
    assert _statuses(CONTRASTIVE, CONTRASTIVE_BROKEN) == [FAIL] * 4
    assert _judge(CONTRASTIVE, CONTRASTIVE_BROKEN).status == FAIL


@pytest.mark.parametrize(
    ("name", "simclr", "supcon", "margin_fails"),
    [
        # just under each bar: 89.9% < 90%, 96.9% < 97%, and SimCLR 9.9 points over pixels
        ("simclr below its bar", 0.8999, 0.99, False),
        ("supcon below its bar", 0.95, 0.969, False),
        ("simclr too close to pixels", 0.9, 0.99, True),
    ],
)
def test_contrastive_each_bar_is_tight(
    name: str, simclr: float, supcon: float, margin_fails: bool
) -> None:
    acc = {**CONTRASTIVE_OK["accuracy"]}
    acc["simclr"] = {**acc["simclr"], "10": simclr}
    acc["supcon"] = {**acc["supcon"], "10": supcon}
    if margin_fails:
        acc["raw pixels"] = {**acc["raw pixels"], "10": 0.801}
    statuses = _statuses(CONTRASTIVE, {**CONTRASTIVE_OK, "accuracy": acc})
    expected = [
        PASS if simclr >= 0.9 else FAIL,
        PASS if supcon >= 0.97 else FAIL,
        FAIL if margin_fails else PASS,
        PASS,
    ]
    assert statuses == expected, name


def test_contrastive_missing_objective_is_not_measured() -> None:
    """A run without supcon (e.g. --set objectives=simclr) cannot pass the supcon criteria."""
    acc = {k: v for k, v in CONTRASTIVE_OK["accuracy"].items() if k != "supcon"}
    judgement = _judge(CONTRASTIVE, {**CONTRASTIVE_OK, "accuracy": acc}, "objectives=simclr")
    assert [v.status for _, v in judgement.verdicts] == [PASS, NOT_MEASURED, NOT_MEASURED, PASS]
    assert judgement.status == INCOMPLETE
    # an interrupted run (no summary) gives no verdict at all
    assert set(_statuses(CONTRASTIVE, {})) == {NOT_MEASURED}


def test_budget_is_not_measured_without_one() -> None:
    statuses = _statuses(CONTRASTIVE, CONTRASTIVE_BROKEN, "time_budget_s=0")
    assert statuses[-1] == NOT_MEASURED
    verdict = _judge(CONTRASTIVE, CONTRASTIVE_OK, "time_budget_s=0").verdicts[-1][1]
    assert verdict.status == NOT_MEASURED and "no time budget" in verdict.measured


def test_contrastive_labels_show_the_bars_used() -> None:
    labels = [n for n, _ in _judge(CONTRASTIVE, CONTRASTIVE_OK).verdicts]
    assert "≥ 90.00%" in labels[0] and "≥ 97.00%" in labels[1]
    assert "10.0%" in labels[2] and "900 s" in labels[3]
    changed = _judge(
        CONTRASTIVE,
        CONTRASTIVE_OK,
        "target_simclr=0.97",
        "target_supcon=0.995",
        "margin_over_pixels=0.3",
        "time_budget_s=500",
    )
    labels = [n for n, _ in changed.verdicts]
    assert "≥ 97.00%" in labels[0] and "≥ 99.50%" in labels[1]
    assert "30.0%" in labels[2] and "500 s" in labels[3]
    # the same figures fail the raised bars
    assert [v.status for _, v in changed.verdicts] == [FAIL, FAIL, FAIL, FAIL]


def _scores(coverage: int, frechet: float, judge_accuracy: float = 0.98) -> dict:
    return {
        "samples": {"confidence": 0.65, "coverage": coverage, "frechet": frechet},
        "real test images": {"confidence": 0.94, "coverage": 10, "frechet": 3.1},
        "pixel noise": {"confidence": 1.0, "coverage": 1, "frechet": 431.0},
        "judge_accuracy": judge_accuracy,
    }


# the README's quick VAE and DDPM runs
VAE_OK = {
    "test": {"elbo": -106.2, "reconstruction": -82.8, "kl": 23.4},
    "scores": _scores(9, 88.4),
    "steps": 4680,
    "wall_time_s": 64.0,
    "device": "cpu",
}
DDPM_OK = {
    "test": {"noise_mse": 0.028},
    "scores": _scores(10, 25.9),
    "steps": 2000,
    "wall_time_s": 282.0,
    "device": "cpu",
}
# posterior collapse and samples that are one blurry digit: a low ELBO, one digit covered,
# features as far from real digits as noise; and the run took too long
VAE_BROKEN = {
    "test": {"elbo": -190.0, "reconstruction": -190.0, "kl": 0.0},
    "scores": _scores(1, 400.0),
    "steps": 4680,
    "wall_time_s": 900.0,
    "device": "cpu",
}
# a denoiser that learnt nothing (MSE near 1: predicting no noise) samples noise
DDPM_BROKEN = {
    "test": {"noise_mse": 0.9},
    "scores": _scores(3, 300.0),
    "steps": 2000,
    "wall_time_s": 900.0,
    "device": "cpu",
}


@pytest.mark.parametrize(
    ("spec", "good", "broken"), [(VAE, VAE_OK, VAE_BROKEN), (DDPM, DDPM_OK, DDPM_BROKEN)]
)
def test_generative_criteria_tell_good_from_broken(
    spec: ExperimentSpec, good: dict, broken: dict
) -> None:
    assert _statuses(spec, good) == [PASS] * 4
    assert _judge(spec, good).status == PASS
    assert _statuses(spec, broken) == [FAIL] * 4


@pytest.mark.parametrize(("spec", "good"), [(VAE, VAE_OK), (DDPM, DDPM_OK)])
def test_weak_judge_makes_the_sample_criteria_not_measured(
    spec: ExperimentSpec, good: dict
) -> None:
    """An untrained judge can call noise ten digits: its scores then decide nothing."""
    weak = {**good, "scores": {**good["scores"], "judge_accuracy": 0.6}}
    judgement = _judge(spec, weak)
    assert [v.status for _, v in judgement.verdicts] == [PASS, NOT_MEASURED, NOT_MEASURED, PASS]
    assert "classifier_steps" in judgement.verdicts[1][1].measured
    assert judgement.status == INCOMPLETE


def test_generative_bars_are_tight_and_labels_follow_the_config() -> None:
    # one digit short of the coverage bar; Frechet just over 40% (VAE) and 10% (DDPM)
    assert _statuses(VAE, {**VAE_OK, "scores": _scores(8, 0.401 * 431)})[1:3] == [FAIL, FAIL]
    assert _statuses(DDPM, {**DDPM_OK, "scores": _scores(10, 0.101 * 431)})[2] == FAIL
    assert _statuses(VAE, {**VAE_OK, "test": {**VAE_OK["test"], "elbo": -112.1}})[0] == FAIL
    assert _statuses(DDPM, {**DDPM_OK, "test": {"noise_mse": 0.0501}})[0] == FAIL
    labels = [n for n, _ in _judge(VAE, VAE_OK).verdicts]
    assert "≥ -112.0" in labels[0] and "≥ 9" in labels[1] and "40%" in labels[2]
    assert "600 s" in labels[3]
    sets = ("target_elbo=-100", "target_coverage=10", "max_frechet_ratio=0.15", "time_budget_s=60")
    changed = _judge(VAE, VAE_OK, *sets)
    labels = [n for n, _ in changed.verdicts]
    assert "≥ -100.0" in labels[0] and "≥ 10" in labels[1] and "15%" in labels[2]
    assert "60 s" in labels[3]
    assert [v.status for _, v in changed.verdicts] == [FAIL] * 4
    ddpm = [n for n, _ in _judge(DDPM, DDPM_OK, "target_test_loss=0.02").verdicts]
    assert "≤ 0.0200" in ddpm[0] and "10%" in ddpm[2]
