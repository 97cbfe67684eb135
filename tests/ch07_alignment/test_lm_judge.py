"""The chat-LM judge on a tiny random model: the prompt, batching, the answer, agreement."""

import math

import pytest
import torch

from dlcurriculum.ch07_alignment.lm_judge import (
    QUESTION,
    SYSTEM,
    ChatSentimentJudge,
    agreement,
    answer_ids,
    load_judge,
)
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError
from dlcurriculum.lm import tiny_causal_lm

TEXTS = ["O my love, how merry is this night.", "Alas, woe!", "", "the king is come " * 5]


def _oracle(model, tokenizer, text: str) -> float:  # type: ignore[no-untyped-def]
    """log P(positive) - log P(negative) from one unpadded prompt, built independently."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION.format(text=text.strip())},
    ]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        logp = model(**ids).logits[0, -1].log_softmax(-1)
    pos = [tokenizer.convert_tokens_to_ids(c) for c in "pP"]
    neg = [tokenizer.convert_tokens_to_ids(c) for c in "nN"]
    return (logp[pos].logsumexp(-1) - logp[neg].logsumexp(-1)).item()


def test_batched_log_odds_match_one_prompt_at_a_time() -> None:
    model, tokenizer = tiny_causal_lm(seed=1)
    judge = ChatSentimentJudge(model, tokenizer, batch_size=3)  # a padded, a partial batch
    got = judge.log_odds(TEXTS)
    expected = torch.tensor([_oracle(model, tokenizer, t) for t in TEXTS])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert len(set(got.tolist())) == len(TEXTS)  # the text reaches the model
    labels = judge.labels(TEXTS)
    assert labels == ["positive" if x > 0 else "negative" for x in got.tolist()]
    rates = judge.rates(TEXTS)
    assert rates["positive"] == labels.count("positive") / 4
    assert math.isclose(rates["positive"] + rates["negative"], 1.0)


def test_prompt_asks_about_the_text_and_opens_the_assistant_turn() -> None:
    model, tokenizer = tiny_causal_lm()
    judge = ChatSentimentJudge(model, tokenizer)
    prompt = judge.prompt("  my <b>love</b>\n")
    assert "Text: my <b>love</b><|im_end|>" in prompt and SYSTEM in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert answer_ids(tokenizer, "positive") == sorted(tokenizer.convert_tokens_to_ids(["p", "P"]))


def test_agreement_on_known_labels() -> None:
    got = agreement(
        ["positive", "positive", "negative", "positive", "negative"],
        ["positive", "negative", "negative", "neutral", "positive"],
    )
    assert got == {
        "n": 4,
        "agreement": 0.5,
        "judge_positive": 0.5,
        "reference_positive": 0.5,
    }
    assert agreement(["positive"], ["neutral"])["n"] == 0


class OneToken:
    """A tokenizer that starts every word with the same token."""

    def encode(self, word: str, add_special_tokens: bool = False) -> list[int]:
        return [7]


def test_load_judge_tiny_needs_no_download_and_answers_must_differ() -> None:
    judge = load_judge("tiny")
    assert judge.positive != judge.negative and len(judge.log_odds(["hi"])) == 1
    with pytest.raises(DlcError, match="start differently"):
        ChatSentimentJudge(judge.model, OneToken())
    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        ChatSentimentJudge(judge.model, judge.tokenizer, batch_size=0)
