"""A second independent judge: a small chat LM asked, zero-shot, for the text's sentiment.

The lexicon judge (`judge.py`) can be audited line by line but knows only its word list; a
pretrained chat model reads whole phrases. Neither took part in training, so if both see
the positive share rise, the reward model is not just being gamed in one judge's blind
spot. The default model is SmolLM2-135M-Instruct (`dlcurriculum.lm.load_causal_lm`,
offline). It is small and not very good at this, so the experiment also reports how often
it agrees with VADER on held-out labeled samples: read its rates only as far as that
agreement allows.

Asking is one forward pass, not generation: the chat template wraps the question, the
assistant's turn is opened, and the answer is whichever of "positive" and "negative" the
model makes likelier as its first token (either capitalisation).
"""

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.core.config import check
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.runs import progress

SYSTEM = "You classify the sentiment of text."
_SLOT = "\x00TEXT\x00"
"""Stands for the text while the prompt is split into its shared prefix and the rest."""
QUESTION = (
    "Is the sentiment of the following text positive or negative? Answer with one word.\n\n"
    "Text: {text}"
)


def answer_ids(tokenizer: Any, word: str) -> list[int]:
    """First token ids of `word` and of `Word`, as the assistant's reply would start."""
    ids = {tokenizer.encode(w, add_special_tokens=False)[0] for w in (word, word.capitalize())}
    return sorted(ids)


@dataclass
class ChatSentimentJudge:
    """Zero-shot sentiment from a chat LM's next-token log-probabilities."""

    model: Any
    """A `transformers` causal LM, in eval mode."""
    tokenizer: Any
    """Its tokenizer, with a chat template."""
    batch_size: int = 32
    positive: list[int] = field(init=False)
    negative: list[int] = field(init=False)

    def __post_init__(self) -> None:
        check(self, "batch_size", ge=1)
        self.positive = answer_ids(self.tokenizer, "positive")
        self.negative = answer_ids(self.tokenizer, "negative")
        if set(self.positive) & set(self.negative):
            raise DlcError(
                f"this judge's tokenizer starts 'positive' and 'negative' with the same token "
                f"{sorted(set(self.positive) & set(self.negative))}: the answers must start "
                "differently, so choose another judge_lm"
            )

    def prompt(self, text: str) -> str:
        """The chat-formatted question about `text`, ending where the assistant answers."""
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION.format(text=text.strip())},
        ]
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    @torch.inference_mode()
    def log_odds(self, texts: Sequence[str], desc: str = "LM judge") -> Tensor:
        """log P(positive) - log P(negative) of the first answer token, per text.

        Every prompt starts with the same system message and question, so that prefix runs
        through the model once and its keys and values are reused for each batch (about
        half the work on short texts). The rest is padded on the right: a causal model's
        output at a real position never depends on padding after it, so reading each row
        at its own last real token gives exactly what that prompt alone would give.
        """
        device = next(self.model.parameters()).device
        before, after = self.prompt(_SLOT).split(_SLOT)
        # the space before the text stays with the text: BPE tokenizers attach it to the
        # next word, so splitting here tokenizes both halves as the whole prompt would be
        head = before.rstrip(" ")
        space = before[len(head) :]
        prefix = self.tokenizer(head, return_tensors="pt", add_special_tokens=False).to(device)
        cache = self.model(**prefix, use_cache=True).cache
        n_prefix = prefix["input_ids"].shape[1]
        out = []
        with progress(len(texts), desc) as bar:
            for i in range(0, len(texts), self.batch_size):
                chunk = texts[i : i + self.batch_size]
                rest = self.tokenizer(
                    [space + t.strip() + after for t in chunk],
                    padding=True,
                    padding_side="right",
                    return_tensors="pt",
                    add_special_tokens=False,
                ).to(device)
                batch_cache = copy.deepcopy(cache)
                batch_cache.batch_repeat_interleave(len(chunk))
                seen = torch.ones(len(chunk), n_prefix, dtype=torch.long, device=device)
                logits = self.model(
                    input_ids=rest["input_ids"],
                    attention_mask=torch.cat([seen, rest["attention_mask"]], dim=1),
                    cache=batch_cache,
                ).logits
                last = rest["attention_mask"].sum(-1) - 1
                logp = logits[torch.arange(len(chunk), device=device), last].float()
                logp = logp.log_softmax(-1)
                pos = logp[:, self.positive].logsumexp(-1)
                out.append((pos - logp[:, self.negative].logsumexp(-1)).cpu())
                bar.update(len(chunk))
        return torch.cat(out) if out else torch.zeros(0)

    def labels(self, texts: Sequence[str]) -> list[str]:
        """positive or negative per text (the model is never asked for neutral)."""
        return ["positive" if x > 0 else "negative" for x in self.log_odds(texts).tolist()]

    def rates(self, texts: Sequence[str]) -> dict[str, float]:
        """Share of texts judged positive and negative."""
        labels = self.labels(texts)
        n = max(1, len(labels))
        return {"positive": labels.count("positive") / n, "negative": labels.count("negative") / n}


def agreement(judged: Sequence[str], reference: Sequence[str]) -> dict[str, float | int]:
    """How often `judged` matches `reference` on the reference's non-neutral labels.

    Also the judge's positive share on those samples against the reference's, to show a
    bias towards one answer, which raw agreement can hide.
    """
    kept = [(j, r) for j, r in zip(judged, reference, strict=True) if r != "neutral"]
    n = len(kept)
    if not n:
        return {
            "n": 0,
            "agreement": float("nan"),
            "judge_positive": float("nan"),
            "reference_positive": float("nan"),
        }
    return {
        "n": n,
        "agreement": sum(j == r for j, r in kept) / n,
        "judge_positive": sum(j == "positive" for j, _ in kept) / n,
        "reference_positive": sum(r == "positive" for _, r in kept) / n,
    }


def load_judge(name: str, device: str = "cpu") -> ChatSentimentJudge:
    """The judge with LM `name`: "smollm2" (offline default), a hub id, or "tiny" (tests).

    "tiny" is a randomly initialised model from `dlcurriculum.lm.tiny_causal_lm`: its
    answers are noise, for exercising the pipeline in seconds.
    """
    from dlcurriculum.lm import load_causal_lm, tiny_causal_lm

    if name == "tiny":
        model, tokenizer = tiny_causal_lm()
    else:
        model, tokenizer = load_causal_lm(name, device=device)
    return ChatSentimentJudge(model.to(device), tokenizer)
