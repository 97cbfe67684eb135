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

from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape


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
    if not torch.isclose(got.double(), expected, atol=1e-6):
        two_way = -(
            p * logits[mask][:, [happy, sad]].log_softmax(-1)[:, 0]
            + (1 - p) * logits[mask][:, [happy, sad]].log_softmax(-1)[:, 1]
        ).mean()
        everywhere = _soft_cross_entropy(logits, torch.ones_like(mask), p, happy, sad)
        hint = "check the sign: the loss is minus the log-probability of the targets"
        if torch.isclose(got.double(), two_way, atol=1e-6):
            hint = "take the softmax over the whole vocabulary, not only the two label tokens"
        elif torch.isclose(got.double(), everywhere, atol=1e-6):
            hint = "you scored every position: only the masked-in (last) positions count"
        raise ExerciseFailure(
            f"reward_model_loss = {got.item():.6f}, expected {expected.item():.6f}: {hint}"
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


def check_ppo_token_loss(ppo_token_loss: Callable[..., Tensor]) -> None:
    """The clipped objective in two cases per token; no gradient through clipped tokens."""
    new, old, adv, mask, eps = _ppo_case()
    leaf = new.clone().requires_grad_(True)
    got = ppo_token_loss(leaf, old, adv, mask, eps)
    assert_shape(got, (), "ppo_token_loss", "return one scalar loss")
    expected = _piecewise_loss(new, old, adv, mask, eps)
    if not math.isclose(got.item(), expected, abs_tol=1e-6):
        hint = "take the min per token, then the mean over masked-in tokens"
        if math.isclose(got.item(), -expected, abs_tol=1e-6):
            hint = "the sign is flipped: return minus the objective (a loss to minimise)"
        elif math.isclose(
            got.item(), _piecewise_loss(new, old, adv, torch.ones_like(mask), eps), abs_tol=1e-6
        ):
            hint = "masked-out tokens (prompt, padding) must not count"
        raise ExerciseFailure(f"ppo_token_loss = {got.item():.6f}, expected {expected:.6f}: {hint}")
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
    reverse = (
        torch.distributions.kl_divergence(
            torch.distributions.Categorical(logits=lq), torch.distributions.Categorical(logits=lp)
        )
        * mask
    ).sum(-1)
    hint = "sum_v p_v (log p_v - log q_v) per position, summed over masked-in positions"
    if torch.allclose(got.double(), reverse, atol=1e-6):
        hint = "that is KL(original || current): weight by the *current* policy's probabilities"
    assert_close(
        got.double(), expected, "completion_kl vs torch.distributions", atol=1e-6, hint=hint
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
