"""Smoke runs of `reverse` and `shakespeare` (run folder, report, determinism, resume), and
their criteria on planted summaries: good figures pass, broken ones never do."""

import json
from pathlib import Path

import pytest

from dlcurriculum import load_shakespeare_model
from dlcurriculum.ch01_transformers import experiments
from dlcurriculum.ch01_transformers.config import PRESETS, ReverseConfig, ShakespeareConfig
from dlcurriculum.ch01_transformers.experiments import REVERSE, SHAKESPEARE, run_reverse
from dlcurriculum.core.config import ConfigError, to_dict
from dlcurriculum.core.experiment import ExperimentSpec, launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE, RunRecord, judge_run
from dlcurriculum.core.runs import read_metrics

from .test_shakespeare import synthetic_text


@pytest.fixture
def synthetic_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The smoke tests must not depend on the corpus cache: train on generated text."""
    monkeypatch.setattr(experiments, "load_corpus", lambda max_chars: synthetic_text(12_000))


def test_reverse_smoke_computes_its_criteria_and_writes_the_report(tmp_path: Path) -> None:
    result, judgement = launch(REVERSE, PRESETS["reverse"]["smoke"], "smoke", tmp_path)
    run_dir = result.run_dir
    for name in (
        "config.json",
        "metrics.jsonl",
        "summary.json",
        "report.md",
        "figures/accuracy_by_position.png",
    ):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "checkpoints").glob("step_*.pt"))
    rows = read_metrics(run_dir)
    assert {
        "losses/train",
        "charts/lr",
        "charts/grad_norm",
        "eval/accuracy_second_half",
        "eval/accuracy_first_half",
    } <= set(rows[-1])
    assert len(result.summary["accuracy_by_position"]) == 2 * PRESETS["reverse"]["smoke"].seq_len
    assert judgement.status == SMOKE and len(judgement.verdicts) == 2
    assert all(v.status in (PASS, FAIL) for _, v in judgement.verdicts), judgement
    assert "SMOKE run, not judged" in (run_dir / "report.md").read_text()


def test_reverse_same_seed_same_metrics_and_resume_continues_identically(tmp_path: Path) -> None:
    cfg = PRESETS["reverse"]["smoke"]
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    run_reverse(cfg, a)
    first = run_reverse(cfg, b)
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()
    # simulate a crash after the step-200 checkpoint: drop the last one and the summary
    last = sorted((b / "checkpoints").glob("step_*.pt"))[-1]
    last.unlink()
    (b / "summary.json").unlink()
    again = run_reverse(cfg, b)
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()
    assert again.summary["accuracy_by_position"] == first.summary["accuracy_by_position"]


def test_shakespeare_smoke_saves_a_loadable_model(tmp_path: Path, synthetic_corpus: None) -> None:
    result, judgement = launch(SHAKESPEARE, PRESETS["shakespeare"]["smoke"], "smoke", tmp_path)
    run_dir = result.run_dir
    s = result.summary
    for key in ("val_loss", "val_perplexity", "unigram_val_loss", "samples", "tokens_per_s"):
        assert key in s, key
    assert set(s["samples"]) == {"0.5", "0.8", "1"}
    assert {"losses/train", "eval/loss", "eval/perplexity"} <= set(read_metrics(run_dir)[-1])
    model, tokenizer = load_shakespeare_model(run_dir)  # the public API, given the run folder
    assert model.cfg.d_vocab == len(tokenizer) == s["d_vocab"]
    report = (run_dir / "report.md").read_text()
    assert "unigram" in report and "Temperature 0.5" in report and "figures/loss.png" in report
    assert judgement.status == SMOKE and [v.status for _, v in judgement.verdicts] in (
        [PASS],
        [FAIL],
    )
    text = (run_dir / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON for other tools
    assert json.loads(text)["d_vocab"] == s["d_vocab"]


def test_configs_reject_bad_values() -> None:
    with pytest.raises(ConfigError, match="d_model=30 must be divisible by n_heads=4"):
        ReverseConfig(d_model=30, n_heads=4)
    with pytest.raises(ConfigError, match="need warmup_steps < steps: got 10 >= 10"):
        ShakespeareConfig(steps=10, warmup_steps=10)
    with pytest.raises(ConfigError, match="need min_lr <= lr"):
        ReverseConfig(lr=1e-4, min_lr=1e-3)
    with pytest.raises(ConfigError, match=r"max_vocab must be 0 .* got 1"):
        ShakespeareConfig(max_vocab=1)
    with pytest.raises(ConfigError, match=r"val_fraction=0.9 of n_regions=2 .* leaves none"):
        ShakespeareConfig(n_regions=2, val_fraction=0.9)
    with pytest.raises(ConfigError, match="prompt must not be empty"):
        ShakespeareConfig(prompt="")


def _record(spec: ExperimentSpec, summary: dict, *sets: str) -> RunRecord:
    """A quick run's record (judged, unlike smoke) with `--set` assignments applied."""
    config = {"experiment": spec.name, "preset": "quick", **to_dict(spec.config("quick", sets))}
    return RunRecord(Path("."), config, [], summary)


