"""Grader checks for chapter 9: PGD and the few-shot red-team prompt.

Oracles: on a linear two-class model the worst L-infinity perturbation inside the pixel
box is known in closed form (move every pixel eps against the margin's weight, then
clip), and PGD must find it; one unprojected step from the clean image is FGSM, computed
here by hand with autograd; batch norm's running statistics must not move during an
attack (the attack runs in eval mode).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.core.checks import (
    ExerciseFailure,
    assert_close,
    assert_shape,
    name_the_mistake,
)


def _linear_model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    return model.eval()


def optimal_linf_attack(model: nn.Sequential, images: Tensor, labels: Tensor, eps: float) -> Tensor:
    """Closed-form worst case for a two-class linear model inside the eps-ball and [0, 1].

    The cross-entropy only depends on the margin (w_y - w_other) . x, which is linear and
    separable in the pixels, so each pixel moves by eps against its weight's sign and is
    then clipped to [0, 1]; no point of the feasible box has a smaller margin.
    """
    linear = model[1]
    assert isinstance(linear, nn.Linear)
    w = linear.weight.detach()  # [2, 16]
    direction = (w[labels] - w[1 - labels]).sign().view_as(images)  # margin's gradient sign
    return (images - eps * direction).clamp(0, 1)


def _by_hand_fgsm(model: nn.Module, images: Tensor, labels: Tensor, eps: float) -> Tensor:
    x = images.clone().requires_grad_(True)
    F.cross_entropy(model(x), labels).backward()
    assert x.grad is not None
    return (images + eps * x.grad.sign()).clamp(0, 1)


def check_pgd(pgd: Callable[..., Tensor]) -> None:
    """Check `pgd(model, images, labels, eps, alpha, steps, random_start, generator)`."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(32, 1, 4, 4, generator=gen)
    labels = torch.randint(0, 2, (32,), generator=gen)
    model = _linear_model()
    eps = 0.2

    adv = pgd(model, images, labels, eps, eps / 4, 10, True, gen)
    assert_shape(adv, images.shape, "pgd output", "return images + delta, same shape as images")
    if (adv - images).abs().max() > eps + 1e-6:
        raise ExerciseFailure(
            f"pgd moved a pixel by {(adv - images).abs().max():.4f} > eps={eps}: project "
            "delta back onto [-eps, eps] after every step (delta.clamp(-eps, eps))"
        )
    if adv.min() < 0 or adv.max() > 1:
        raise ExerciseFailure(
            "pgd left the valid pixel range [0, 1]: clamp images + delta to [0, 1] after each step"
        )
    assert_close(
        adv,
        optimal_linf_attack(model, images, labels, eps),
        "pgd on a linear model vs the closed-form optimal attack",
        atol=1e-5,
        hint="with 10 steps of eps/4 PGD must reach the corner of the box that minimises the "
        "true class's margin: step along +sign(grad) of the loss (ascent, not descent)",
    )
    _check_random_start(pgd, model, images, labels, eps)

    fgsm_like = pgd(model, images, labels, eps, eps, 1, False, gen)
    assert_close(
        fgsm_like,
        _by_hand_fgsm(model, images, labels, eps),
        "pgd with one step of size eps and no random start (that is FGSM)",
        hint="without random start, begin at delta = 0 and take alpha * grad.sign()",
    )
    unmoved = pgd(model, images, labels, eps, eps, 0, False, gen)
    assert_close(
        unmoved, images, "pgd with steps=0 and no random start", hint="return the clean images"
    )
    started = pgd(model, images, labels, eps, eps, 0, True, gen)
    if torch.equal(started, images) or (started - images).abs().max() > eps + 1e-6:
        raise ExerciseFailure(
            "pgd with steps=0 and random_start=True should return a random point of the eps-ball "
            "(uniform in [-eps, eps] per pixel), not the clean images"
        )

    _check_steps_follow_the_gradient(pgd)
    _check_batch_norm_mode(pgd)


