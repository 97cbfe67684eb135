"""Typical single mistakes in chapter 9's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch09_adversarial_training"
START = 'u = torch.rand(images.shape, generator=generator, device="cpu").to(images)'
PROJECT = "delta = (images + delta).clamp(0.0, 1.0) - images"
DRAW = "torch.multinomial(weights, n, replacement=False, generator=generator) if n"

MUTATIONS = [
    Mutation("pgd", START, START.replace("generator=generator, ", ""), r"generator"),
    Mutation("pgd", f"{PROJECT}\n        for", "for", r"random start.*\[0, 1\]"),
    Mutation(
        "pgd",
        START,
        START.replace("generator=generator", "generator=torch.Generator()"),
        r"different generator seeds",
    ),
    Mutation("pgd", "if random_start:", "if False:", r"returned the clean images"),
    Mutation("pgd", "delta = (2 * u - 1) * eps", "delta = 2 * u - 1", r"moved a pixel by .* > eps"),
    Mutation("pgd", "delta + alpha * grad.sign()", "delta - alpha * grad.sign()", r"ascent"),
    Mutation("pgd", ".clamp(-eps, eps)", "", r"\[-eps, eps\]"),
    Mutation("pgd", "delta = (2 * u - 1) * eps", "delta = u * eps", r"uniform in \[-eps, eps\]"),
    Mutation("pgd", "alpha * grad.sign()", "alpha * grad", r"sign"),
    Mutation("pgd", f"            {PROJECT}\n        return", "        return", r"\[0, 1\]"),
    Mutation(
        "pgd",
        "grad = input_gradient(model, images + delta, labels)",
        "grad = input_gradient(model, images, labels)",
        r"images \+ delta",
    ),
    Mutation(
        "few_shot_prompt",
        DRAW,
        DRAW.replace("replacement=False", "replacement=True"),
        r"without replacement",
    ),
    Mutation("few_shot_prompt", DRAW, DRAW.replace(", generator=generator", ""), r"generator"),
    Mutation(
        "few_shot_prompt",
        DRAW,
        DRAW.replace("multinomial(weights", "multinomial((weights > 0).double()"),
        r"proportional",
    ),
    Mutation(
        "few_shot_prompt",
        "n = min(k, int((weights > 0).sum()))",
        "n = min(k, len(questions))",
        r"positive (score|weight)",
    ),
    Mutation(
        "few_shot_prompt",
        DRAW,
        DRAW.replace("generator=generator", "generator=torch.Generator().manual_seed(0)"),
        r"all gave the same prompt",
    ),
    Mutation("few_shot_prompt", "enumerate(order, 1)", "enumerate(order)", r"from 1"),
    Mutation("few_shot_prompt", 'f"{n + 1}."', 'f"{n + 1}. "', r"trailing space"),
    Mutation("few_shot_prompt", 'f"{n + 1}."', 'f"{k + 1}."', r"open slot"),
]
