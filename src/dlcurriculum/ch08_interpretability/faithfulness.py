"""Is an attribution faithful to the model? Deletion/insertion curves and model randomisation.

Ref: Petsiuk et al. 2018, "RISE" (deletion and insertion metrics); Adebayo et al. 2018,
"Sanity Checks for Saliency Maps" (cascading model-parameter randomisation).
"""

import copy
from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from dlcurriculum.ch08_interpretability.attribution import Attribution


@torch.no_grad()
def perturbation_curve(
    model: nn.Module,
    images: Float[Tensor, "batch channels height width"],
    targets: Tensor,
    order: Float[Tensor, "batch n_pixels"],
    mode: str,
    n_points: int = 29,
    fill: float = 0.0,
) -> Float[Tensor, " n_points"]:
    """Mean target probability as pixels are deleted (or inserted) in a given order.

    Args:
        model: images -> logits.
        images: the inputs.
        targets: class per image.
        order: per image, a score per pixel; higher-scored pixels go first.
        mode: "deletion" (start from the image, set pixels to `fill`) or "insertion" (start
            from an all-`fill` image, restore pixels).
        n_points: fractions 0, 1/(n-1), ..., 1 of the pixels at which to measure.
        fill: the value of a removed pixel (0 = MNIST background).

    Returns:
        Mean softmax probability of the target class at each fraction.
    """
    assert mode in ("deletion", "insertion"), f"unknown mode {mode!r}"
    batch, n_pixels = order.shape
    ranks = order.argsort(dim=1, descending=True)
    flat = images.flatten(1)
    probs = []
    for k in torch.linspace(0, n_pixels, n_points).round().long().tolist():
        chosen = torch.zeros(batch, n_pixels, dtype=torch.bool, device=images.device)
        chosen.scatter_(1, ranks[:, :k], True)
        keep = ~chosen if mode == "deletion" else chosen
        x = torch.where(keep, flat, torch.full_like(flat, fill)).view_as(images)
        p = model(x).softmax(-1).gather(1, targets[:, None])[:, 0]
        probs.append(p.mean())
    return torch.stack(probs)


def area_under(curve: Tensor) -> float:
    """Trapezoidal area under a curve sampled at equally spaced fractions of [0, 1]."""
    return float(torch.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def random_order(shape: tuple[int, int], seed: int) -> Tensor:
    """A random pixel ranking per image (the baseline every attribution must beat)."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def spearman(a: Float[Tensor, " n"], b: Float[Tensor, " n"]) -> float:
    """Spearman rank correlation of two vectors (ties broken by position)."""
    ra = a.argsort().argsort().double()
    rb = b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))


def cascading_randomisation(
    model: nn.Module,
    layers: Sequence[str],
    images: Tensor,
    targets: Tensor,
    methods: dict[str, Attribution],
    seed: int = 0,
) -> list[dict[str, float | str]]:
    """Re-initialise layers from the top down and measure how much each attribution changes.

    Ref: Adebayo et al. 2018, section 3.1. An attribution method that explains the model must
    change when the model's weights are destroyed; one that mostly reflects the input (an
    edge detector) does not. The change is the Spearman correlation of |attribution| with
    the trained model's, per image over its nonzero pixels (the stroke), averaged over
    images; near 1 means "did not notice". Background pixels are left out because methods
    that multiply by the input give them exactly 0 under any weights, a tie that would make
    every such method look unchanged.

    Args:
        model: the trained model (left untouched; a copy is randomised).
        layers: names of modules with `reset_parameters`, output side first.
        images, targets: the inputs explained.
        methods: name -> attribution function.
        seed: seed of the re-initialisation.

    Returns:
        One row per stage: {"randomised": names so far, method: correlation, ...}.
    """
    original = {name: fn(model, images, targets).flatten(1).abs() for name, fn in methods.items()}
    strokes = images.flatten(1) > 0  # [batch, n_pixels]

    def similarity(a: Tensor, b: Tensor) -> float:
        return sum(spearman(x[m], y[m]) for x, y, m in zip(a, b, strokes, strict=True)) / len(a)

    randomised = copy.deepcopy(model).eval()
    modules = dict(randomised.named_modules())
    rows: list[dict[str, float | str]] = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for i, layer in enumerate(layers):
            reset: Callable[[], None] = modules[layer].reset_parameters  # type: ignore[assignment]
            reset()
            row: dict[str, float | str] = {"randomised": "+".join(layers[: i + 1])}
            for name, fn in methods.items():
                attr = fn(randomised, images, targets).flatten(1).abs()
                row[name] = similarity(original[name], attr)
            rows.append(row)
    return rows
