"""The reward model: the policy's text predictions kept, masking, training, calibration."""

from pathlib import Path

import torch

from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model
from dlcurriculum.ch07_alignment.reward_model import (
    HAPPY,
    RMTrainSettings,
    accuracy,
    encode_texts,
    label_ids,
    positive_logprob,
    predict_positive,
    reliability,
    reward_model_from,
    soft_targets,
    train_reward_model,
)
from tests.ch07_alignment.helpers import tiny_policy


def _policy(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_shakespeare_model(tiny_policy(tmp_path))


def test_reward_model_copies_the_policy_and_adds_two_tokens(tmp_path: Path) -> None:
    policy, tok = _policy(tmp_path)
    rm, rm_tok = reward_model_from(policy, tok)
    happy, sad = label_ids(rm_tok)
    assert (happy, sad) == (len(tok), len(tok) + 1) and rm_tok.vocab[happy] == HAPPY
    tokens = torch.randint(0, len(tok), (3, 10))
    with torch.no_grad():
        # the softmax over the old vocabulary is unchanged: the new tokens only add mass
        torch.testing.assert_close(rm(tokens)[..., : len(tok)], policy(tokens))
    assert tok.encode(HAPPY) != [happy]  # sample text can never contain a label token


def test_padding_after_the_last_piece_does_not_change_the_reward(tmp_path: Path) -> None:
    policy, tok = _policy(tmp_path)
    rm, rm_tok = reward_model_from(policy, tok)
    tokens, last = encode_texts(tok, ["my love", "alas, what woe and grief"], 1, 32)
    assert last.tolist() == [3, 9] and tokens[0, 4:].eq(0).all()
    other = tokens.clone()
    other[0, 4:] = 5
    with torch.no_grad():
        torch.testing.assert_close(
            positive_logprob(rm, tokens, last, label_ids(rm_tok)),
            positive_logprob(rm, other, last, label_ids(rm_tok)),
        )


def test_reward_model_learns_separable_sentiment(tmp_path: Path) -> None:
    policy, tok = _policy(tmp_path)
    rm, rm_tok = reward_model_from(policy, tok)
    ids = label_ids(rm_tok)
    g = torch.Generator().manual_seed(0)
    happy_words, sad_words, filler = (
        ["love", "joy", "sweet", "merry"],
        ["woe", "grief", "death", "foul"],
        ["the", "king", "is", "come", "and"],
    )
    texts, labels = [], []
    for i in range(120):
        words = [filler[int(j)] for j in torch.randint(0, 5, (4,), generator=g)]
        kind = ("positive", "negative", "neutral")[i % 3]
        pool = {"positive": happy_words, "negative": sad_words, "neutral": filler}[kind]
        words.insert(
            int(torch.randint(0, 5, (1,), generator=g)), pool[i % 4 if kind != "neutral" else 0]
        )
        texts.append(" ".join(words))
        labels.append(kind)
    tokens, last = encode_texts(tok, texts, 1, 32)
    train_reward_model(
        rm,
        tokens[:90],
        last[:90],
        soft_targets(labels[:90]),
        ids,
        RMTrainSettings(epochs=15, batch_size=16, lr=3e-3),
        g,
    )
    p = predict_positive(rm, tokens[90:], last[90:], ids)
    assert accuracy(p, labels[90:]) >= 0.9
    neutral = torch.tensor([lab == "neutral" for lab in labels[90:]])
    assert (p[neutral] - 0.5).abs().mean() < 0.25  # soft 50% targets keep neutral near 0.5


def test_accuracy_and_reliability_on_known_numbers() -> None:
    p = torch.tensor([0.9, 0.8, 0.3, 0.1, 0.6, 0.5])
    labels = ["positive", "negative", "negative", "negative", "neutral", "neutral"]
    assert accuracy(p, labels) == 0.75
    mean_p, frac, count, ece = reliability(p, labels, n_bins=2)
    assert count == [2, 2] and frac == [0.0, 0.5]
    torch.testing.assert_close(torch.tensor(mean_p), torch.tensor([0.2, 0.85]))
    assert abs(ece - (2 * 0.2 + 2 * 0.35) / 4) < 1e-6
