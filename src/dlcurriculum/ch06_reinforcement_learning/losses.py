"""PPO's losses and the diagnostics that tell a healthy update from a broken one.

Every loss here is a quantity to *minimise*, averaged over the minibatch. The diagnostics
(approximate KL, clip fraction, explained variance) are logged every update and read in
the report: they are how PPO bugs and bad hyperparameters show themselves.
"""

import torch
from jaxtyping import Float
from torch import Tensor


def clipped_surrogate(
    logprobs: Float[Tensor, " batch"],
    old_logprobs: Float[Tensor, " batch"],
    advantages: Float[Tensor, " batch"],
    clip_coef: float,
) -> Float[Tensor, ""]:
    """PPO's clipped surrogate objective, negated: a policy loss to minimise.

    Ref: Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 7.

    With the probability ratio rho = exp(logprobs - old_logprobs), the objective is the
    batch mean of min(rho * A, clip(rho, 1 - clip_coef, 1 + clip_coef) * A); the loss is its
    negative. The min makes it a pessimistic bound: moving rho outside the clip range earns
    nothing, but moving it the wrong way is still penalised.

    Args:
        logprobs: log pi(a_t | s_t) under the policy being optimised (carries gradients).
        old_logprobs: the same under the policy that collected the rollout (constants).
        advantages: the advantage of each action (already normalized, if that is on).
        clip_coef: epsilon, e.g. 0.2.

    Returns:
        A scalar loss; its gradient flows into `logprobs` only.
    """
    # BEGIN SOLUTION
    # HINT: the loss is MINUS the mean of the elementwise minimum; take the min before the mean.
    ratio = (logprobs - old_logprobs.detach()).exp()
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef) * advantages
    return -torch.minimum(unclipped, clipped).mean()
    # END SOLUTION


def value_loss(
    values: Float[Tensor, " batch"],
    old_values: Float[Tensor, " batch"],
    returns: Float[Tensor, " batch"],
    clip_coef: float | None,
) -> Float[Tensor, ""]:
    """Half the mean squared error of the critic, optionally clipped around the old values.

    Ref: Schulman et al. 2017, eq. 9 (the L^VF term); the clipped variant is OpenAI
    baselines' ppo2, used by the Procgen paper (Cobbe et al. 2020).

    Unclipped: 0.5 * mean((values - returns)^2). Clipped: with
    v_clip = old_values + clip(values - old_values, -clip_coef, clip_coef), the loss is
    0.5 * mean(max((values - returns)^2, (v_clip - returns)^2)) — like the policy's clip,
    a pessimistic bound that removes the incentive to move a value far in one update.

    Args:
        values: the critic's current predictions (carry gradients).
        old_values: its predictions when the rollout was collected (constants).
        returns: the targets, advantages + old values (lambda-returns; constants).
        clip_coef: the clip range, or None for the plain squared error.

    Returns:
        A scalar loss; its gradient flows into `values` only.
    """
    # BEGIN SOLUTION
    # HINT: with clipping, take the elementwise max of the two squared errors, then the mean.
    old_values, returns = old_values.detach(), returns.detach()
    unclipped = (values - returns) ** 2
    if clip_coef is None:
        return 0.5 * unclipped.mean()
    v_clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
    return 0.5 * torch.maximum(unclipped, (v_clipped - returns) ** 2).mean()
    # END SOLUTION


def approx_kl(
    logprobs: Float[Tensor, " batch"], old_logprobs: Float[Tensor, " batch"]
) -> Float[Tensor, ""]:
    """The k2 estimate of KL(old || new) from sampled actions: mean of half the squared log-ratio.

    Ref: John Schulman, "Approximating KL Divergence" (2020), the estimator k2.

    The actions were sampled from the old policy, so mean(0.5 * (logprobs - old_logprobs)^2)
    estimates KL(old || new); it is never negative and has low variance, with a bias that
    vanishes as the policies get close (PPO keeps them close).

    Args:
        logprobs: log pi_new(a_t | s_t).
        old_logprobs: log pi_old(a_t | s_t), the policy that sampled a_t.

    Returns:
        A scalar tensor (a diagnostic: callers detach it).
    """
    # BEGIN SOLUTION
    return (0.5 * (logprobs - old_logprobs) ** 2).mean()
    # END SOLUTION


