"""The two RLHF tasks: unconditional completions, and corpus prompts scored by comparisons."""

from pathlib import Path

import torch

from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model
from dlcurriculum.ch07_alignment.comparisons import ScalarRewardModel
from dlcurriculum.ch07_alignment.impl import load_impl
from dlcurriculum.ch07_alignment.rlhf import PPOSettings, PPOState, train_ppo
from dlcurriculum.ch07_alignment.tasks import (
    RewardConstants,
    Task,
    comparison_reward,
    prompt_rows,
    sample_completions,
    unconditional_task,
)
from dlcurriculum.core.runs import read_metrics
from dlcurriculum.core.training import TrainingSession
from tests.ch07_alignment.helpers import tiny_policy


def test_one_prompt_draws_nothing_from_the_generator(tmp_path: Path) -> None:
    """Unconditional runs must sample exactly what they sampled before prompts existed."""
    g = torch.Generator().manual_seed(3)
    rows = unconditional_task(5, lambda t: t.float().sum(-1)).draw(4, g)
    assert rows.tolist() == [[5]] * 4
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(3).get_state())


def test_prompted_completions_continue_the_prompts_and_only_they_are_trained(
    tmp_path: Path,
) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    rows = prompt_rows(tok, 1, ["O my love, my joy", "Alas, what woe, what grief and bloody"])
    assert (rows[:, 0] == 1).all()  # the start piece, then the prompts cut to one length
    assert (
        rows[1, 1:].tolist()
        == tok.encode("\nAlas, what woe, what grief and bloody")[-(rows.shape[1] - 1) :]
    )
    task = Task(rows, lambda t: t.float().sum(-1))
    tokens = sample_completions(policy, tok, task, 16, 6, torch.Generator().manual_seed(0))
    assert tokens.shape == (16, rows.shape[1] + 6)
    prompts = {tuple(r) for r in rows.tolist()}
    assert all(tuple(t) in prompts for t in tokens[:, : rows.shape[1]].tolist())
    assert len({tuple(t) for t in tokens[:, : rows.shape[1]].tolist()}) == 2  # both drawn
    mask = task.completion_mask(tokens)
    assert mask.shape == (16, tokens.shape[1] - 1)
    assert not mask[:, : rows.shape[1] - 1].any() and mask[:, rows.shape[1] - 1 :].all()


def test_comparison_reward_scores_the_completion_positions_only(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    bt = ScalarRewardModel(policy)
    torch.nn.init.normal_(bt.head.weight)
    tokens = torch.randint(2, len(tok), (5, 9))
    n = tokens.shape[1]
    whole = bt(tokens, torch.full((5,), n - 1))
    prompt = bt(tokens[:, :4], torch.full((5,), 3))  # causal: the prompt's scores alone
    reward = comparison_reward(bt, 4, negative=False)(tokens)
    torch.testing.assert_close(reward, whole - prompt)
    torch.testing.assert_close(comparison_reward(bt, 4, negative=True)(tokens), -reward)


def test_ppo_on_prompts_raises_a_toy_reward_without_touching_the_prompt(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    ref, _ = load_shakespeare_model(tmp_path / "model.pt")
    target = tok.encode("love")[0]
    rows = prompt_rows(tok, 1, ["Alas, what woe, what grief", "Good morrow, the king is"])
    p_len = rows.shape[1]

    def reward(t: torch.Tensor) -> torch.Tensor:
        return (t[:, p_len:] == target).float().sum(-1)  # the prompt holds no "love"

    settings = PPOSettings(
        batch_size=64,
        n_tokens=8,
        num_minibatches=2,
        learning_rate=3e-3,
        max_kl=50.0,
        max_iterations=12,
    )
    opt = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate)
    with TrainingSession(tmp_path, PPOState(), 12, "PPO", {"policy": policy}) as session:
        train_ppo(
            policy,
            ref,
            Task(rows, reward),
            tok,
            settings,
            RewardConstants(0.0, 1.0, 1),
            session,
            opt,
            0,
            lambda it, kl: None,
            load_impl(),
        )
    rewards = [r["objective/reward"] for r in read_metrics(tmp_path)]
    assert sum(rewards[-3:]) / 3 > sum(rewards[:3]) / 3 + 0.3
