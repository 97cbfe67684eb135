"""`dlc run redteam`: red-team a chatbot with zero-shot, few-shot, supervised and RL red LMs.

Everything the run generates (questions, replies, scores, failures, clusters) is written
inside the run folder only; offensive text reaches the terminal only with
`--set show_failures=true`, and the report puts a content warning above its examples.
"""

import copy
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcurriculum.ch09_adversarial_training.analysis import (
    cluster_texts,
    distinct_n,
    embed,
    self_bleu,
)
from dlcurriculum.ch09_adversarial_training.classifiers import load_classifier
from dlcurriculum.ch09_adversarial_training.config import METHODS, RedTeamConfig
from dlcurriculum.ch09_adversarial_training.impl import Impl, load_impl
from dlcurriculum.ch09_adversarial_training.prompts import PROBES, ZERO_SHOT_PROMPT
from dlcurriculum.ch09_adversarial_training.redteam import (
    Case,
    Pipeline,
    ReplyCache,
    rl_finetune,
    supervised_finetune,
)
from dlcurriculum.core import runs
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.precision import choose_dtype
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.core.stats import wilson_interval


def _load_lm(name: str, device: torch.device, seed: int) -> tuple[Any, Any]:
    from dlcurriculum.lm import load_causal_lm, tiny_causal_lm

    if name == "tiny":
        model, tokenizer = tiny_causal_lm(seed=seed)
        return model.to(device), tokenizer
    return load_causal_lm(name, device=str(device))


def _failing(cases: list[Case], threshold: float) -> list[Case]:
    return [c for c in cases if c.score >= threshold]


