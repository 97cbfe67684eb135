"""The redteam experiment end to end with tiny random LMs: caching and terminal safety."""

import json

import pytest
import torch

from dlcurriculum.ch09_adversarial_training import redteam
from dlcurriculum.ch09_adversarial_training import redteam_experiment as rx
from dlcurriculum.ch09_adversarial_training.experiments import REDTEAM
from dlcurriculum.ch09_adversarial_training.prompts import PROBES
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.precision import choose_dtype
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE


def test_smoke_run_caches_and_keeps_failures_off_the_terminal(tmp_path, capfd, monkeypatch) -> None:
    # threshold near 0: every reply counts as a failure, so there is text that must not leak
    cfg = REDTEAM.config("smoke", ["threshold=1e-9"])
    result, judgement = launch(REDTEAM, cfg, "smoke", tmp_path)
    methods = result.summary["methods"]
    assert list(methods) == list(rx.METHODS)
    # computed, not judged: every reply fails, so zero-shot finds some and nothing raises its
    # rate; a tiny random red LM often asks no question at all, and then there is no rate
    assert judgement.status == SMOKE, judgement
    expected = [PASS] + [
        FAIL if methods[m]["test_cases"] else NOT_MEASURED for m in ("few-shot", "rl")
    ]
    assert [v.status for _, v in judgement.verdicts] == expected, judgement
    for m in methods.values():
        assert m["ci95"][0] <= m["fraction_offensive"] <= m["ci95"][1]
    run_dir = result.run_dir
    failures = [json.loads(line) for line in (run_dir / "failures.jsonl").open()]
    assert failures, "with threshold ~0 every case is a failure"
    report = (run_dir / "report.md").read_text()
    assert report.index("Content warning") < report.index("Examples (question")
    printed = capfd.readouterr()  # file descriptors: also what bypasses sys.stdout
    for row in failures:
        for text in (row["question"], row["reply"]):
            assert text.strip() not in printed.out + printed.err or not text.strip()
    reask = result.summary["reask"]
    assert reask["probes"]["replies"] == len(PROBES) * cfg.reask
    assert 1 <= reask["top zero-shot"]["questions"] <= cfg.reask_questions
    assert "Does the question matter?" in report
    keys = {k for line in (run_dir / "metrics.jsonl").open() for k in json.loads(line)}
    assert {"objective/kl", "objective/reward", "supervised/loss"} <= keys

    # a rerun in the same folder reads every method back without generating anything
    def no_generation(*args, **kwargs):
        raise AssertionError("cached run generated text")

    monkeypatch.setattr(rx, "_run_method", no_generation)
    monkeypatch.setattr(redteam, "generate", no_generation)  # the re-ask check too
    (run_dir / "summary.json").unlink()
    again = rx.run_redteam(cfg, run_dir)
    assert again.summary["methods"] == methods

    shown = REDTEAM.config("smoke", ["threshold=1e-9", "show_failures=true"])
    rx.run_redteam(shown, run_dir)
    assert "Q: " in capfd.readouterr().err


def test_unknown_method_is_a_clear_error() -> None:
    from dlcurriculum.core.errors import DlcError

    with pytest.raises(DlcError, match="methods must be one of zero-shot, few-shot"):
        REDTEAM.config("smoke", ["methods=zero-shot,magic"])
    with pytest.raises(DlcError, match="methods must include zero-shot"):
        REDTEAM.config("smoke", ["methods=few-shot,rl"])


def test_rl_warm_starts_from_the_supervised_red_lm(tmp_path, monkeypatch) -> None:
    """As in the paper, RL begins where supervised learning ended (also after a resume)."""
    trained, started = [], []
    sl, rl = rx.supervised_finetune, rx.rl_finetune

    def record_sl(model, *args, **kwargs):
        out = sl(model, *args, **kwargs)
        trained.append({k: v.clone() for k, v in model.state_dict().items()})
        return out

    def record_rl(pipeline, model, *args, **kwargs):
        started.append({k: v.clone() for k, v in model.state_dict().items()})
        return rl(pipeline, model, *args, **kwargs)

    monkeypatch.setattr(rx, "supervised_finetune", record_sl)
    monkeypatch.setattr(rx, "rl_finetune", record_rl)
    cfg = REDTEAM.config("smoke", ["reask=0"])
    rx.run_redteam(cfg, tmp_path)
    assert len(trained) == 1 and len(started) == 1
    changed = [k for k in trained[0] if not torch.equal(trained[0][k], rx_red_state(cfg)[k])]
    assert changed, "supervised fine-tuning changed nothing"
    assert all(torch.equal(trained[0][k], started[0][k]) for k in trained[0])

    # resume with supervised done but RL not: the supervised model is retrained identically
    (tmp_path / "cases" / "rl.jsonl").unlink()
    (tmp_path / "replies.jsonl").unlink()
    rx.run_redteam(cfg, tmp_path)
    assert len(trained) == 2 and len(started) == 2
    assert all(torch.equal(started[0][k], started[1][k]) for k in started[0])


def rx_red_state(cfg) -> dict:
    model, _ = rx._load_lm(cfg.red_model, torch.device("cpu"), cfg.seed)
    return model.state_dict()


def test_auto_dtype_is_bfloat16_only_where_the_cpu_multiplies_it_natively(monkeypatch) -> None:
    cpu = torch.device("cpu")
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert choose_dtype("auto", cpu) == torch.float32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert choose_dtype("auto", cpu) == torch.bfloat16
    assert choose_dtype("float32", cpu) == torch.float32
    assert choose_dtype("bfloat16", cpu) == torch.bfloat16


def test_answer_aligns_replies_and_resumes_with_the_same_seeds(tmp_path, monkeypatch) -> None:
    """Batches, repeated questions and a crash half-way: every question gets its own reply,
    and the resumed call draws exactly what an uninterrupted one would."""
    crash_after: list[int] = []

    def fake_generate(model, tok, prompts, *args, on_batch, offset, **kwargs):
        seed, size = args[2], args[1]  # (max_new_tokens, sample, batch_size, seed, ...)
        for start in range(0, len(prompts), size):
            if crash_after and start >= crash_after[0]:
                raise KeyboardInterrupt
            batch = prompts[start : start + size]
            # a reply that shows its question and the random stream it was drawn from
            stream = seed * 100_003 + offset + start
            asked = [p.rsplit("User: ", 1)[1].split("\n")[0] for p in batch]
            on_batch(start, [f"{q}|{stream}|{i}" for i, q in enumerate(asked)])

    monkeypatch.setattr(redteam, "generate", fake_generate)
    questions = ["a?", "b?", "a?", "c?", "d?", "a?", "e?"]

    def pipeline(folder):
        cache = redteam.ReplyCache(folder / "replies.jsonl")
        return redteam.Pipeline(None, None, None, None, lambda r: [0.0] * len(r), cache,
                                8, 8, 2, 1.0, 0.95, 0, chat_template=False)  # fmt: skip

    (tmp_path / "once").mkdir()
    whole = pipeline(tmp_path / "once").answer(questions, "g", "")
    assert [c.reply.split("|")[0] for c in whole] == questions
    assert len({c.reply for c in whole}) == len(questions)  # repeats got replies of their own

    (tmp_path / "crash").mkdir()
    crash_after.append(4)  # two batches of 2 cached, then the run dies
    with pytest.raises(KeyboardInterrupt):
        pipeline(tmp_path / "crash").answer(questions, "g", "")
    crash_after.clear()
    resumed = pipeline(tmp_path / "crash").answer(questions, "g", "")
    assert [c.reply for c in resumed] == [c.reply for c in whole]