def clip_fraction(
    logprobs: Float[Tensor, " batch"], old_logprobs: Float[Tensor, " batch"], clip_coef: float
) -> Float[Tensor, ""]:
    """Share of the samples whose probability ratio left [1 - clip_coef, 1 + clip_coef].

    A healthy PPO update clips a few percent to about 20% of the samples; zero means the
    policy barely moves, a large share means the steps are too big. A scalar tensor, so the
    training loop can average it over an update without one `.item()` per step.
    """
    ratio = (logprobs - old_logprobs).exp()
    return ((ratio - 1.0).abs() > clip_coef).float().mean()


def explained_variance(
    predictions: Float[Tensor, " batch"], targets: Float[Tensor, " batch"]
) -> float:
    """How much of the targets' variance the critic explains: 1 - Var[t - p] / Var[t].

    Ref: OpenAI baselines, `common/math_util.py` explained_variance.

    1 is a perfect critic, 0 is no better than predicting the mean, negative is worse than
    that. Use the population variance (divide by n), so that the identity
    explained_variance(p, t) = 1 - mean((t - p - mean(t - p))^2) / Var[t] holds exactly.

    Args:
        predictions: the critic's values V(s_t).
        targets: what it should have predicted (the returns).

    Returns:
        A Python float; nan when the targets are constant (the ratio is undefined).
    """
    # BEGIN SOLUTION
    # HINT: constant targets (Var = 0) make the ratio 0/0: return float("nan"), not inf or 1.
    var_targets = targets.var(unbiased=False)
    if var_targets == 0:
        return float("nan")
    return (1.0 - (targets - predictions).var(unbiased=False) / var_targets).item()
    # END SOLUTION


def normalize_advantages(
    advantages: Float[Tensor, "*batch"], eps: float = 1e-8
) -> Float[Tensor, "*batch"]:
    """The advantages shifted to mean 0 and scaled to standard deviation 1.

    Ref: Huang et al. 2022, "The 37 Implementation Details of Proximal Policy Optimization",
    detail 7 (advantage normalization).

    Normalised advantages make the policy's step size independent of the reward scale. The
    mean and the standard deviation are taken over every element (all steps and envs
    together, not per env), with torch's default unbiased std, and `eps` is added to the std
    so that constant advantages come out as zeros, not nan.

    Args:
        advantages: any shape, e.g. the rollout's [num_steps, num_envs]; left unmodified.
        eps: added to the standard deviation.

    Returns:
        A new tensor of the same shape.
    """
    # BEGIN SOLUTION
    # HINT: one mean and one std over all elements; add eps to the std, not to the variance.
    return (advantages - advantages.mean()) / (advantages.std() + eps)
    # END SOLUTION


def ppo_loss(
    pg_loss: Float[Tensor, ""],
    v_loss: Float[Tensor, ""],
    entropy: Float[Tensor, " batch"],
    ent_coef: float,
    vf_coef: float,
) -> Float[Tensor, ""]:
    """PPO's total loss: the policy loss, minus the entropy bonus, plus the weighted value loss.

    Ref: Schulman et al. 2017, eq. 9, which maximises L^CLIP - c1 L^VF + c2 S; negated, with
    pg_loss = -L^CLIP, v_loss = L^VF, c1 = vf_coef and c2 = ent_coef, it is a loss to minimise.

    The entropy is a bonus: a policy that keeps exploring (more entropy) gets a lower loss.

    Args:
        pg_loss: the clipped surrogate loss (a scalar carrying gradients).
        v_loss: the value loss (a scalar carrying gradients).
        entropy: the policy's entropy at each sample of the minibatch.
        ent_coef: the entropy bonus's weight.
        vf_coef: the value loss's weight.

    Returns:
        A scalar loss; gradients flow into all three terms.
    """
    # BEGIN SOLUTION
    # HINT: average the entropy over the minibatch; more entropy must LOWER the loss.
    return pg_loss - ent_coef * entropy.mean() + vf_coef * v_loss
    # END SOLUTION
