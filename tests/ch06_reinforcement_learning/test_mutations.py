"""Typical single mistakes in chapter 6's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch06_reinforcement_learning"
BOOTSTRAP = "bootstrap = (~terminated).to(rewards.dtype)"
CARRY = "carry = (~(terminated | truncated)).to(rewards.dtype)"
RECURSION = "running = deltas[t] + gamma * gae_lambda * carry[t] * running"
RATIO = "ratio = (logprobs - old_logprobs.detach()).exp()"
CLIPPED = "clipped = ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef) * advantages"
PG_RETURN = "return -torch.minimum(unclipped, clipped).mean()"
V_CLIPPED = "v_clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)"
V_RETURN = "return 0.5 * torch.maximum(unclipped, (v_clipped - returns) ** 2).mean()"
KL = "return (0.5 * (logprobs - old_logprobs) ** 2).mean()"
EV = "return (1.0 - (targets - predictions).var(unbiased=False) / var_targets).item()"
NEXT_VALUES = "next_values = torch.cat([self.values[1:], last_values[None]])"
RETURNS = "self.returns = self.advantages + self.values"
ORDER = "order = torch.randperm(batch_size, generator=generator).to(self.values.device)"
NORM_ADV = "return (advantages - advantages.mean()) / (advantages.std() + eps)"
PPO_LOSS = "return pg_loss - ent_coef * entropy.mean() + vf_coef * v_loss"

MUTATIONS = [
    # compute_gae
    Mutation(
        "compute_gae",
        BOOTSTRAP,
        "bootstrap = (~(terminated | truncated)).to(rewards.dtype)",
        r"truncation as termination",
    ),
    Mutation(
        "compute_gae",
        CARRY,
        "carry = (~terminated).to(rewards.dtype)",
        r"carry the advantage across a truncation",
    ),
    Mutation(
        "compute_gae",
        BOOTSTRAP,
        "bootstrap = torch.ones_like(rewards)",
        r"bootstrap from next_values where terminated",
    ),
    Mutation(
        "compute_gae",
        RECURSION,
        "running = deltas[t] + gamma * carry[t] * running",
        r"gae_lambda",
    ),
    Mutation(
        "compute_gae",
        "for t in reversed(range(rewards.shape[0])):",
        "for t in range(rewards.shape[0]):",
        r"backwards",
    ),
    Mutation(
        "compute_gae",
        "rewards, values, next_values = rewards.detach(), values.detach(), next_values.detach()",
        "pass",
        r"detach",
    ),
    # clipped_surrogate
    Mutation(
        "clipped_surrogate",
        PG_RETURN,
        "return torch.minimum(unclipped, clipped).mean()",
        r"sign is flipped",
    ),
    Mutation(
        "clipped_surrogate",
        PG_RETURN,
        "return -torch.maximum(unclipped, clipped).mean()",
        r"max.*take the min",
    ),
    Mutation(
        "clipped_surrogate",
        CLIPPED,
        "clipped = ratio * advantages.clamp(1.0 - clip_coef, 1.0 + clip_coef)",
        r"do not clip the advantages",
    ),
    Mutation(
        "clipped_surrogate",
        CLIPPED,
        "clipped = ratio * advantages.clamp(-clip_coef, clip_coef)",
        r"do not clip the advantages",
    ),
    Mutation(
        "clipped_surrogate",
        RATIO,
        "ratio = (old_logprobs.detach() - logprobs).exp()",
        r"ratio is upside down",
    ),
    Mutation(
        "clipped_surrogate",
        PG_RETURN,
        "return -torch.minimum(unclipped, clipped).sum()",
        r"summed over the batch",
    ),
    Mutation(
        "clipped_surrogate",
        PG_RETURN,
        "return -torch.minimum(unclipped.mean(), clipped.mean())",
        r"min of two means",
    ),
    # value_loss
    Mutation("value_loss", "return 0.5 * unclipped.mean()", "return unclipped.mean()", r"HALF"),
    Mutation(
        "value_loss",
        V_RETURN,
        "return 0.5 * torch.minimum(unclipped, (v_clipped - returns) ** 2).mean()",
        r"min.*take the max",
    ),
    Mutation(
        "value_loss",
        V_CLIPPED,
        "v_clipped = returns + (values - returns).clamp(-clip_coef, clip_coef)",
        r"around old_values",
    ),
    Mutation(
        "value_loss",
        "old_values, returns = old_values.detach(), returns.detach()",
        "pass",
        r"detach",
    ),
    # approx_kl
    Mutation("approx_kl", KL, "return (old_logprobs - logprobs).mean()", r"k1 estimator"),
    Mutation("approx_kl", KL, "return ((logprobs - old_logprobs) ** 2).mean()", r"factor 0\.5"),
    Mutation("approx_kl", KL, "return (0.5 * (logprobs - old_logprobs) ** 2).sum()", r"summed"),
    Mutation(
        "approx_kl",
        KL,
        "log_ratio = logprobs - old_logprobs\n    return (log_ratio.exp() - 1 - log_ratio).mean()",
        r"k3 estimator",
    ),
    # explained_variance
    Mutation("explained_variance", 'return float("nan")\n', "return 0.0\n", r'float\("nan"\)'),
    Mutation(
        "explained_variance",
        EV,
        "return (1.0 - (targets - predictions).var() / var_targets).item()",
        r"population variance",
    ),
    Mutation(
        "explained_variance",
        EV,
        "return (1.0 - (targets - predictions).var(unbiased=False) "
        "/ predictions.var(unbiased=False)).item()",
        r"Var\[targets\]",
    ),
    Mutation(
        "explained_variance",
        EV,
        "return (1.0 - ((targets - predictions) ** 2).mean() / var_targets).item()",
        r"variance of the residuals",
    ),
    Mutation(
        "explained_variance",
        EV,
        "return 1.0 - (targets - predictions).var(unbiased=False) / var_targets",
        r"Python float",
    ),
    # normalize_advantages
    Mutation(
        "normalize_advantages",
        NORM_ADV,
        "return advantages / (advantages.std() + eps)",
        r"mean is not subtracted",
    ),
    Mutation(
        "normalize_advantages",
        NORM_ADV,
        "return (advantages - advantages.mean()) / (advantages.var() + eps)",
        r"divided by the variance",
    ),
    Mutation(
        "normalize_advantages",
        NORM_ADV,
        "return (advantages - advantages.mean(0)) / (advantages.std(0) + eps)",
        r"each env.*over all\s+elements",
    ),
    Mutation(
        "normalize_advantages",
        NORM_ADV,
        "return (advantages - advantages.mean()) / (advantages.std(unbiased=False) + eps)",
        r"unbiased std",
    ),
    Mutation(
        "normalize_advantages",
        NORM_ADV,
        "return (advantages - advantages.mean()) / advantages.std()",
        r"add eps",
    ),
    Mutation(
        "normalize_advantages",
        NORM_ADV,
        "return advantages.sub_(advantages.mean()) / (advantages.std() + eps)",
        r"in place",
    ),
    # ppo_loss
    Mutation(
        "ppo_loss",
        PPO_LOSS,
        "return pg_loss + ent_coef * entropy.mean() + vf_coef * v_loss",
        r"entropy bonus has the wrong sign",
    ),
    Mutation(
        "ppo_loss",
        PPO_LOSS,
        "return pg_loss - ent_coef * entropy.sum() + vf_coef * v_loss",
        r"take its mean",
    ),
    Mutation(
        "ppo_loss",
        PPO_LOSS,
        "return pg_loss - vf_coef * entropy.mean() + ent_coef * v_loss",
        r"swapped",
    ),
    Mutation(
        "ppo_loss",
        PPO_LOSS,
        "return pg_loss - ent_coef * entropy.mean() + v_loss",
        r"multiply it by vf_coef",
    ),
    Mutation(
        "ppo_loss",
        PPO_LOSS,
        "return pg_loss - ent_coef * entropy.mean().item() + vf_coef * v_loss",
        r"gradient",
    ),
    # rollout_buffer
    Mutation(
        "rollout_buffer",
        "next_values = torch.where(self.truncated, self.final_values, next_values)",
        "pass",
        r"use final_values there",
    ),
    Mutation(
        "rollout_buffer",
        NEXT_VALUES,
        "next_values = self.values",
        r"values\[t \+ 1\]",
    ),
    Mutation("rollout_buffer", RETURNS, "self.returns = self.advantages", r"advantages \+ values"),
    Mutation(
        "rollout_buffer",
        RETURNS,
        "self.returns = self.advantages - self.values",
        r"advantages \+ values",
    ),
    Mutation(
        "rollout_buffer",
        RETURNS,
        "self.returns = self.rewards + gamma * next_values",
        r"lambda-return",
    ),
    Mutation("rollout_buffer", ORDER, "order = torch.arange(batch_size)", r"not shuffled"),
    Mutation(
        "rollout_buffer",
        ORDER,
        "order = torch.randperm(batch_size).to(self.values.device)",
        r"generator",
    ),
    Mutation(  # wraps around instead of refusing a full buffer
        "rollout_buffer",
        "if self.pos >= self.num_steps:\n            raise IndexError("
        'f"RolloutBuffer is full ({self.num_steps} steps): call reset()")\n'
        "        t = self.pos\n",
        "t = self.pos % self.num_steps\n",
        r"IndexError",
    ),
]
