"""The comparison reward model: the Bradley-Terry loss, the tie rule, the head, training."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model
from dlcurriculum.ch07_alignment.comparisons import (
    BTTrainSettings,
    ScalarRewardModel,
    bradley_terry_loss,
    label_pairs,
    pair_accuracy,
    rewards,
    train_bradley_terry,
)
from dlcurriculum.ch07_alignment.reward_model import encode_texts
from tests.ch07_alignment.helpers import tiny_policy


def test_bradley_terry_loss_matches_torch_and_closed_forms() -> None:
    g = torch.Generator().manual_seed(0)
    r_c, r_r = torch.randn(50, generator=g) * 3, torch.randn(50, generator=g) * 3
    # an independent oracle: binary cross-entropy of "chosen wins" with logit r_c - r_r
    expected = F.binary_cross_entropy_with_logits(r_c - r_r, torch.ones(50))
    torch.testing.assert_close(bradley_terry_loss(r_c, r_r), expected)
    # equal rewards: the model says 50/50, so the loss is log 2 whatever the rewards are
    assert bradley_terry_loss(torch.full((3,), 7.0), torch.full((3,), 7.0)).item() == (
        pytest.approx(math.log(2))
    )
    # a confidently wrong pair costs about its margin, and stays finite
    assert bradley_terry_loss(torch.tensor([-200.0]), torch.tensor([0.0])).item() == (
        pytest.approx(200.0)
    )
    # the gradient pushes the chosen reward up and the rejected one down, by 1 - sigma
    r_c1, r_r1 = torch.tensor([0.5], requires_grad=True), torch.tensor([1.5], requires_grad=True)
    bradley_terry_loss(r_c1, r_r1).backward()
    grad = 1 - torch.sigmoid(torch.tensor(-1.0))
    torch.testing.assert_close(r_c1.grad, -grad.reshape(1))
    torch.testing.assert_close(r_r1.grad, grad.reshape(1))


def test_label_pairs_prefers_the_higher_score_and_drops_ties() -> None:
    rows = [("p", "a"), ("p", "b"), ("q", "c"), ("q", "d"), ("r", "e"), ("r", "f")]
    pairs = label_pairs(rows, [0.2, 0.5, 0.0, 0.05, -0.7, 0.0], margin=0.1)
    assert [(c.prompt, c.chosen, c.rejected) for c in pairs] == [("p", "b", "a"), ("r", "f", "e")]
    assert [c.margin for c in pairs] == pytest.approx([0.3, 0.7])
    # a zero margin keeps every pair except exact ties
    assert len(label_pairs(rows, [0.2, 0.5, 0.0, 0.0, -0.7, 0.0], margin=0.0)) == 2
    with pytest.raises(AssertionError, match="different prompts"):
        label_pairs([("p", "a"), ("q", "b")], [0.0, 1.0], 0.1)


def test_pair_accuracy_counts_exact_ties_as_half() -> None:
    acc = pair_accuracy(torch.tensor([1.0, 0.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 2.0, 1.0]))
    assert acc == pytest.approx((1 + 0 + 0.5 + 1) / 4)


def test_scalar_head_reads_the_models_own_residual_and_ignores_padding(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    model = ScalarRewardModel(policy)
    tokens, last = encode_texts(tok, ["my love", "alas, what woe and grief"], 1, 32)
    captured = []
    handle = model.body.ln_final.register_forward_hook(lambda _m, _i, out: captured.append(out))
    with torch.no_grad():
        model.body(tokens)
    handle.remove()
    torch.testing.assert_close(model.residual(tokens), captured[0])
    assert (rewards(model, tokens, last) == 0).all()  # zero head: no ranking before training
    with torch.no_grad():
        model.head.weight.normal_()
        padded = tokens.clone()
        padded[0, last[0] + 1 :] = 5
        torch.testing.assert_close(model(tokens, last), model(padded, last))
        # the policy's weights were copied, not shared
        model.body.embed.W_E.add_(1.0)
    assert not torch.equal(model.body.embed.W_E, policy.embed.W_E)


def test_training_on_separable_pairs_ranks_held_out_pairs(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    g = torch.Generator().manual_seed(0)
    happy, sad = ["love", "joy", "sweet", "merry"], ["woe", "grief", "death", "foul"]
    filler = ["the", "king", "is", "come", "and"]

    def line(word: str) -> str:
        words = [filler[int(j)] for j in torch.randint(0, 5, (4,), generator=g)]
        words.insert(int(torch.randint(0, 5, (1,), generator=g)), word)
        return " ".join(words)

    chosen = [line(happy[i % 4]) for i in range(120)]
    rejected = [line(sad[(i // 4) % 4]) for i in range(120)]
    c_tok, c_last = encode_texts(tok, chosen, 1, 32)
    r_tok, r_last = encode_texts(tok, rejected, 1, 32)
    model = ScalarRewardModel(policy)
    losses = train_bradley_terry(
        model,
        (c_tok[:90], c_last[:90]),
        (r_tok[:90], r_last[:90]),
        BTTrainSettings(epochs=6, batch_size=16, lr=3e-3),
        g,
    )
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4) and losses[-1] < 0.3
    r_c, r_r = rewards(model, c_tok[90:], c_last[90:]), rewards(model, r_tok[90:], r_last[90:])
    assert pair_accuracy(r_c, r_r) >= 0.9
