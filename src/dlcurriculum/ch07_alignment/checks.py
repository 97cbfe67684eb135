"""Grader checks for chapter 7: the reward-model loss, the PPO token loss, the completion KL.

Each check has an oracle that shares no code with the reference: torch's soft-target
cross-entropy and an invariance (logits at masked positions cannot matter), the clipped
objective written piecewise in plain Python floats, torch.distributions' categorical KL,
and the exact KL between two distributions over whole sequences, enumerated on a tiny
vocabulary.
"""

import itertools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcurriculum.core.checks import (
    ExerciseFailure,
    assert_close,
    assert_shape,
    name_the_mistake,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rm_case() -> tuple[Tensor, Tensor, Tensor, int, int]:
    """Logits of 3 samples x 5 positions x 7 tokens; samples end at positions 4, 2 and 3."""
    logits = torch.randn(3, 5, 7, generator=_gen(0), dtype=torch.float64) * 2
    last = torch.tensor([4, 2, 3])
    mask = torch.arange(5)[None, :] == last[:, None]
    return logits, mask, torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64), 5, 6


def _soft_cross_entropy(logits: Tensor, mask: Tensor, p: Tensor, happy: int, sad: int) -> Tensor:
    target = torch.zeros(int(mask.sum()), logits.shape[-1], dtype=torch.float64)
    rows = p[:, None].expand_as(mask)[mask].double()
    target[:, happy], target[:, sad] = rows, 1 - rows
    return F.cross_entropy(logits[mask].double(), target)


def check_reward_model_loss(reward_model_loss: Callable[..., Tensor]) -> None:
    """torch's soft-target cross-entropy; masked positions change neither loss nor gradient."""
    logits, mask, p, happy, sad = _rm_case()
    got = reward_model_loss(logits, mask, p, happy, sad)
    assert_shape(
        got, (), "reward_model_loss", "return one scalar: the mean over masked-in positions"
    )
    expected = _soft_cross_entropy(logits, mask, p, happy, sad)
    pair = logits[mask][:, [happy, sad]].log_softmax(-1)
    neutral = "a neutral label is a target of 0.5 (a tie: half <happy>, half <sad>), not a loss "
    neutral += "for one side: use p_positive as it is, do not round it to {}"
    name_the_mistake(
        got.double(),
        {
            neutral.format(0): _soft_cross_entropy(logits, mask, p.round(), happy, sad),
            neutral.format(1): _soft_cross_entropy(logits, mask, (p >= 0.5).double(), happy, sad),
            "the sign is flipped: the loss is minus the log-probability of the targets": -expected,
            "<happy> and <sad> are swapped: p_positive is the target probability of <happy>, "
            "1 - p_positive that of <sad>": _soft_cross_entropy(logits, mask, p, sad, happy),
            "take the softmax over the whole vocabulary, not only the two label tokens": -(
                p * pair[:, 0] + (1 - p) * pair[:, 1]
            ).mean(),
            "you scored every position: only the masked-in (last) positions count": (
                _soft_cross_entropy(logits, torch.ones_like(mask), p, happy, sad)
            ),
            "take the mean over masked-in positions, not the sum": expected * int(mask.sum()),
        },
        "reward_model_loss",
        atol=1e-6,
    )
    if not torch.isclose(got.double(), expected, atol=1e-6):
        raise ExerciseFailure(
            f"reward_model_loss = {got.item():.6f}, expected {expected.item():.6f}: the loss is "
            "the mean over masked-in positions of -(p log softmax[happy] + (1 - p) log "
            "softmax[sad]), the softmax over the whole vocabulary"
        )
    # Invariance: the logits at masked-out positions must not matter.
    noisy = logits.clone()
    noisy[~mask] += 10 * torch.randn(int((~mask).sum()), 7, generator=_gen(1), dtype=torch.float64)
    leaf = noisy.clone().requires_grad_(True)
    again = reward_model_loss(leaf, mask, p, happy, sad)
    assert_close(
        again.detach(),
        got.detach(),
        "loss after changing masked-out logits",
        hint="the mask must remove those positions entirely",
    )
    again.backward()
    if leaf.grad is None or leaf.grad[~mask].abs().max() > 0:
        raise ExerciseFailure(
            "the gradient reaches masked-out positions: select logits[mask] before the loss"
        )
    # Closed form: uniform logits give log(d_vocab) whatever the targets.
    flat = reward_model_loss(torch.zeros(3, 5, 7, dtype=torch.float64), mask, p, happy, sad)
    assert_close(
        flat.double(),
        torch.tensor(math.log(7), dtype=torch.float64),
        "loss of uniform logits",
        hint="uniform logits give log(d_vocab)",
    )


