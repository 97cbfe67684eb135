"""The graders reject known-wrong versions with the right hint.

That each check passes on the reference and fails on the skeleton is tested for every
chapter in tests/core/test_exercises.py.
"""

import pytest
import torch
from torch import Tensor

from dlcurriculum.ch07_alignment import checks
from dlcurriculum.ch07_alignment.chapter import EXERCISES
from dlcurriculum.ch07_alignment.reward_model import reward_model_loss
from dlcurriculum.ch07_alignment.rlhf import completion_kl, normalize_rewards, ppo_token_loss
from dlcurriculum.core.checks import ExerciseFailure


def test_every_exercise_has_its_check() -> None:
    for ex in EXERCISES:
        assert callable(getattr(checks, ex.check)), ex.check


def test_checks_pass_on_the_reference() -> None:
    checks.check_reward_model_loss(reward_model_loss)
    checks.check_ppo_token_loss(ppo_token_loss)
    checks.check_completion_kl(completion_kl)
    checks.check_normalize_rewards(normalize_rewards)


def _rm_two_way(logits: Tensor, mask: Tensor, p: Tensor, happy: int, sad: int) -> Tensor:
    logp = logits[mask][:, [happy, sad]].log_softmax(-1)
    p = p[:, None].expand_as(mask)[mask]
    return -(p * logp[:, 0] + (1 - p) * logp[:, 1]).mean()


def _rm_every_position(logits: Tensor, mask: Tensor, p: Tensor, happy: int, sad: int) -> Tensor:
    return reward_model_loss(logits, torch.ones_like(mask), p, happy, sad)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [(_rm_two_way, "whole vocabulary"), (_rm_every_position, "only the masked-in")],
)
def test_reward_model_loss_check_names_the_mistake(wrong, hint) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailure, match=hint):
        checks.check_reward_model_loss(wrong)


def _ppo_flipped(lp, old, adv, mask, eps):  # type: ignore[no-untyped-def]
    return -ppo_token_loss(lp, old, adv, mask, eps)


def _ppo_unmasked(lp, old, adv, mask, eps):  # type: ignore[no-untyped-def]
    return ppo_token_loss(lp, old, adv, torch.ones_like(mask), eps)


def _ppo_unclipped(lp, old, adv, mask, eps):  # type: ignore[no-untyped-def]
    return -((lp - old).exp() * adv[:, None])[mask].mean()


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_ppo_flipped, "sign is flipped"),
        (_ppo_unmasked, "masked-out tokens"),
        (_ppo_unclipped, "min per token"),
    ],
)
def test_ppo_token_loss_check_names_the_mistake(wrong, hint) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailure, match=hint):
        checks.check_ppo_token_loss(wrong)


def _kl_reversed(lp, lq, mask):  # type: ignore[no-untyped-def]
    return completion_kl(lq, lp, mask)


def _kl_sampled_mean(lp, lq, mask):  # type: ignore[no-untyped-def]
    return ((lp - lq).mean(-1) * mask).sum(-1)


@pytest.mark.parametrize(
    ("wrong", "hint"), [(_kl_reversed, "KL\\(original"), (_kl_sampled_mean, "sum_v p_v")]
)
def test_completion_kl_check_names_the_mistake(wrong, hint) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailure, match=hint):
        checks.check_completion_kl(wrong)
