"""Grader checks for chapter 5: NT-Xent, the view augmentation, the nearest-class rule.

Each check compares the learner's code with an independent oracle: a straightforward
per-anchor loop, invariances (permutation, scale), limits (temperature, identity
augmentation) and planted clusters that any correct rule classifies perfectly.
"""

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from dlcurriculum.core.checks import (
    ExerciseFailure,
    assert_close,
    assert_shape,
    name_the_mistake,
)


def nt_xent_loop(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float,
    *,
    norm: str = "rows",
    self_logit: str = "masked",
    divide: bool = True,
    anchors: int | None = None,
) -> torch.Tensor:
    """The oracle: SimCLR eq. 1 written as a loop over the 2N anchors.

    The keyword flags give the classic wrong versions, so a check can name the mistake:
    `norm` "none" or "columns" (instead of each row), `self_logit` "kept" or "zero" (the
    anchor's similarity with itself left among the candidates, or masked with 0, not -inf),
    `divide=False` (multiplied by the temperature), `anchors=N` (the first view only).
    """
    z = torch.cat([z1, z2]).double()
    if norm == "rows":
        z = z / z.norm(dim=1, keepdim=True)
    elif norm == "columns":
        z = z / z.norm(dim=0, keepdim=True)
    n2 = len(z)

    def logit(i: int, m: int) -> torch.Tensor:
        s = torch.dot(z[i], z[m])
        return s / temperature if divide else s * temperature

    total = torch.zeros((), dtype=torch.float64)
    for i in range(anchors or n2):
        candidates = [logit(i, m) for m in range(n2) if m != i]
        if self_logit == "kept":
            candidates.append(logit(i, i))
        elif self_logit == "zero":
            candidates.append(torch.zeros((), dtype=torch.float64))
        total += torch.logsumexp(torch.stack(candidates), 0) - logit(i, (i + n2 // 2) % n2)
    return total / (anchors or n2)


NT_XENT_MISTAKES: dict[str, dict[str, Any]] = {
    "each anchor's similarity with itself is among its candidates: mask each embedding's "
    "similarity with itself (the diagonal of the [2N, 2N] matrix) with -inf": {
        "self_logit": "kept"
    },
    "fill the diagonal with -inf, not 0: a logit of 0 still takes part in the softmax "
    "(exp(0) = 1)": {"self_logit": "zero"},
    "the embeddings are not normalised: cosine similarity needs each row L2-normalised first "
    "(F.normalize(z, dim=1))": {"norm": "none"},
    "you normalised the columns (dim=0): normalise each row, one embedding each, with "
    "F.normalize(z, dim=1)": {"norm": "columns"},
    "you multiplied by the temperature: divide the similarities by the temperature": {
        "divide": False
    },
    "only the first view's N rows are anchors: average the loss over all 2N anchors (both views)": {
        "anchors": 6
    },
}
"""Hint -> the oracle's flags that give that mistake's loss on 6 pairs."""


def check_nt_xent_loss(nt_xent_loss: Callable) -> None:
    """Names the known mistakes; matches the loop oracle; invariances; masks self-similarity."""
    same = F.normalize(torch.eye(4), dim=1)
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    got = nt_xent_loss(z1, z2, 0.5)
    assert_shape(got, (), "nt_xent_loss(...)", hint="Return the mean as a 0-d tensor.")
    what = "nt_xent_loss on 6 random pairs, temperature 0.5"
    if torch.isinf(got):
        raise ExerciseFailure(
            f"{what}: the loss is inf, so a target is a masked (-inf) logit: the partner of "
            "row i is row i + N, and that of row i + N is row i"
        )
    name_the_mistake(
        got,
        {hint: nt_xent_loop(z1, z2, 0.5, **flags) for hint, flags in NT_XENT_MISTAKES.items()},
        what,
        atol=1e-4,
    )
    for tau in (0.1, 0.5, 1.0):
        assert_close(
            nt_xent_loss(z1, z2, tau).double(),
            nt_xent_loop(z1, z2, tau),
            f"nt_xent_loss on 6 random pairs, temperature {tau}",
            atol=1e-4,
            hint="Normalise the rows, divide by the temperature, and average over all 2N anchors.",
        )
    perm = torch.randperm(6, generator=g)
    assert_close(
        nt_xent_loss(z1[perm], z2[perm], 0.5),
        got,
        "loss after shuffling the pairs together",
        atol=1e-5,
        hint="The order of the batch must not matter: do not pair row i with anything but i.",
    )
    assert_close(
        nt_xent_loss(3 * z1, 0.2 * z2, 0.5),
        got,
        "loss after rescaling the embeddings",
        atol=1e-5,
        hint="Use cosine similarity: L2-normalise each embedding before the dot products.",
    )
    # identical views: with self-similarity masked, the partner is the unique best match and
    # the loss falls to 0 as the temperature does; unmasked, each anchor ties with itself
    low = nt_xent_loss(same, same.clone(), 0.01)
    if not low < 1e-3:
        raise ExerciseFailure(
            f"with both views equal and temperature 0.01 the loss is {low.item():.3f}, not ~0: "
            "mask each embedding's similarity with itself (set the diagonal to -inf)"
        )
    random_level = nt_xent_loss(torch.ones(8, 3), 2 * torch.ones(8, 3), 1.0)
    if abs(random_level.item() - math.log(15)) > 1e-3:
        raise ExerciseFailure(
            f"all-equal directions give {random_level.item():.4f}, expected log(2N - 1) = "
            f"{math.log(15):.4f}: the candidates are the 2N - 1 other embeddings"
        )
    z = torch.randn(4, 3, requires_grad=True)
    nt_xent_loss(z, z.detach().flip(0), 0.5).backward()
    if z.grad is None or not torch.isfinite(z.grad).all():
        raise ExerciseFailure("the loss's gradient is missing or not finite")


def _still(**magnitudes: float | tuple[float, float]) -> dict:
    """augment's keyword arguments with every magnitude off except those given."""
    off: dict = {"max_rotation": 0.0, "max_shift": 0.0, "scale": (1.0, 1.0), "max_shear": 0.0}
    return off | {"noise": 0.0} | magnitudes


def _moments(views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ink, centre (x, y) in pixels, and orientation in degrees of each image [batch, 1, H, W]."""
    w = views[:, 0].double()
    ink = w.sum((1, 2))
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    cx, cy = (w * xs).sum((1, 2)) / ink, (w * ys).sum((1, 2)) / ink
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    mu20, mu02, mu11 = ((w * d).sum((1, 2)) / ink for d in (dx * dx, dy * dy, dx * dy))
    angle = 0.5 * torch.atan2(2 * mu11, mu20 - mu02) * 180 / math.pi
    return ink, torch.stack([cx, cy], 1), angle


def check_augment(augment: Callable) -> None:
    """Identity at zero magnitude; seeded, per-image draws; shifts in pixels, angles in degrees."""
    images = torch.zeros(4, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0
    same = augment(images, torch.Generator().manual_seed(1), **_still())
    assert_shape(same, (4, 1, 28, 28), "augment(images [4, 1, 28, 28])")
    assert_close(
        same,
        images,
        "augment with every magnitude zero",
        atol=1e-4,
        hint="With no rotation, shift, zoom, shear or noise the images must come back unchanged "
        "(use align_corners=False consistently in affine_grid and grid_sample).",
    )
    a = augment(images, torch.Generator().manual_seed(5))
    b = augment(images, torch.Generator().manual_seed(5))
    assert_close(
        a,
        b,
        "two calls with equally seeded generators",
        atol=0.0,
        hint="Draw every random number from `generator`, not the global RNG.",
    )
    g = torch.Generator().manual_seed(0)
    warped = augment(images, g, **_still(max_rotation=20.0))
    if torch.allclose(warped[0], warped[1], atol=1e-3):
        raise ExerciseFailure(
            "two copies of the same image got the same warp: draw the parameters per image "
            "(n values each), not one for the whole batch"
        )
    views = augment(images, g)
    if views.min() < 0 or views.max() > 1:
        raise ExerciseFailure("augmented pixels leave [0, 1]: clamp after adding noise")
    # 64 copies of a small centred square shifted by up to 1 px: affine_grid's [-1, 1]
    # coordinates put 14 pixels in one unit, so a learner's scale shows in the largest shift
    dot = torch.zeros(64, 1, 28, 28)
    dot[:, :, 12:16, 12:16] = 1.0
    ink, centre, _ = _moments(augment(dot, g, **_still(max_shift=1.0)))
    largest = (centre - 13.5).abs().max().item()
    if largest > 1.5 or (ink < 0.9 * 16).any():
        raise ExerciseFailure(
            f"with max_shift=1 the image moved by up to {largest:.1f} px: max_shift is in "
            "pixels, not grid units; divide it by 14 for affine_grid's [-1, 1] coordinates"
        )
    if largest < 0.7:
        raise ExerciseFailure(
            f"with max_shift=1 the largest shift of 64 images is {largest:.2f} px, about half: "
            "28 pixels span affine_grid's [-1, 1], so 14 pixels make one unit (divide by 14)"
        )
    # a horizontal bar turned by up to 10 degrees: its axis must stay within 10 degrees
    bar = torch.zeros(64, 1, 28, 28)
    bar[:, :, 13:15, 6:22] = 1.0
    _, _, angle = _moments(augment(bar, g, **_still(max_rotation=10.0)))
    turned = angle.abs().max().item()
    if not 5.0 < turned < 10.5:
        raise ExerciseFailure(
            f"with max_rotation=10 a bar turned by up to {turned:.0f} degrees: max_rotation "
            "is in degrees; convert the angle to radians (* math.pi / 180) for cos and sin"
        )
    shifted = augment(images, g, **_still(max_shift=4.0))
    ink, centre, _ = _moments(shifted)
    assert_close(
        ink,
        images.sum((1, 2, 3)).double(),
        "ink after a pure shift",
        atol=1.0,
        rtol=0.05,
        hint="A shift of a centred digit must keep its ink (no zoom or clipping).",
    )
    cx = centre[:, 0]
    if not ((cx - 13.5).abs() <= 4.5).all() or torch.allclose(cx, cx[:1]):
        raise ExerciseFailure(
            f"ink centres after shifts of up to 4 px: {cx.tolist()}; expected distinct "
            "values within 4 px of 13.5 (max_shift is in pixels, not grid units)"
        )


def _class_scores(queries: torch.Tensor, support: torch.Tensor, labels: torch.Tensor, rule: str):
    """Per query, each class's score under a rule, as a loop: "mean" (the exercise's),
    "raw" (mean of unnormalised dot products), "centroid" (cosine to the class's mean
    normalised embedding)."""
    classes = int(labels.max()) + 1
    out = []
    for q in queries.double():
        scores = []
        for c in range(classes):
            members = support[labels == c].double()
            if rule == "raw":
                scores.append(torch.stack([torch.dot(q, s) for s in members]).mean())
            elif rule == "centroid":
                centre = F.normalize(members, dim=1).mean(0)
                scores.append(F.cosine_similarity(q, centre, dim=0))
            else:
                scores.append(
                    torch.stack([F.cosine_similarity(q, s, dim=0) for s in members]).mean()
                )
        out.append(int(torch.stack(scores).argmax()))
    return out


NEAREST_CLASS_MISTAKES = {
    "the support embeddings are not normalised: cosine similarity is the dot product of "
    "L2-normalised rows (F.normalize(..., dim=1) on queries and support)": "raw",
    "that is the nearest-centroid rule (cosine to each class's mean embedding): average the "
    "cosine similarities to the class's examples instead": "centroid",
}
"""Hint -> the rule that mistake applies."""


def check_nearest_class(nearest_class: Callable) -> None:
    """Names the known mistakes; matches a per-query loop; planted clusters → 100%."""
    g = torch.Generator().manual_seed(0)
    support, labels = torch.randn(12, 6, generator=g), torch.arange(12) % 3
    queries = torch.randn(20, 6, generator=g)
    expected = _class_scores(queries, support, labels, "mean")  # the exercise's sentence
    got = nearest_class(queries, support, labels, 3)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (3,):
        raise ExerciseFailure(
            "nearest_class(20 queries, 3 classes) returned 3 values: you took the argmax over "
            "the queries; take the argmax over the class dimension (dim=1), one per query"
        )
    assert_shape(got, (20,), "nearest_class(20 queries, ...)")
    if got.tolist() != expected:
        for hint, rule in NEAREST_CLASS_MISTAKES.items():
            if got.tolist() == _class_scores(queries, support, labels, rule) != expected:
                raise ExerciseFailure(f"nearest_class on 20 random queries: {hint}")
        raise ExerciseFailure(
            f"predictions {got.tolist()} differ from the loop oracle {expected}: average the "
            "cosine similarities of each class's support examples, then take the argmax"
        )
    perm = torch.randperm(12, generator=g)
    if nearest_class(queries, 5 * support[perm], labels[perm], 3).tolist() != expected:
        raise ExerciseFailure(
            "shuffling or rescaling the support set changed the predictions: "
            "normalise embeddings and group by label"
        )
    # well-separated clusters: any correct rule gets every query right
    centres = 10 * torch.eye(8)
    cluster_labels = torch.arange(40) % 8
    points = centres[cluster_labels] + torch.randn(40, 8, generator=g)
    q_labels = torch.arange(200) % 8
    q = centres[q_labels] + torch.randn(200, 8, generator=g)
    acc = (nearest_class(q, points, cluster_labels, 8) == q_labels).float().mean().item()
    if acc < 1.0:
        raise ExerciseFailure(
            f"separable clusters classified at {acc:.1%}, not 100%: check which dimension "
            "you average over"
        )
    # unequal class sizes: a sum instead of a mean would favour the larger class
    s = torch.tensor([[1.0, 0.0]] * 1 + [[0.6, 0.8]] * 5)
    s_labels = torch.tensor([0, 1, 1, 1, 1, 1])
    pred = nearest_class(torch.tensor([[0.95, 0.31]]), s, s_labels, 2)
    if pred.tolist() != [0]:
        raise ExerciseFailure(
            "a query closest to class 0's single example was given the larger class 1: "
            "average the similarities per class, do not sum them"
        )