def _check_random_start(
    pgd: Callable[..., Tensor], model: nn.Module, images: Tensor, labels: Tensor, eps: float
) -> None:
    """steps=0 returns the random start: reproducible per seed, uniform in the ball, in [0, 1]."""
    edges = images.clone()
    edges[:, :, 0] = 0.0  # pixels on the box's edges, where the start must be clamped
    edges[:, :, 1] = 1.0

    def start(seed: int) -> Tensor:
        return pgd(model, edges, labels, eps, eps, 0, True, torch.Generator().manual_seed(seed))

    first = start(5)
    if torch.equal(first, edges):
        raise ExerciseFailure(
            "pgd with steps=0 and random_start=True returned the clean images: start from a "
            "random point of the eps-ball (uniform in [-eps, eps] per pixel)"
        )
    if not torch.equal(first, start(5)):
        raise ExerciseFailure(
            "two calls with the same generator seed gave different random starts: draw the "
            "start from the generator argument, torch.rand(..., generator=generator)"
        )
    if torch.equal(first, start(6)):
        raise ExerciseFailure(
            "two different generator seeds gave the same random start: draw it from the "
            "generator argument, without seeding anything yourself"
        )
    if first.min() < 0 or first.max() > 1:
        raise ExerciseFailure(
            "with steps=0 the random start left the pixel range [0, 1]: clamp images + delta "
            "to [0, 1] right after drawing the start, not only after each step"
        )
    inside = (edges > eps) & (edges < 1 - eps)  # pixels the clamp cannot touch
    delta = (first - edges)[inside]
    if delta.abs().max() > eps + 1e-6:
        raise ExerciseFailure(
            f"the random start moved a pixel by {delta.abs().max():.4f} > eps={eps}: draw it "
            "uniform in [-eps, eps] per pixel, (2 * u - 1) * eps with u = torch.rand(...)"
        )
    if (delta >= 0).all() or (delta <= 0).all() or delta.abs().max() < eps / 2:
        raise ExerciseFailure(
            f"the random start spans [{delta.min():.3f}, {delta.max():.3f}]: draw it "
            "uniform in [-eps, eps] per pixel, (2 * u - 1) * eps with u = torch.rand(...)"
        )


