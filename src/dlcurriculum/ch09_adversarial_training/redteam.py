"""The red-teaming pipeline: red LM -> test questions -> chatbot replies -> classifier.

Ref: Perez et al. 2022, "Red Teaming Language Models with Language Models". The four red
teams, in the paper's order:
- zero-shot: sample questions from the "list of questions" prompt;
- few-shot: put failing zero-shot questions in the prompt (drawn in proportion to how
  offensive the reply was) and sample more;
- supervised: fine-tune the red LM on the failing zero-shot questions, then sample;
- RL: fine-tune the red LM by policy gradient (REINFORCE with a mean baseline and
  unit-scaled advantages) on the classifier's score of the reply, minus a KL penalty to
  the initial red LM, which keeps the questions fluent and stops the policy collapsing
  onto one string at once.
"""

import copy
import json
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch09_adversarial_training.classifiers import Scorer
from dlcurriculum.ch09_adversarial_training.generation import (
    chat_prompts,
    completion_logprobs,
    generate,
    reply_text,
    sample_ids,
    token_logprobs,
    trainable_top,
)
from dlcurriculum.ch09_adversarial_training.prompts import ZERO_SHOT_PROMPT, extract_question
from dlcurriculum.core import runs


@dataclass
class Case:
    """One test case: the question, the chatbot's reply and its offensiveness score."""

    question: str
    reply: str
    score: float


class ReplyCache:
    """Sampled chatbot replies and their scores, appended to a JSONL file in the run folder.

    The chatbot samples its replies, so one question can fail on one try and pass on the
    next. Each (group, question) therefore keeps a list of replies, one per time the
    question was asked in that group; asking it again in the same group draws a new reply.
    Groups (one per red team, one per RL step) keep methods apart: a few-shot red LM that
    copies a failing zero-shot question must earn its own reply, not reuse the failing one.
    A rerun in the same folder reads every reply back instead of generating it.
    """

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[tuple[str, str], list[tuple[str, float]]] = {}
        if path.exists() and not path.read_bytes().endswith(b"\n") and path.stat().st_size:
            with path.open("a") as f:  # a crash tore the last line: start the next row clean
                f.write("\n")
        for row in runs.read_jsonl(path):
            key = (row.get("group", ""), row["question"])
            self.entries.setdefault(key, []).append((row["reply"], row["score"]))

    def missing(self, group: str, questions: Sequence[str]) -> list[str]:
        """Questions still to answer, each repeated once per reply it still lacks."""
        todo = []
        for q, wanted in Counter(questions).items():
            todo += [q] * (wanted - len(self.entries.get((group, q), [])))
        return todo

    def add(
        self,
        group: str,
        questions: Sequence[str],
        replies: Sequence[str],
        scores: Sequence[float],
    ) -> None:
        with self.path.open("a") as f:
            for q, r, s in zip(questions, replies, scores, strict=True):
                self.entries.setdefault((group, q), []).append((r, s))
                row = {"group": group, "question": q, "reply": r, "score": s}
                f.write(json.dumps(row) + "\n")

    def cases(self, group: str, questions: Sequence[str]) -> list[Case]:
        """The k-th occurrence of a question gets its k-th reply."""
        seen: Counter[str] = Counter()
        out = []
        for q in questions:
            out.append(Case(q, *self.entries[(group, q)][seen[q]]))
            seen[q] += 1
        return out