def _ppo_case() -> tuple[Tensor, Tensor, Tensor, Tensor, float]:
    g = _gen(2)
    old = -torch.rand(4, 6, generator=g, dtype=torch.float64) * 3
    new = old + 0.4 * torch.randn(
        4, 6, generator=g, dtype=torch.float64
    )  # many ratios outside [0.8, 1.2]
    adv = torch.tensor([1.5, -0.7, 0.3, -2.0], dtype=torch.float64)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1, :2] = mask[3, 4:] = False  # a prompt and some padding
    return new, old, adv, mask, 0.2


def _piecewise_loss(new: Tensor, old: Tensor, adv: Tensor, mask: Tensor, eps: float) -> float:
    """The clipped objective per token as its two cases (Schulman et al. 2017, figure 1)."""
    terms = []
    for b, t in itertools.product(range(new.shape[0]), range(new.shape[1])):
        if not mask[b, t]:
            continue
        r, a = math.exp(float(new[b, t] - old[b, t])), float(adv[b])
        terms.append(min(r, 1 + eps) * a if a >= 0 else max(r, 1 - eps) * a)
    return -sum(terms) / len(terms)


def _ppo_mistakes(
    new: Tensor, old: Tensor, adv: Tensor, mask: Tensor, eps: float, expected: float
) -> dict[str, Tensor | float]:
    """What the usual mistakes in the clipped loss compute on this case, by hint."""
    a = adv[:, None].expand_as(new)

    def loss(ratio: Tensor, pick=torch.min, keep: Tensor = mask) -> Tensor:  # type: ignore[no-untyped-def]
        return -pick(ratio * a, ratio.clamp(1 - eps, 1 + eps) * a)[keep].mean()

    ratio = (new - old).exp()
    per_completion = torch.min(ratio * a, ratio.clamp(1 - eps, 1 + eps) * a) * mask
    return {
        "the sign is flipped: return minus the objective (a loss to minimise)": -expected,
        "masked-out tokens (prompt, padding) must not count": loss(
            ratio, keep=torch.ones_like(mask)
        ),
        "the ratio is never clipped: take the min per token of ratio * A and "
        "clip(ratio, 1 - eps, 1 + eps) * A": -(ratio * a)[mask].mean(),
        "you took the max of the two terms: PPO is pessimistic, take torch.min of the "
        "unclipped and clipped terms": loss(ratio, pick=torch.max),
        "the ratio is upside down: ratio = exp(logprobs - old_logprobs), new over old": loss(
            (old - new).exp()
        ),
        "the ratio is exp(logprobs - old_logprobs), not the log-ratio itself": loss(new - old),
        "you averaged per completion, then over completions: every token counts once, so "
        "take the mean over all masked-in tokens": -(per_completion.sum(-1) / mask.sum(-1)).mean(),
        "clip the ratio to [1 - eps, 1 + eps], not the advantage": -torch.min(
            ratio * a, ratio * a.clamp(-eps, eps)
        )[mask].mean(),
    }


def check_ppo_token_loss(ppo_token_loss: Callable[..., Tensor]) -> None:
    """The clipped objective in two cases per token; no gradient through clipped tokens."""
    new, old, adv, mask, eps = _ppo_case()
    leaf = new.clone().requires_grad_(True)
    got = ppo_token_loss(leaf, old, adv, mask, eps)
    assert_shape(got, (), "ppo_token_loss", "return one scalar loss")
    expected = _piecewise_loss(new, old, adv, mask, eps)
    name_the_mistake(
        got.detach(), _ppo_mistakes(new, old, adv, mask, eps, expected), "ppo_token_loss"
    )
    if not math.isclose(got.item(), expected, abs_tol=1e-6):
        raise ExerciseFailure(
            f"ppo_token_loss = {got.item():.6f}, expected {expected:.6f}: take the min per token "
            "of the unclipped and clipped terms, then minus the mean over masked-in tokens"
        )
    got.backward()
    ratio = (new - old).exp()
    a = adv[:, None].expand_as(ratio)
    clipped = ((a > 0) & (ratio > 1 + eps)) | ((a < 0) & (ratio < 1 - eps)) | ~mask
    if leaf.grad is None or leaf.grad[clipped].abs().max() > 0:
        raise ExerciseFailure(
            "tokens whose ratio is clipped (or masked out) still get a gradient: use "
            "torch.min of the unclipped and clipped terms, and drop masked-out tokens"
        )


def _two_step_tables(seed: int, vocab: int = 3) -> tuple[Tensor, Tensor]:
    """log p(x1) and log p(x2 | x1) of a random two-token distribution: [vocab], [vocab, vocab]."""
    g = _gen(seed)
    return (
        torch.randn(vocab, generator=g, dtype=torch.float64).log_softmax(-1),
        torch.randn(vocab, vocab, generator=g, dtype=torch.float64).log_softmax(-1),
    )