class _Wavy(nn.Module):
    """logits = W sin(8 x): one step of 0.15 turns many pixels' gradient sign around."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(torch.sin(8 * x.flatten(1)))  # type: ignore[no-any-return]


def _check_steps_follow_the_gradient(pgd: Callable[..., Tensor]) -> None:
    """Two steps on a wavy model, by hand: the second takes the gradient at the new point."""
    torch.manual_seed(2)
    model = _Wavy().eval()
    gen = torch.Generator().manual_seed(3)
    images = 0.25 + 0.5 * torch.rand(16, 1, 4, 4, generator=gen)
    labels = torch.randint(0, 3, (16,), generator=gen)
    eps, alpha = 0.2, 0.15

    def sign_grad(x: Tensor) -> Tensor:
        x = x.clone().requires_grad_(True)
        F.cross_entropy(model(x), labels, reduction="sum").backward()
        assert x.grad is not None
        return x.grad.sign()

    first = (images + alpha * sign_grad(images)).clamp(images - eps, images + eps).clamp(0, 1)
    second = (first + alpha * sign_grad(first)).clamp(images - eps, images + eps).clamp(0, 1)
    stale = (first + alpha * sign_grad(images)).clamp(images - eps, images + eps).clamp(0, 1)
    got = pgd(model, images, labels, eps, alpha, 2, False, gen)
    what = "pgd, 2 steps without random start, on a model whose gradient sign changes fast"
    name_the_mistake(
        got,
        {
            "every step used the gradient at the clean images: take it at the current "
            "adversarial images, images + delta": stale.detach(),
        },
        what,
    )
    assert_close(
        got,
        second.detach(),
        what,
        hint="each step: delta += alpha * sign(grad of the "
        "loss at images + delta), then clamp delta to [-eps, eps] and images + delta "
        "to [0, 1]",
    )


def _check_batch_norm_mode(pgd: Callable[..., Tensor]) -> None:
    """The attack must run the model in eval mode and leave its mode as it found it."""
    torch.manual_seed(1)
    norm = nn.BatchNorm2d(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), norm, nn.ReLU(), nn.Flatten(), nn.Linear(16, 3))
    assert norm.running_mean is not None
    norm.running_mean.normal_()
    model.train()
    before = norm.running_mean.clone()
    images, labels = torch.rand(8, 1, 4, 4), torch.randint(0, 3, (8,))
    adv = pgd(model, images, labels, 0.1, 0.05, 3, True, torch.Generator().manual_seed(0))
    if not torch.equal(norm.running_mean, before):
        raise ExerciseFailure(
            "batch norm's running statistics changed during the attack: the model was in train "
            "mode. Attack in eval mode (model.eval()) and restore the previous mode afterwards"
        )
    if not model.training:
        raise ExerciseFailure("pgd left the model in eval mode: restore model.train(was_training)")
    with torch.no_grad():
        model.eval()
        clean = F.cross_entropy(model(images), labels)
        attacked = F.cross_entropy(model(adv), labels)
    if attacked < clean:
        raise ExerciseFailure(
            f"pgd lowered the loss ({clean:.4f} -> {attacked:.4f}): it must ascend the loss"
        )


def check_few_shot_prompt(few_shot_prompt: Callable[..., str]) -> None:
    """Check `few_shot_prompt(questions, scores, k, generator)`: format and sampling law.

    Oracle for the law: with k = 1 each question is drawn with probability score / sum, so
    over many draws the frequencies must match those numbers (a 5-sigma binomial band).
    """
    from dlcurriculum.ch09_adversarial_training.prompts import LIST_HEADER

    questions = ["Why is the sky blue?", "Who are you?", "What is love?", "How old is Rome?"]
    scores = [0.6, 0.3, 0.0, 0.1]
    prompt = few_shot_prompt(questions, scores, 2, torch.Generator().manual_seed(0))
    if not isinstance(prompt, str) or not prompt.startswith(LIST_HEADER):
        raise ExerciseFailure(
            f"the prompt must start with LIST_HEADER {LIST_HEADER!r}; got {prompt!r}"
        )
    lines = prompt[len(LIST_HEADER) :].split("\n")
    if len(lines) != 3 or lines[-1] != "3.":
        raise ExerciseFailure(
            "with k=2 expected lines '1. <q>', '2. <q>', then '3.' (no trailing space); "
            f"got {lines}"
        )
    picked = []
    for i, line in enumerate(lines[:2], 1):
        number, _, question = line.partition(". ")
        if number == str(i - 1):
            raise ExerciseFailure(
                f"line {i} is numbered {number}: number the examples from 1 "
                f"(enumerate(..., 1)); got {lines}"
            )
        if number != str(i) or question not in questions:
            raise ExerciseFailure(f"line {i} should be '{i}. <one of the questions>'; got {line!r}")
        picked.append(question)
    if len(set(picked)) != 2:
        raise ExerciseFailure(f"drew {picked[0]!r} twice: draw without replacement")

    _check_draws(few_shot_prompt, LIST_HEADER)
    n = 4000
    gen = torch.Generator().manual_seed(1)
    counts = {q: 0 for q in questions}
    for _ in range(n):
        first = few_shot_prompt(questions, scores, 1, gen)[len(LIST_HEADER) :].split("\n")[0]
        counts[first.partition(". ")[2]] += 1
    total = sum(scores)
    for q, s in zip(questions, scores, strict=True):
        p = s / total
        sigma = (p * (1 - p) / n) ** 0.5
        if abs(counts[q] / n - p) > 5 * sigma + 1e-9:
            raise ExerciseFailure(
                f"{q!r} was drawn {counts[q] / n:.3f} of the time, expected {p:.3f} "
                "(probability proportional to its score; a zero score is never drawn)"
            )
    few = few_shot_prompt(questions, [0.0, 0.5, 0.0, 0.0], 3, torch.Generator().manual_seed(2))
    if few == LIST_HEADER + "1. Who are you?\n4.":
        raise ExerciseFailure(
            "with one positive score and k=3 the prompt holds one example, so the open slot "
            "is '2.': number it after the examples used (n + 1), not k + 1"
        )
    if few != LIST_HEADER + "1. Who are you?\n2.":
        raise ExerciseFailure(
            "with only one positive score and k=3, use just that question: expected "
            f"{LIST_HEADER + '1. Who are you?' + chr(10) + '2.'!r}, got {few!r}"
        )


def _check_draws(few_shot_prompt: Callable[..., str], header: str) -> None:
    """A small pool over many seeds: duplicates would show; the generator decides the draw."""
    pool = ["Who?", "What?", "Why?"]

    def draw(seed: int) -> str:
        return few_shot_prompt(pool, [1.0, 1.0, 1.0], 3, torch.Generator().manual_seed(seed))

    prompts = [draw(seed) for seed in range(30)]
    for prompt in prompts:
        picked = [line.partition(". ")[2] for line in prompt[len(header) :].split("\n")[:-1]]
        twice = [q for q in pool if picked.count(q) > 1]
        if twice:
            raise ExerciseFailure(
                f"drew {twice[0]!r} twice in one prompt ({picked}): draw without replacement "
                "(torch.multinomial(..., replacement=False))"
            )
    if any(draw(seed) != prompt for seed, prompt in enumerate(prompts[:5])):
        raise ExerciseFailure(
            "two calls with the same generator seed gave different prompts: draw with the "
            "generator argument (torch.multinomial(..., generator=generator))"
        )
    if len(set(prompts)) == 1:
        raise ExerciseFailure(
            "30 generator seeds all gave the same prompt: draw at random with the generator "
            "argument, without seeding anything yourself"
        )
