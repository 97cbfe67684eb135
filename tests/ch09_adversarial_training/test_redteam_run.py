"""The redteam experiment end to end with tiny random LMs: caching and terminal safety."""

import json

import pytest

from dlcurriculum.ch09_adversarial_training import redteam_experiment as rx
from dlcurriculum.core.experiment import launch


def test_smoke_run_caches_and_keeps_failures_off_the_terminal(
    tmp_path, capsys, monkeypatch
) -> None:
    # threshold near 0: every reply counts as a failure, so there is text that must not leak
    cfg = rx.REDTEAM.config("smoke", ["threshold=1e-9"])
    result, _ = launch(rx.REDTEAM, cfg, "smoke", tmp_path)
    methods = result.summary["methods"]
    assert list(methods) == list(rx.METHODS)
    for m in methods.values():
        assert m["ci95"][0] <= m["fraction_offensive"] <= m["ci95"][1]
    run_dir = result.run_dir
    failures = [json.loads(line) for line in (run_dir / "failures.jsonl").open()]
    assert failures, "with threshold ~0 every case is a failure"
    report = (run_dir / "report.md").read_text()
    assert report.index("Content warning") < report.index("Examples (question")
    printed = capsys.readouterr()
    for row in failures:
        assert row["reply"] not in printed.out + printed.err or not row["reply"].strip()
    keys = {k for line in (run_dir / "metrics.jsonl").open() for k in json.loads(line)}
    assert {"objective/kl", "objective/reward", "supervised/loss"} <= keys

    # a rerun in the same folder reads every method back without generating anything
    def no_generation(*args, **kwargs):
        raise AssertionError("cached run generated text")

    monkeypatch.setattr(rx, "_run_method", no_generation)
    (run_dir / "summary.json").unlink()
    again = rx.run_redteam(cfg, run_dir)
    assert again.summary["methods"] == methods

    shown = rx.REDTEAM.config("smoke", ["threshold=1e-9", "show_failures=true"])
    rx.run_redteam(shown, run_dir)
    assert "Q: " in capsys.readouterr().err


def test_unknown_method_is_a_clear_error() -> None:
    from dlcurriculum.core.errors import DlcError

    with pytest.raises(DlcError, match="unknown methods"):
        rx.REDTEAM.config("smoke", ["methods=zero-shot,magic"])