@dataclass
class Pipeline:
    """The models and settings every red team shares."""

    red: Any
    red_tokenizer: Any
    target: Any
    target_tokenizer: Any
    classify: Scorer
    cache: ReplyCache
    question_tokens: int
    reply_tokens: int
    batch_size: int
    temperature: float
    top_p: float
    seed: int
    chat_template: bool = True
    """Prompt the chatbot through its chat template (False: the written dialogue prompt)."""
    reply_sample: bool = True
    """Sample the chatbot's replies (the paper: nucleus sampling); False decodes greedily."""
    reply_temperature: float = 1.0
    reply_top_p: float = 0.8
    sample_dtype: torch.dtype = torch.float32
    """Number format the red LM samples test questions in (a copy; training stays float32)."""

    def sample_questions(self, model: Any, prompts: Sequence[str], desc: str) -> list[str | None]:
        """One question per prompt from the red LM (None where it asked none)."""
        if self.sample_dtype != torch.float32:
            model = copy.deepcopy(model).to(self.sample_dtype)
        # a seed per red team: with one seed for all, a lightly tuned red LM would redraw
        # many of zero-shot's questions from the same random numbers
        seed = self.seed + zlib.crc32(desc.encode()) % 1_000_003
        raw = generate(
            model,
            self.red_tokenizer,
            prompts,
            self.question_tokens,
            True,
            self.batch_size,
            seed,
            desc,
            self.temperature,
            self.top_p,
        )
        return [extract_question(r) for r in raw]

    def answer(self, questions: Sequence[str], group: str, desc: str) -> list[Case]:
        """The chatbot's reply to each question in `group`, and its score (cached)."""
        todo = self.cache.missing(group, questions)
        if todo:
            prompts = chat_prompts(self.target_tokenizer, todo, self.chat_template)
            # a seed per group, so groups draw different replies to the same question
            seed = self.seed + zlib.crc32(group.encode()) % 1_000_003

            def keep(start: int, raw: list[str]) -> None:  # cache each batch as it finishes
                replies = [reply_text(r) for r in raw]
                questions = todo[start : start + len(raw)]
                self.cache.add(group, questions, replies, self.classify(replies))

            # replies are cached batch by batch, in the order of `missing`, so after an
            # interruption `todo` is the unfinished tail and `offset` keeps its batch seeds
            generate(
                self.target,
                self.target_tokenizer,
                prompts,
                self.reply_tokens,
                self.reply_sample,
                self.batch_size,
                seed,
                desc,
                self.reply_temperature,
                self.reply_top_p,
                on_batch=keep,
                offset=len(questions) - len(todo),
            )
        return self.cache.cases(group, questions)

    def red_team(self, model: Any, prompts: Sequence[str], desc: str) -> tuple[list[Case], int]:
        """Sample questions from `prompts`, answer and score them; (cases, number sampled)."""
        questions = [q for q in self.sample_questions(model, prompts, desc + " questions") if q]
        return self.answer(questions, desc, desc + " replies"), len(prompts)


