"""`dlc run rlhf --preset smoke` end to end on a tiny chapter-1 model, and its report."""

import json
from pathlib import Path

import pytest

from dlcurriculum.ch07_alignment import stages
from dlcurriculum.ch07_alignment.config import PRESETS
from dlcurriculum.ch07_alignment.experiments import RLHF
from dlcurriculum.core import runs
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import launch, resume
from dlcurriculum.core.report import FAIL, PASS, SMOKE
from tests.ch07_alignment.helpers import tiny_policy


def _run(tmp_path: Path, name: str, *sets: str):  # type: ignore[no-untyped-def]
    policy = tiny_policy(tmp_path / "policy")
    cfg = RLHF.config("smoke", [f"policy_run={policy.parent}", *sets])
    return launch(RLHF, cfg, "smoke", tmp_path / name)


def test_smoke_run_writes_every_stage_and_a_report(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    result, judgement = _run(tmp_path, "a")
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
    s, cfg = result.summary, PRESETS["rlhf"]["smoke"]
    assert s["milestones"][0]["target"] == 0.0
    assert sum(s["label_counts"].values()) == cfg.n_label_samples  # every sample labeled
    assert all(m["n"] == cfg.eval_samples for m in s["milestones"])  # the judge's counts
    pairs = s["bt_pairs"]
    assert pairs["n_ties"] + pairs["n_train"] + pairs["n_test"] == cfg.n_comparison_prompts
    # an accuracy over the held-out pairs: a whole number of them ranked right
    assert s["bt_accuracy"] * pairs["n_test"] == pytest.approx(
        round(s["bt_accuracy"] * pairs["n_test"])
    )
    # the label-count curve: the configured counts, then the whole training split (320 of 400)
    assert (
        [c["n"] for c in s["label_curve"]] == [*cfg.label_curve, s["rm_n_train"]] == [40, 80, 320]
    )
    assert s["label_curve"][-1]["accuracy"] == s["rm_accuracy"]
    for c in s["label_curve"]:
        assert c["ci95"][0] <= c["accuracy"] <= c["ci95"][1]
    assert (d / "figures" / "label_curve.png").exists()
    report = (d / "report.md").read_text()
    assert "VADER" in report and "Bradley-Terry" in report and "SMOKE run, not judged" in report
    assert "by the number of labels it trained on" in report
    # a smoke run is not judged, but its criteria are computed; only the judge and the sqrt(KL)
    # fit may lack their figures (the tiny policy may not pass a KL milestone, or 3 updates)
    assert judgement.status == SMOKE and len(judgement.verdicts) == 7
    for i, (label, verdict) in enumerate(judgement.verdicts):
        assert verdict.status in (PASS, FAIL) or i in (4, 5), (label, verdict)
    for m in s["milestones"][1:]:
        assert (d / "milestones" / f"kl_{m['target']:g}.pt").exists()
    # same seed, same metrics (STYLE.md section 7), even across a crash inside PPO
    again = _interrupted_then_resumed(tmp_path, "b", monkeypatch, crash_at=1)
    assert (again.run_dir / "metrics.jsonl").read_text() == (d / "metrics.jsonl").read_text()
    for key in ("milestones", "final_kl", "iterations", "low_clip_iterations", "bt_accuracy"):
        assert again.summary[key] == s[key], key


class SimulatedCrash(Exception):
    """Stands in for a kill signal in the middle of PPO."""


def _interrupted_then_resumed(tmp_path: Path, name: str, monkeypatch, crash_at: int):  # type: ignore[no-untyped-def]
    """A run killed when PPO saves its checkpoint step `crash_at`, then resumed.

    The checkpoint of step s is written once iteration s + 1 has measured its KL, so it
    resumes at iteration s + 1 and drops the metrics logged from there on.
    """
    save = runs.save_checkpoint

    def crash(run_dir: Path, step: int, state: dict) -> Path:  # type: ignore[type-arg]
        if step == crash_at:
            raise SimulatedCrash(f"killed at iteration {step}")
        return save(run_dir, step, state)

    with monkeypatch.context() as m:
        m.setattr(runs, "save_checkpoint", crash)
        with pytest.raises(SimulatedCrash):
            _run(tmp_path, name)
    (run_dir,) = (tmp_path / name / "rlhf").iterdir()
    assert runs.latest_checkpoint(run_dir).name == f"step_{crash_at - 1:08d}.pt"
    rows = runs.read_metrics(run_dir)
    assert rows[-1]["step"] == crash_at  # logged, but the resumed run redoes it
    result, _ = resume(RLHF, run_dir)
    return result


def test_negative_flag_and_missing_policy(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, "neg", "negative=true", "max_iterations=2")
    assert "**negative**" in (result.run_dir / "report.md").read_text()
    with pytest.raises(DlcError, match="dlc run shakespeare --preset quick"):
        launch(RLHF, PRESETS["rlhf"]["smoke"], "smoke", tmp_path / "none")


def test_a_missing_judge_model_fails_before_any_work(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = stages.importlib.util.find_spec
    monkeypatch.setattr(
        stages.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "transformers" else real(name, *args),
    )
    with pytest.raises(DlcError, match="judge_lm="):
        _run(tmp_path, "nolm", "judge_lm=smollm2")
    assert not (tmp_path / "nolm" / "rlhf").exists() or not any(
        (tmp_path / "nolm" / "rlhf").rglob("labels.sqlite")
    )


def test_prompted_run_continues_corpus_prompts_against_the_comparison_model(
    tmp_path: Path,
) -> None:
    # with the few-label recipe: a sentence-encoder head on 60 labels, half of them snippets
    few = ("rm_base=minilm", "rm_labels=60", "corpus_share=0.5", "label_curve=20,60")
    result, judgement = _run(tmp_path, "p", "prompted=true", "max_iterations=3", *few)
    d, s = result.run_dir, result.summary
    assert (d / "comparison_rm.pt").exists() and s["iterations"] >= 1
    assert (d / "reward_head.pt").exists() and not (d / "reward_model.pt").exists()
    assert (s["rm_base"], s["rm_n_train"], s["rm_n_train_corpus"]) == ("minilm", 60, 30)
    assert [c["n"] for c in s["label_curve"]] == [20, 60]
    assert len(judgement.verdicts) == 7
    # the judges rate continuations of held-out prompts, not the prompts themselves
    texts = s["milestones"][0]["samples"]
    assert texts and all(t.strip() for t in texts)
    # resuming (here: as if killed before the summary) reloads the comparison model from its
    # file instead of training it again, and rates the same continuations
    (d / "summary.json").unlink()
    stamps = [(d / f).stat().st_mtime_ns for f in ("comparison_rm.pt", "reward_head.pt")]
    again, _ = resume(RLHF, d)
    assert [(d / f).stat().st_mtime_ns for f in ("comparison_rm.pt", "reward_head.pt")] == stamps
    assert again.summary["milestones"][0]["samples"] == texts
    assert again.summary["rm_accuracy"] == s["rm_accuracy"]


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["heldout_fraction=0.999"], r"heldout_fraction \(0.999\) of n_label_samples \(400\)"),
        (["num_minibatches=3"], r"batch_size \(32\) must be a multiple of num_minibatches \(3\)"),
        (["min_clipfrac=0.5"], r"min_clipfrac \(0.5\) must be below max_clipfrac \(0.2\)"),
        (["kl_milestones=2,1"], r"kl_milestones must rise"),
        (["judge_lm_samples=17"], r"judge_lm_samples \(17\) must be at most eval_samples \(16\)"),
        (["comparison_margin=2"], r"comparison_margin must be in \[0, 2\), got 2.0"),
        (["prompted=true", "n_comparison_prompts=0"], r"set n_comparison_prompts > 0"),
        (["label_curve=1,40"], r"label_curve"),
        (["rm_base=gpt2"], r"rm_base"),
        (["corpus_share=1"], r"corpus_share must be in \[0, 1\)"),
    ],
)
def test_rlhf_config_refuses_what_it_cannot_run_with(assignments: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RLHF.config("smoke", assignments)


def test_aux_dtype_is_one_of_three() -> None:
    with pytest.raises(DlcError, match=r"aux_dtype=float16: choose one of auto, float32"):
        RLHF.config("smoke", ["aux_dtype=float16"])


def test_a_held_out_split_of_neutral_labels_only_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DlcError, match=r"held-out labels are neutral.* lower neutral_threshold"):
        _run(tmp_path, "a", "neutral_threshold=0.999")
