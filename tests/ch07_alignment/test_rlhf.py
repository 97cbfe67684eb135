"""PPO without a value function: the KL, the masked policy, and reward rising on a toy reward."""

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model
from dlcurriculum.ch07_alignment.impl import load_impl
from dlcurriculum.ch07_alignment.reward_model import positive_logprob
from dlcurriculum.ch07_alignment.rlhf import (
    PPOSettings,
    PPOState,
    completion_kl,
    next_token_logprobs,
    ppo_token_loss,
    train_ppo,
)
from dlcurriculum.ch07_alignment.tasks import (
    HappySad,
    RewardConstants,
    happy_sad_reward,
    sample_completions,
    unconditional_task,
)
from dlcurriculum.core.runs import read_metrics
from dlcurriculum.core.training import TrainingSession
from tests.ch07_alignment.helpers import tiny_policy


class CountingRM(nn.Module):
    """A stand-in reward model: P(happy) rises with the count of one token in the text."""

    def __init__(self, d_vocab: int, token: int) -> None:
        super().__init__()
        self.d_vocab, self.token = d_vocab, token
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, tokens: Tensor) -> Tensor:
        logits = torch.zeros(*tokens.shape, self.d_vocab + 2)
        logits[..., self.d_vocab] = (tokens == self.token).float().cumsum(-1) - 1.0
        return logits


def counting_happy_sad(rm: CountingRM) -> HappySad:
    """The stand-in as the stages see a reward model (its last position read)."""

    def row_logprob(tokens: Tensor) -> Tensor:
        last = torch.full((len(tokens),), tokens.shape[1] - 1)
        return positive_logprob(rm, tokens, last, (rm.d_vocab, rm.d_vocab + 1))

    return HappySad(lambda texts: torch.full((len(texts),), 0.5), row_logprob)


def test_kl_of_a_model_with_itself_is_zero_and_grows_after_a_change(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    ref, _ = load_shakespeare_model(tmp_path / "model.pt")
    task = unconditional_task(1, lambda t: t.sum(-1).float())
    tokens = sample_completions(policy, tok, task, 8, 10, torch.Generator().manual_seed(0))
    lp = next_token_logprobs(policy, tokens, tok.unk_id)
    mask = torch.ones(8, 10, dtype=torch.bool)
    torch.testing.assert_close(
        completion_kl(lp, next_token_logprobs(ref, tokens, tok.unk_id), mask), torch.zeros(8)
    )
    assert (
        lp[..., tok.unk_id].max() < -1e6
    )  # sampling never picks <unk>, so neither does the policy
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(8, 10))
    with torch.no_grad():
        policy.embed.W_E.add_(0.3 * torch.randn_like(policy.embed.W_E))
    kl = completion_kl(next_token_logprobs(policy, tokens, tok.unk_id), lp, mask)
    assert (kl > 0).all()


def test_ppo_loss_is_minus_the_mean_advantage_at_ratio_one() -> None:
    lp = torch.randn(3, 4)
    adv = torch.tensor([1.0, -2.0, 0.5])
    loss = ppo_token_loss(lp, lp, adv, torch.ones(3, 4, dtype=torch.bool), 0.2)
    torch.testing.assert_close(loss, -adv.mean())


def test_ppo_raises_a_toy_reward_and_logs_the_diagnostics(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    ref, _ = load_shakespeare_model(tmp_path / "model.pt")
    target = tok.encode("love")[0]
    rm = CountingRM(len(tok), target)
    settings = PPOSettings(
        batch_size=64,
        n_tokens=10,
        num_minibatches=2,
        learning_rate=3e-3,
        max_kl=50.0,
        max_iterations=12,
    )
    seen: list[float] = []
    opt = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate)
    stateful = {"policy": policy, "optimizer": opt}
    with TrainingSession(tmp_path, PPOState(), settings.max_iterations, "PPO", stateful) as session:
        out = train_ppo(
            policy,
            ref,
            unconditional_task(1, happy_sad_reward(counting_happy_sad(rm), False)),
            tok,
            settings,
            RewardConstants(-1.0, 1.0, 1),
            session,
            opt,
            0,
            lambda it, kl: seen.append(kl),
            load_impl(),
        )
    rows = read_metrics(tmp_path)
    for key in (
        "objective/reward",
        "objective/kl",
        "objective/sqrt_kl",
        "policy/clipfrac",
        "policy/entropy",
    ):
        assert key in rows[0], key
    rewards = [r["objective/reward"] for r in rows]
    assert sum(rewards[-3:]) / 3 > sum(rewards[:3]) / 3 + 0.1
    assert seen[0] == pytest.approx(0.0, abs=1e-5) and seen[-1] > seen[0]
    assert out.iteration == settings.max_iterations - 1
