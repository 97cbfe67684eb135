"""Smoke runs of `reverse` and `shakespeare`: run folder, report, determinism, resume."""

import json
from pathlib import Path

import pytest

from dlcurriculum import load_shakespeare_model
from dlcurriculum.ch01_transformers import experiments
from dlcurriculum.ch01_transformers.experiments import (
    REVERSE,
    REVERSE_PRESETS,
    SHAKESPEARE,
    SHAKESPEARE_PRESETS,
    run_reverse,
)
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.runs import read_metrics

from .test_shakespeare import synthetic_text


@pytest.fixture
def synthetic_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The smoke tests must not depend on the corpus cache: train on generated text."""
    monkeypatch.setattr(experiments, "load_corpus", lambda max_chars: synthetic_text(12_000))


def test_reverse_smoke_passes_and_writes_the_report(tmp_path: Path) -> None:
    result, verdicts = launch(REVERSE, REVERSE_PRESETS["smoke"], "smoke", tmp_path)
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
    assert len(result.summary["accuracy_by_position"]) == 2 * REVERSE_PRESETS["smoke"].seq_len
    assert all(v.passed for _, v in verdicts), verdicts
    assert "| PASS |" in (run_dir / "report.md").read_text()


def test_reverse_same_seed_same_metrics_and_resume_continues_identically(tmp_path: Path) -> None:
    cfg = REVERSE_PRESETS["smoke"]
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
    result, verdicts = launch(SHAKESPEARE, SHAKESPEARE_PRESETS["smoke"], "smoke", tmp_path)
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
    assert len(verdicts) == 1
    text = (run_dir / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON for other tools
    assert json.loads(text)["d_vocab"] == s["d_vocab"]


def test_configs_reject_bad_values() -> None:
    with pytest.raises(AssertionError, match="divisible"):
        experiments.ReverseConfig(d_model=30, n_heads=4)
    with pytest.raises(AssertionError, match="warmup"):
        experiments.ShakespeareConfig(steps=10, warmup_steps=10)
