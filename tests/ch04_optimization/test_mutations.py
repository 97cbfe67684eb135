"""Typical single mistakes in chapter 4's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch04_optimization"
RECURSION = "s = (1 - lr * h) ** 2 * s + lr**2 * c / batch_size"
LOSSES = """    losses = [0.5 * (h * s).sum()]
    for lr in lrs.double():
        s = (1 - lr * h) ** 2 * s + lr**2 * c / batch_size
        losses.append(0.5 * (h * s).sum())"""
CORRECTION = """    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)"""
FIRST = "first = below.to(torch.int64).argmax(-1).to(torch.float64)"

MUTATIONS = [
    # nqm_expected_loss
    Mutation("nqm_expected_loss", RECURSION, RECURSION.replace(" / batch_size", ""), r"/ B"),
    Mutation("nqm_expected_loss", "lr**2 * c", "lr * c", r"lr² c|square the learning rate"),
    Mutation("nqm_expected_loss", "(1 - lr * h) ** 2 * s", "(1 - lr * h) * s", r"\(1 - lr h\)²"),
    Mutation("nqm_expected_loss", LOSSES, LOSSES.replace("0.5 * ", ""), r"½"),
    Mutation(
        "nqm_expected_loss",
        "losses = [0.5 * (h * s).sum()]",
        "losses = []",
        r"index 0|before the first step",
    ),
    Mutation("nqm_expected_loss", LOSSES, LOSSES.replace("(h * s)", "s"), r"weight.*h_i"),
    Mutation(
        "nqm_expected_loss",
        RECURSION,
        RECURSION.replace("/ batch_size", "/ batch_size**2"),
        r"/ B",
    ),
    # adam_step
    Mutation("adam_step", CORRECTION, "    m_hat, v_hat = m, v", r"bias"),
    Mutation(
        "adam_step",
        "(v_hat.sqrt() + eps)",
        "(v_hat + eps).sqrt()",
        r"outside the (sqrt|square root)",
    ),
    Mutation("adam_step", "beta1, beta2 = betas", "beta2, beta1 = betas", r"swapped"),
    Mutation(
        "adam_step",
        CORRECTION,
        CORRECTION.replace("**step", " ** (step + 1)"),
        r"1-based|β\^step",
    ),
    Mutation("adam_step", "return theta - lr", "return theta + lr", r"sign|subtract"),
    Mutation("adam_step", "(v_hat.sqrt() + eps)", "(v_hat + eps)", r"square root"),
    Mutation("adam_step", ", m, v\n", ", m_hat, v_hat\n", r"bias-corrected"),
    Mutation(
        "adam_step",
        "m = beta1 * m + (1 - beta1) * grad",
        "m = m.mul_(beta1).add_((1 - beta1) * grad)",
        r"in place|modif",
    ),
    Mutation("adam_step", "theta - lr *", "theta - float(lr) *", r"lr may be a tensor"),
    # steps_to_target
    Mutation("steps_to_target", "below = losses <= target", "below = losses < target", r"<="),
    Mutation(
        "steps_to_target",
        "below = losses <= target",
        "below = ~(losses > target)",
        r"NaN",
    ),
    Mutation(
        "steps_to_target",
        "return torch.where(below.any(-1), first, torch.full_like(first, math.inf))",
        "return first",
        r"inf",
    ),
    Mutation("steps_to_target", FIRST, FIRST.replace("(-1)", "(0)"), r"last dim|dim -1"),
    Mutation(
        "steps_to_target",
        FIRST,
        "first = (~below).sum(-1).to(torch.float64)",
        r"go back up|first index",
    ),
]
