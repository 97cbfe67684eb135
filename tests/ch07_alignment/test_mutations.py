"""Typical single mistakes in chapter 7's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch07_alignment"
RM_LOGP = "logits[mask].float().log_softmax(dim=-1)  # [n_masked, d_vocab]"
RM_TARGET = "p = p_positive[:, None].expand_as(mask)[mask].to(logp.dtype)"
RM_TERMS = "p * logp[:, happy_id] + (1 - p) * logp[:, sad_id]"
KL_TERM = "(logprobs.exp() * (logprobs - ref_logprobs)).sum(dim=-1)"

MUTATIONS = [
    Mutation(
        "reward_model_loss",
        RM_TARGET,
        "p = p_positive[:, None].expand_as(mask)[mask].round().to(logp.dtype)",
        r"neutral.*0\.5",
    ),
    Mutation(
        "reward_model_loss",
        RM_TARGET,
        "p = (p_positive[:, None].expand_as(mask)[mask] >= 0.5).to(logp.dtype)",
        r"neutral.*0\.5",
    ),
    Mutation(
        "reward_model_loss",
        RM_LOGP,
        "logits[mask].float()[:, [happy_id, sad_id]].log_softmax(-1)\n    happy_id, sad_id = 0, 1",
        r"whole vocabulary",
    ),
    Mutation(
        "reward_model_loss",
        f"{RM_LOGP}\n    p = p_positive[:, None].expand_as(mask)[mask]",
        "logits.flatten(0, 1).float().log_softmax(dim=-1)\n"
        "    p = p_positive[:, None].expand_as(mask).flatten()",
        r"only the masked-in",
    ),
    Mutation("reward_model_loss", f"return -({RM_TERMS})", f"return ({RM_TERMS})", r"sign"),
    Mutation(
        "reward_model_loss",
        RM_TERMS,
        "p * logp[:, sad_id] + (1 - p) * logp[:, happy_id]",
        r"swapped",
    ),
    Mutation("reward_model_loss", f"{RM_TERMS}).mean()", f"{RM_TERMS}).sum()", r"mean"),
    Mutation(
        "ppo_token_loss", "return -objective[mask].mean()", "return objective[mask].mean()", r"sign"
    ),
    Mutation(
        "ppo_token_loss",
        "return -objective[mask].mean()",
        "return -objective.mean()",
        r"masked-out tokens",
    ),
    Mutation("ppo_token_loss", "objective = torch.min(", "objective = torch.max(", r"torch\.min"),
    Mutation(
        "ppo_token_loss",
        "ratio = (logprobs - old_logprobs).exp()",
        "ratio = (old_logprobs - logprobs).exp()",
        r"exp\(logprobs - old_logprobs\)",
    ),
    Mutation(
        "ppo_token_loss",
        "ratio = (logprobs - old_logprobs).exp()",
        "ratio = logprobs - old_logprobs",
        r"exp\(logprobs - old_logprobs\)",
    ),
    Mutation(
        "ppo_token_loss",
        "return -objective[mask].mean()",
        "return -((objective * mask).sum(-1) / mask.sum(-1)).mean()",
        r"every token counts once",
    ),
    Mutation(
        "ppo_token_loss",
        "ratio.clamp(1 - clip_coef, 1 + clip_coef) * adv",
        "ratio * adv.clamp(-clip_coef, clip_coef)",
        r"clip the ratio",
    ),
    Mutation(
        "completion_kl",
        KL_TERM,
        "(ref_logprobs.exp() * (logprobs - ref_logprobs)).sum(dim=-1)",
        r"current",
    ),
    Mutation("completion_kl", KL_TERM, "(logprobs - ref_logprobs).sum(dim=-1)", r"weight"),
    Mutation(
        "completion_kl",
        "return (per_position * mask).sum(dim=-1)",
        "return (per_position * mask).mean(dim=-1)",
        r"sum over .*positions",
    ),
    Mutation(
        "completion_kl",
        "return (per_position * mask).sum(dim=-1)",
        "return per_position.sum(dim=-1)",
        r"mask",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "(rewards - rewards.mean()) / std\n",
        r"not the batch's own mean",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "(rewards - rewards.mean()) / rewards.std()\n",
        r"not the batch's own mean and std",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "rewards - mean\n",
        r"divide by std",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "(rewards - mean) / std**2\n",
        r"not the variance",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "(mean - rewards) / std\n",
        r"sign",
    ),
    Mutation(
        "completion_kl",
        "return (per_position * mask).sum(dim=-1)",
        "return (per_position * mask).sum(dim=-1) / mask.sum(dim=-1)",
        r"sum over .*positions",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "(rewards - mean) / rewards.std()\n",
        r"not the batch's own std",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "(rewards - mean) * std\n",
        r"do not multiply",
    ),
    Mutation(
        "normalize_rewards",
        "(rewards - mean) / std\n",
        "rewards / std - mean\n",
        r"subtract the mean before dividing",
    ),
    Mutation(
        "normalize_rewards",
        "return (rewards - mean) / std\n",
        "return rewards.sub_(mean).div_(std)\n",
        r"in-place",
    ),
]