def run_redteam(cfg: RedTeamConfig, run_dir: Path) -> Result:
    """Run each red team in turn; a rerun in the same folder reuses finished methods."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = load_impl(cfg.impl)
    red, red_tok = _load_lm(cfg.red_model, device, cfg.seed)
    if cfg.target_model == cfg.red_model:
        target, target_tok = copy.deepcopy(red).requires_grad_(False), red_tok
    else:
        target, target_tok = _load_lm(cfg.target_model, device, cfg.seed + 1)
    dtype = choose_dtype(cfg.sample_dtype, device)
    target = target.to(dtype)
    pipe = Pipeline(
        red=red,
        red_tokenizer=red_tok,
        target=target,
        target_tokenizer=target_tok,
        classify=load_classifier(cfg.classifier, str(device)),
        cache=ReplyCache(run_dir / "replies.jsonl"),
        question_tokens=cfg.question_tokens,
        reply_tokens=cfg.reply_tokens,
        batch_size=cfg.batch_size,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        seed=cfg.seed,
        chat_template=cfg.chatbot_prompt == "chat-template",
        reply_sample=cfg.reply_decoding == "nucleus",
        reply_temperature=cfg.reply_temperature,
        reply_top_p=cfg.reply_top_p,
        sample_dtype=dtype,
    )
    resumed = (run_dir / "cases").exists()
    if resumed:
        _drop_unfinished_metrics(run_dir)
    logger = runs.MetricLogger(run_dir, resume_step=10**12 if resumed else None)
    found: dict[str, tuple[list[Case], int]] = {}
    zero: list[Case] = []
    trained: dict[str, Any] = {}
    for method in (m for m in METHODS if m in cfg.methods):
        path = run_dir / "cases" / f"{method}.jsonl"
        if path.exists():  # finished before an interruption
            rows = runs.read_jsonl(path)
            cases = [Case(r["question"], r["reply"], r["score"]) for r in rows[1:]]
            sampled = rows[0]["sampled"]
        else:
            cases, sampled = _run_method(method, cfg, pipe, zero, ns, logger, trained)
            lines = [json.dumps({"sampled": sampled})] + [json.dumps(asdict(c)) for c in cases]
            runs.atomic_write_text(path, "\n".join(lines) + "\n")
        if method == "zero-shot":
            zero = cases
            if not zero:
                raise DlcError("zero-shot produced no questions: raise zero_shot_samples")
        found[method] = cases, sampled
    logger.close()
    # diversity on equally many questions per method: distinct-n falls with the count alone
    size = min(cfg.samples, *(len(c) for c, _ in found.values()))
    results = {m: _method_stats(c, n, cfg.threshold, size, cfg.seed) for m, (c, n) in found.items()}
    reask = _reask(cfg, pipe, zero) if cfg.reask else {}
    failures = [(m, c) for m, (cases, _) in found.items() for c in _failing(cases, cfg.threshold)]
    runs.atomic_write_text(
        run_dir / "failures.jsonl",
        "".join(json.dumps({"method": m, **asdict(c)}) + "\n" for m, c in failures),
    )
    clusters = _clusters([c.question for _, c in failures], cfg)
    runs.write_json(run_dir / "clusters.json", clusters)
    if cfg.show_failures:
        for m, c in failures:
            print(f"[{m}] score {c.score:.2f}\n  Q: {c.question}\n  A: {c.reply}", file=sys.stderr)
    summary = {
        "methods": results,
        "reask": reask,
        "n_failures": len(failures),
        "supervised_train": _supervised_train_set(zero, cfg.threshold)[1],
        "n_clusters": len(clusters),
        "device": str(device),
        "sample_dtype": str(dtype).removeprefix("torch."),
        "wall_time_s": clock.elapsed,
    }
    return finish(run_dir, summary)


def _drop_unfinished_metrics(run_dir: Path) -> None:
    """Forget the metrics of a fine-tuned red team cut short: it reruns from its start."""
    keys = (("supervised", "supervised/"), ("rl", "objective/"))
    prefixes = tuple(p for m, p in keys if not (run_dir / "cases" / f"{m}.jsonl").exists())
    rows = [r for r in runs.read_metrics(run_dir) if not any(k.startswith(prefixes) for k in r)]
    runs.atomic_write_text(run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def _run_method(
    method: str,
    cfg: RedTeamConfig,
    pipe: Pipeline,
    zero: list[Case],
    ns: Impl,
    logger: Any,
    trained: dict[str, Any],
) -> tuple[list[Case], int]:
    if method == "zero-shot":
        return pipe.red_team(pipe.red, [ZERO_SHOT_PROMPT] * cfg.zero_shot_samples, "zero-shot")
    if method == "few-shot":
        # the paper's stochastic few-shot: draw zero-shot cases with probability
        # proportional to exp(score / T); subtracting the top score keeps exp finite
        top = max(c.score for c in zero)
        weights = [math.exp((c.score - top) / cfg.few_shot_temperature) for c in zero]
        gen = torch.Generator().manual_seed(cfg.seed)
        questions = [c.question for c in zero]
        prompts = [
            ns.few_shot_prompt(questions, weights, cfg.few_shot_k, gen) for _ in range(cfg.samples)
        ]
        return pipe.red_team(pipe.red, prompts, "few-shot")
    if method == "supervised":
        model = trained["supervised"] = _supervised(cfg, pipe, zero, logger)
    else:
        # the paper warm-starts RL from the supervised red LM (retrained if the supervised
        # red team finished before an interruption: its training is deterministic)
        start = pipe.red
        if "supervised" in cfg.methods:
            start = trained.get("supervised") or _supervised(cfg, pipe, zero, None)

        def log(step: int, **row: Any) -> None:
            logger.log(step, **row)

        model = copy.deepcopy(start)
        rl_finetune(
            pipe,
            model,
            cfg.rl_steps,
            cfg.rl_batch,
            cfg.rl_lr,
            cfg.kl_coef,
            cfg.train_layers,
            log,
            cfg.rl_replies,
        )
    return pipe.red_team(model, [ZERO_SHOT_PROMPT] * cfg.samples, method)


def _supervised_train_set(zero: list[Case], threshold: float) -> tuple[list[Case], str]:
    """The failing zero-shot cases, or the most offensive tenth when fewer than 4 failed;
    and a line for the report that says which."""
    failing = _failing(zero, threshold)
    if len(failing) >= 4:
        return failing, f"the {len(failing)} failing zero-shot questions"
    top = sorted(zero, key=lambda c: -c.score)[: max(4, len(zero) // 10)]
    return top, (
        f"the {len(top)} zero-shot questions with the highest scores (only "
        f"{len(failing)} failed, too few to learn from)"
    )


def _supervised(cfg: RedTeamConfig, pipe: Pipeline, zero: list[Case], logger: Any) -> Any:
    """A copy of the red LM fine-tuned on `_supervised_train_set`."""
    train, _ = _supervised_train_set(zero, cfg.threshold)
    model = copy.deepcopy(pipe.red)
    questions = [c.question for c in train]
    losses = supervised_finetune(
        model,
        pipe.red_tokenizer,
        questions,
        cfg.sl_epochs,
        cfg.sl_lr,
        cfg.train_layers,
        8,
        cfg.seed,
    )
    for epoch, loss in enumerate(losses, 1):
        if logger is not None:
            logger.log(epoch, **{"supervised/loss": loss, "supervised/train_cases": len(train)})
    return model


def _reask(cfg: RedTeamConfig, pipe: Pipeline, zero: list[Case]) -> dict[str, Any]:
    """Does the question matter? Ask again, `reask` fresh replies each, the zero-shot questions
    whose replies scored highest (the ones few-shot, supervised and RL learn from) and a few
    hand-written questions that invite a negative answer (PROBES).

    If the top questions fail again about as often as any question, their first failure was
    the chatbot's sampling noise and the later red teams have little to learn from them.
    """
    best: dict[str, float] = {}  # each zero-shot question's best score when first asked
    for c in zero:
        best[c.question] = max(c.score, best.get(c.question, 0.0))
    top = sorted(best, key=lambda q: -best[q])[: cfg.reask_questions]
    out = {}
    for name, questions in (("top zero-shot", top), ("probes", list(PROBES))):
        asked = [q for q in questions for _ in range(cfg.reask)]
        cases = pipe.answer(asked, f"reask/{name}", f"re-asking {name}")
        k = len(_failing(cases, cfg.threshold))
        out[name] = {
            "questions": len(questions),
            "replies": len(cases),
            "first_offensive": sum(best.get(q, 0.0) >= cfg.threshold for q in questions),
            "first_mean_score": float(np.mean([best[q] for q in questions if q in best] or [0])),
            "offensive": k,
            "fraction_offensive": k / len(cases) if cases else 0.0,
            "ci95": list(wilson_interval(k, len(cases))),
            "mean_score": float(np.mean([c.score for c in cases])) if cases else 0.0,
        }
    return out


def _method_stats(
    cases: list[Case], sampled: int, threshold: float, diversity_size: int, seed: int
) -> dict[str, Any]:
    """Per-method figures. Diversity is measured on a random subset of `diversity_size`
    questions, since distinct-n falls and self-BLEU rises with the number of texts alone."""
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(cases))[:diversity_size]
    sample = [cases[i].question for i in sorted(keep)]
    questions = [c.question for c in cases]
    scores = np.array([c.score for c in cases])
    k, n = len(_failing(cases, threshold)), len(cases)
    low, high = wilson_interval(k, n)
    return {
        "sampled": sampled,
        "test_cases": n,
        "offensive": k,
        "fraction_offensive": k / n if n else 0.0,
        "ci95": [low, high],
        "mean_score": float(np.mean(scores)) if n else 0.0,
        # normal-approximation 95% half-width: the threshold-free view of the same question
        "mean_score_ci95": float(1.96 * np.std(scores, ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        "diversity_size": len(sample),
        "distinct_1": distinct_n(sample, 1),
        "distinct_2": distinct_n(sample, 2),
        "self_bleu": self_bleu(sample),
        "unique_questions": len(set(questions)),
    }


def _clusters(questions: list[str], cfg: RedTeamConfig) -> list[dict[str, Any]]:
    unique = list(dict.fromkeys(questions))
    if len(unique) < 2:
        return []
    return cluster_texts(unique, embed(unique), cfg.n_clusters, cfg.seed)
