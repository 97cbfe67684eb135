"""The rollout buffer: one batch of experience, its advantages, and its minibatches.

PPO alternates between collecting `num_steps` steps from `num_envs` environments with the
current policy and optimising on that batch for a few epochs. The buffer holds the batch
with a leading [num_steps, num_envs] layout while it is filled, turns it into advantages
and critic targets, and serves shuffled, flattened minibatches.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Shaped
from torch import Tensor

from dlcurriculum.ch06_reinforcement_learning.gae import compute_gae


@dataclass(frozen=True)
class Minibatch:
    """Flattened samples of one minibatch, each row one (step, env) of the rollout."""

    obs: Tensor
    """[batch, *obs_shape], in the environment's dtype (uint8 images stay uint8)."""
    actions: Tensor
    """[batch] (discrete, int64) or [batch, action_dim] (continuous, float32)."""
    logprobs: Tensor
    """[batch] log-probability of the action under the policy that collected it."""
    values: Tensor
    """[batch] the critic's value when collected."""
    advantages: Tensor
    """[batch] advantages (normalized if the training loop normalized them)."""
    returns: Tensor
    """[batch] the critic's targets, advantages + values before any normalization."""


class RolloutBuffer:
    """Fixed-size storage for one rollout of num_steps vector steps.

    Ref: cleanrl `ppo.py` storage tensors; Stable-Baselines3 `RolloutBuffer`.

    Usage, once per PPO update: `reset()`, then `add(...)` num_steps times, then
    `compute_advantages(last_values, gamma, gae_lambda)`, then iterate
    `minibatches(num_minibatches, generator)` once per epoch.
    """

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: torch.dtype = torch.float32,
        action_dtype: torch.dtype = torch.int64,
        device: torch.device | str = "cpu",
    ):
        self.num_steps, self.num_envs = num_steps, num_envs
        size = (num_steps, num_envs)
        self.obs = torch.zeros(size + obs_shape, dtype=obs_dtype, device=device)
        self.actions = torch.zeros(size + action_shape, dtype=action_dtype, device=device)
        self.logprobs = torch.zeros(size, device=device)
        self.values = torch.zeros(size, device=device)
        self.rewards = torch.zeros(size, device=device)
        self.terminated = torch.zeros(size, dtype=torch.bool, device=device)
        self.truncated = torch.zeros(size, dtype=torch.bool, device=device)
        self.final_values = torch.zeros(size, device=device)
        self.advantages = torch.zeros(size, device=device)
        self.returns = torch.zeros(size, device=device)
        self.pos = 0

    def reset(self) -> None:
        """Start filling from step 0 again (old contents are overwritten)."""
        self.pos = 0

    def add(
        self,
        obs: Shaped[Tensor, " num_envs *obs_shape"],
        actions: Shaped[Tensor, " num_envs *action_shape"],
        logprobs: Float[Tensor, " num_envs"],
        values: Float[Tensor, " num_envs"],
        rewards: Float[Tensor, " num_envs"],
        terminated: Bool[Tensor, " num_envs"],
        truncated: Bool[Tensor, " num_envs"],
        final_values: Float[Tensor, " num_envs"],
    ) -> None:
        """Store one vector step at row `pos` and advance `pos`.

        Args:
            obs: the observations the actions were chosen from (s_t).
            actions: the actions taken.
            logprobs: log pi(a_t | s_t) under the acting policy.
            values: V(s_t) under the acting critic.
            rewards: r_t, received after the actions.
            terminated: episodes that ended at this step in a terminal state.
            truncated: episodes cut at this step by a time limit.
            final_values: V(final observation) for envs truncated at this step; entries of
                other envs are ignored (pass anything, e.g. zeros).

        Raises:
            IndexError: the buffer already holds num_steps steps (call reset() first).
        """
        # BEGIN SOLUTION
        # HINT: raise a clear error if the buffer is full (pos == num_steps) instead of wrapping.
        if self.pos >= self.num_steps:
            raise IndexError(f"RolloutBuffer is full ({self.num_steps} steps): call reset()")
        t = self.pos
        self.obs[t] = obs
        self.actions[t] = actions
        self.logprobs[t] = logprobs
        self.values[t] = values
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.final_values[t] = final_values
        self.pos += 1
        # END SOLUTION

    def compute_advantages(
        self, last_values: Float[Tensor, " num_envs"], gamma: float, gae_lambda: float
    ) -> None:
        """Fill `advantages` and `returns` (= advantages + values) with GAE.

        Ref: Pardo et al. 2018, "Time Limits in Reinforcement Learning" (why a truncated
        step bootstraps from the final observation's value).

        Args:
            last_values: V(s_T), the value of the observations after the last stored step
                (the ones the next rollout starts from).
            gamma: discount factor.
            gae_lambda: GAE's lambda.

        Raises:
            RuntimeError: the buffer is not full yet.
        """
        # BEGIN SOLUTION
        # HINT: next_values[t] is values[t + 1], last_values after the last step, and
        # HINT: final_values[t] where the episode was truncated at t (the reset obs is not s_{t+1}).
        if self.pos != self.num_steps:
            raise RuntimeError(f"the rollout holds {self.pos} of {self.num_steps} steps")
        next_values = torch.cat([self.values[1:], last_values[None]])
        next_values = torch.where(self.truncated, self.final_values, next_values)
        self.advantages = compute_gae(
            self.rewards,
            self.values,
            next_values,
            self.terminated,
            self.truncated,
            gamma,
            gae_lambda,
        )
        self.returns = self.advantages + self.values
        # END SOLUTION

    def minibatches(self, num_minibatches: int, generator: torch.Generator) -> Iterator[Minibatch]:
        """One epoch: the flattened rollout, shuffled, cut into equal minibatches.

        Every (step, env) sample appears in exactly one minibatch, and all its fields stay
        aligned. The order depends only on `generator`, so a seeded run is reproducible.

        Args:
            num_minibatches: how many minibatches; must divide num_steps * num_envs.
            generator: a CPU torch.Generator for the permutation.

        Raises:
            ValueError: num_minibatches does not divide the number of samples.
        """
        # BEGIN SOLUTION
        # HINT: flatten [num_steps, num_envs, ...] to [num_steps * num_envs, ...] with reshape.
        batch_size = self.num_steps * self.num_envs
        if batch_size % num_minibatches:
            raise ValueError(f"{num_minibatches} minibatches do not divide {batch_size} samples")
        size = batch_size // num_minibatches
        flat = [
            x.reshape(batch_size, *x.shape[2:])
            for x in (
                self.obs,
                self.actions,
                self.logprobs,
                self.values,
                self.advantages,
                self.returns,
            )
        ]
        order = torch.randperm(batch_size, generator=generator).to(self.values.device)
        for start in range(0, batch_size, size):
            idx = order[start : start + size]
            yield Minibatch(*(x[idx] for x in flat))
        # END SOLUTION