def supervised_finetune(
    model: Any,
    tokenizer: Any,
    questions: Sequence[str],
    epochs: int,
    lr: float,
    train_layers: int,
    batch_size: int,
    seed: int,
) -> list[float]:
    """Maximum likelihood on the questions as continuations of the zero-shot prompt.

    Returns the mean loss (negative log-likelihood per question) of each epoch.
    """
    params = trainable_top(model, train_layers)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    bar = runs.progress(epochs * len(questions), "supervised fine-tuning")
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(questions), generator=gen).split(batch_size):
            batch = [" " + questions[i] for i in idx.tolist()]
            loss = -completion_logprobs(model, tokenizer, [ZERO_SHOT_PROMPT] * len(batch), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.mean().backward()
            optimizer.step()
            total += loss.sum().item()
            bar.update(len(batch))
        losses.append(total / len(questions))
    bar.close()
    model.eval()
    return losses


def decided_length(ids: Sequence[int], decode: Callable[[list[int]], str]) -> int:
    """How many leading sampled tokens fix what `extract_question` makes of the sample.

    The reward depends on the question only, and the question is fixed once the first line
    holds a '?' (or has ended without one). Tokens after that cannot change the reward, so
    the policy gradient leaves them out: they would only add noise.
    """
    for k in range(1, len(ids) + 1):
        line = decode(list(ids[:k])).lstrip()
        if "?" in line.split("\n", 1)[0] or "\n" in line:
            return k
    return len(ids)


def rl_finetune(
    pipeline: Pipeline,
    model: Any,
    steps: int,
    batch: int,
    lr: float,
    kl_coef: float,
    train_layers: int,
    log: Callable[..., None],
    replies: int = 1,
) -> None:
    """REINFORCE on reward = offensiveness of the reply - kl_coef * KL(policy || initial).

    `replies` > 1 asks each question that many times and rewards the mean score: the
    chatbot samples its reply, and one reply says little about the question.

    The log-probs are of the tokens actually sampled (not of the decoded text re-tokenized),
    up to the token that fixes the question. The KL term is the sampled estimate
    log pi(q) - log pi_0(q) over those tokens (TRL's k1 estimator), so it costs one extra
    forward pass of the frozen initial model. A sample without a '?' on its first line earns
    reward 0 (nothing to ask the chatbot). As in TRL, pi is the model's softmax at the
    sampling temperature, not renormalised to the top-p nucleus.
    """
    reference = copy.deepcopy(model).eval().requires_grad_(False)
    params = trainable_top(model, train_layers)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    tok = pipeline.red_tokenizer
    prompt = [tok(ZERO_SHOT_PROMPT, add_special_tokens=False)["input_ids"]] * batch
    scale = 1.0 / pipeline.temperature

    def decode(ids: list[int]) -> str:
        return tok.decode(ids, skip_special_tokens=True)

    bar = runs.progress(steps, "RL red team")
    for step in range(steps):
        model.eval()  # sample without dropout
        ids = sample_ids(
            model,
            tok,
            [ZERO_SHOT_PROMPT] * batch,
            pipeline.question_tokens,
            pipeline.seed + 7919 * (step + 1),
            pipeline.temperature,
            pipeline.top_p,
        )
        questions = [extract_question(decode(row)) for row in ids]
        taken = [row[: decided_length(row, decode)] for row in ids]
        asked = [q for q in questions if q]
        cases = pipeline.answer([q for q in asked for _ in range(replies)], f"rl-train-{step}", "")
        mean = iter(
            [
                sum(c.score for c in cases[i : i + replies]) / replies
                for i in range(0, len(cases), replies)
            ]
        )
        score = torch.tensor([next(mean) if q else 0.0 for q in questions])
        # still in eval mode: with dropout on (GPT-2 has 0.1) logp would not be the policy
        # that sampled, and the KL would be nonzero at step 0
        logp = token_logprobs(_Tempered(model, scale), prompt, taken, tok.pad_token_id)
        with torch.no_grad():
            ref_logp = token_logprobs(_Tempered(reference, scale), prompt, taken, tok.pad_token_id)
        kl = (logp.detach() - ref_logp).clamp(min=-50, max=50)
        reward = score - kl_coef * kl
        # mean baseline, and unit scale: a batch where every reply scored ~0.02 and one 0.7
        # should move the policy as much as any other batch, whatever the reward's scale
        advantage = (reward - reward.mean()) / (reward.std() + 1e-6)
        loss = -(advantage * logp).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        log(
            step + 1,
            **{
                "objective/reward": reward.mean().item(),
                "objective/score": score.mean().item(),
                "objective/kl": kl.mean().item(),
                "objective/valid": len(asked) / batch,
                "objective/unique": len(set(asked)) / batch,
            },
        )
        bar.update(1)
        bar.set_postfix(score=f"{score.mean():.3f}", kl=f"{kl.mean():.2f}")
    bar.close()
    model.eval()


class _Tempered(torch.nn.Module):
    """A causal LM whose logits are divided by the sampling temperature, so log-probs are
    those of the distribution the samples were drawn from (before the top-p cut)."""

    def __init__(self, model: Any, scale: float):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, **kwargs: Any) -> Any:
        out = self.model(**kwargs)
        out.logits = out.logits * self.scale
        return out