def check_completion_kl(completion_kl: Callable[..., Tensor]) -> None:
    """torch.distributions KL per position; its expectation is the exact sequence KL."""
    g = _gen(3)
    lp = torch.randn(4, 5, 6, generator=g, dtype=torch.float64).log_softmax(-1)
    lq = torch.randn(4, 5, 6, generator=g, dtype=torch.float64).log_softmax(-1)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2, 3:] = False
    got = completion_kl(lp, lq, mask)
    assert_shape(got, (4,), "completion_kl", "return one KL per completion (sum over positions)")
    per_pos = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=lp), torch.distributions.Categorical(logits=lq)
    )
    expected = (per_pos * mask).sum(-1)
    reverse = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=lq), torch.distributions.Categorical(logits=lp)
    )
    current = "that is KL(original || current): weight by the *current* policy's probabilities"
    name_the_mistake(
        got.double(),
        {
            current: (reverse * mask).sum(-1),
            current + ", exp(logprobs)": ((lq.exp() * (lp - lq)).sum(-1) * mask).sum(-1),
            "weight each log-ratio by the current policy's probability exp(logprobs[v]): the "
            "KL is an expectation over the vocabulary": ((lp - lq).sum(-1) * mask).sum(-1),
            "sum over the masked-in positions, not the mean: by the chain rule the "
            "per-position KLs add up": (per_pos * mask).mean(-1),
            "sum over the masked-in positions, not the mean over them: by the chain rule the "
            "per-position KLs add up": (per_pos * mask).sum(-1) / mask.sum(-1),
            "positions where the mask is False must not count: multiply by the mask before "
            "summing": per_pos.sum(-1),
        },
        "completion_kl",
        atol=1e-6,
    )
    assert_close(
        got.double(),
        expected,
        "completion_kl vs torch.distributions",
        atol=1e-6,
        hint="sum_v p_v (log p_v - log q_v) per position, summed over masked-in positions",
    )
    # Exact oracle: over all 9 sequences of a 3-token vocabulary, the p-weighted mean of the
    # estimate equals KL(p || q) between the two distributions over whole sequences.
    p1, p2 = _two_step_tables(4)
    q1, q2 = _two_step_tables(5)
    seqs = list(itertools.product(range(3), repeat=2))
    lp_seq = torch.stack([torch.stack([p1, p2[x1]]) for x1, _ in seqs])  # [9, 2, 3]
    lq_seq = torch.stack([torch.stack([q1, q2[x1]]) for x1, _ in seqs])
    weights = torch.tensor(
        [(p1[x1] + p2[x1, x2]).exp().item() for x1, x2 in seqs], dtype=torch.float64
    )
    exact = sum(
        w * ((p1[a] + p2[a, b]) - (q1[a] + q2[a, b]))
        for w, (a, b) in zip(weights, seqs, strict=True)
    )
    estimate = (
        weights * completion_kl(lp_seq, lq_seq, torch.ones(9, 2, dtype=torch.bool)).double()
    ).sum()
    assert_close(
        estimate,
        torch.as_tensor(exact, dtype=torch.float64),
        "expected completion KL vs exact sequence KL",
        atol=1e-6,
        hint="by the chain rule the per-position KLs add up to the sequence KL",
    )


def check_normalize_rewards(normalize_rewards: Callable[..., Tensor]) -> None:
    """(r - mean) / std per reward in plain floats, with the fixed constants; input untouched."""
    rewards = torch.tensor([-2.0, -0.5, -1.2, -3.1, -0.2], dtype=torch.float64)
    mean, std = -1.0, 0.5  # the original policy's; the batch's own: -1.4 and about 1.18
    given = rewards.clone()
    got = normalize_rewards(rewards, mean, std)
    assert_shape(got, rewards.shape, "normalize_rewards", "one advantage per completion")
    if not torch.equal(rewards, given):
        raise ExerciseFailure(
            "normalize_rewards changed the rewards it was given (an in-place edit such as "
            "rewards -= ...): return a new tensor, the loop still logs the raw rewards"
        )
    r = rewards
    own = "normalise with the fixed constants measured on the original policy, not the "
    own += "batch's own {}: a batch-centred advantage averages 0 whatever the policy does"
    name_the_mistake(
        got.double(),
        {
            own.format("mean"): (r - r.mean()) / std,
            own.format("mean and std"): (r - r.mean()) / r.std(),
            own.format("std"): (r - mean) / r.std(),
            "divide by std as well: the advantages must have unit scale": r - mean,
            "divide by the std, not the variance": (r - mean) / std**2,
            "divide by std, do not multiply": (r - mean) * std,
            "subtract the mean before dividing: (rewards - mean) / std": r / std - mean,
            "the sign is flipped: a completion better than the original policy's average "
            "must get a positive advantage": (mean - r) / std,
        },
        "normalize_rewards",
        atol=1e-6,
    )
    expected = torch.tensor([(x - mean) / std for x in rewards.tolist()], dtype=torch.float64)
    assert_close(
        got.double(),
        expected,
        "normalize_rewards vs (r - mean) / std",
        atol=1e-6,
        hint="return (rewards - mean) / std",
    )
