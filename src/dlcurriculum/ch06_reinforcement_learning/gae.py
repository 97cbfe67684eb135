"""Generalized advantage estimation, with episode ends cut the right way.

A rollout of `num_steps` steps from `num_envs` environments stores, for step t, the reward
r_t received after acting, the value V(s_t) of the state acted in, and the value of the
state that followed, V(s_{t+1}). Two kinds of episode end must be told apart:

- *termination* (the pole fell, the game was lost): s_{t+1} is terminal and worth 0;
- *truncation* (a time limit): the episode was cut, not finished, so s_{t+1} is still worth
  V(s_{t+1}) and the return must be bootstrapped from it.

In both cases the next row of the rollout belongs to a new episode, so the recursion must
not carry advantages across the boundary.
"""

import torch
from jaxtyping import Bool, Float
from torch import Tensor


def compute_gae(
    rewards: Float[Tensor, "num_steps num_envs"],
    values: Float[Tensor, "num_steps num_envs"],
    next_values: Float[Tensor, "num_steps num_envs"],
    terminated: Bool[Tensor, "num_steps num_envs"],
    truncated: Bool[Tensor, "num_steps num_envs"],
    gamma: float,
    gae_lambda: float,
) -> Float[Tensor, "num_steps num_envs"]:
    """Advantages by generalized advantage estimation, backwards through the rollout.

    Ref: Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized
    Advantage Estimation", eq. 16; Pardo et al. 2018 (time limits: bootstrap on truncation).

    With the TD error delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t,
    the advantage is A_t = delta_t + gamma * gae_lambda * (1 - done_t) * A_{t+1}, where
    done_t = terminated_t or truncated_t, and A after the last step is 0.

    Args:
        rewards: r_t, the reward received after the action at step t (already scaled, if
            reward normalization is on).
        values: V(s_t), the critic's value of the observation acted on at step t.
        next_values: V(s_{t+1}), the value of the true successor of s_t: for t < num_steps - 1
            without an episode end that is values[t + 1]; after the last step it is the value
            of the observation the rollout stopped at; where the episode was truncated at t it
            is the value of the final observation of that episode (not of the reset one).
            Ignored where terminated.
        terminated: True where the episode ended at step t in a terminal state (no
            bootstrap: the terminal state is worth 0).
        truncated: True where the episode was cut at step t by a time limit (bootstrap from
            next_values, but do not carry the next step's advantage back).
        gamma: discount factor in [0, 1].
        gae_lambda: GAE's lambda in [0, 1]: 0 gives the one-step TD error, 1 the Monte
            Carlo return minus the value.

    Returns:
        The advantages, same shape and dtype as rewards; no gradient flows into them.
        The critic's targets (lambda-returns) are advantages + values.
    """
    # BEGIN SOLUTION
    # HINT: loop t from num_steps - 1 down to 0, keeping the running advantage of step t + 1.
    # HINT: terminated removes the bootstrap term; terminated OR truncated stops the recursion.
    rewards, values, next_values = rewards.detach(), values.detach(), next_values.detach()
    bootstrap = (~terminated).to(rewards.dtype)
    carry = (~(terminated | truncated)).to(rewards.dtype)
    deltas = rewards + gamma * bootstrap * next_values - values
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = deltas[t] + gamma * gae_lambda * carry[t] * running
        advantages[t] = running
    return advantages
    # END SOLUTION