def _statuses(spec: ExperimentSpec, summary: dict, *sets: str) -> list[str]:
    return [v.status for _, v in judge_run(_record(spec, summary, *sets), spec.criteria).verdicts]


# the README's quick run: 100.00% reversed, 3.10% random against a chance of 3.125%
REVERSED = {"second_half_accuracy": 1.0, "first_half_accuracy": 0.031, "chance": 1 / 32}


def test_reverse_criteria_pass_a_good_run_and_never_a_broken_one() -> None:
    assert _statuses(REVERSE, REVERSED) == [PASS, PASS]
    # a leaky mask: the model copies the future, so both halves are right
    assert _statuses(REVERSE, {**REVERSED, "first_half_accuracy": 1.0}) == [PASS, FAIL]
    # a leaky mask, half learned; a model that predicts a token that never comes (the plain
    # deep stack of the ablation: 0% everywhere)
    for acc in (0.5, 0.0):
        broken = {**REVERSED, "second_half_accuracy": acc, "first_half_accuracy": acc}
        assert _statuses(REVERSE, broken) == [FAIL, FAIL]
    # learned nothing: the mask criterion still holds (the future stays hidden), the run fails
    untrained = {**REVERSED, "second_half_accuracy": 1 / 32}
    assert judge_run(_record(REVERSE, untrained), REVERSE.criteria).status == FAIL
    for acc in (0.98, float("nan")):  # just under the 99% bar, or no figure at all
        assert _statuses(REVERSE, {**REVERSED, "second_half_accuracy": acc}) == [FAIL, PASS]
    assert _statuses(REVERSE, {}) == [NOT_MEASURED, NOT_MEASURED]  # an interrupted run


def test_reverse_labels_show_the_bars_set_on_the_command_line() -> None:
    summary = {**REVERSED, "second_half_accuracy": 0.993, "first_half_accuracy": 0.04}
    assert _statuses(REVERSE, summary) == [PASS, PASS]  # the defaults: 99% and ±3 points
    record = _record(REVERSE, summary, "target_accuracy=0.995", "chance_tolerance=0.005")
    (acc, acc_v), (first, first_v) = judge_run(record, REVERSE.criteria).verdicts
    assert acc == "reversed half: accuracy ≥ 99.50%" and acc_v.status == FAIL
    assert "| ≤ 0.5% " in first and first_v.status == FAIL  # 4% is 0.9 points off chance
    assert acc_v.measured == "99.30%" and first_v.measured.startswith("4.00% vs chance")


# the README's quick run: 3.403 nats against the unigram's 4.555
SHAKESPEARE_RUN = {"val_loss": 3.403, "unigram_val_loss": 4.555}


def test_shakespeare_criterion_needs_the_margin_below_the_unigram_baseline() -> None:
    assert _statuses(SHAKESPEARE, SHAKESPEARE_RUN) == [PASS]
    for val_loss in (4.6, 4.0, float("nan")):  # worse than, barely below, or no loss at all
        assert _statuses(SHAKESPEARE, {**SHAKESPEARE_RUN, "val_loss": val_loss}) == [FAIL]
    assert _statuses(SHAKESPEARE, {"unigram_val_loss": 4.555}) == [NOT_MEASURED]
    stricter = judge_run(
        _record(SHAKESPEARE, SHAKESPEARE_RUN, "baseline_margin=1.5"), SHAKESPEARE.criteria
    )
    [(label, verdict)] = stricter.verdicts
    assert label == "unigram baseline minus validation loss ≥ 1.5 nats"
    assert verdict.status == FAIL and verdict.measured.startswith("1.152 ")
