"""Grader checks for chapter 5: NT-Xent, the view augmentation, the nearest-class rule.

Each check compares the learner's code with an independent oracle: a straightforward
per-anchor loop, invariances (permutation, scale), limits (temperature, identity
augmentation) and planted clusters that any correct rule classifies perfectly.
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape


def nt_xent_loop(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The oracle: SimCLR eq. 1 written as a loop over the 2N anchors."""
    z = torch.cat([z1, z2]).double()
    n2 = len(z)
    total = torch.zeros((), dtype=torch.float64)
    for i in range(n2):
        j = (i + n2 // 2) % n2
        sims = [F.cosine_similarity(z[i], z[m], dim=0) / temperature for m in range(n2) if m != i]
        positive = F.cosine_similarity(z[i], z[j], dim=0) / temperature
        total += -(positive - torch.logsumexp(torch.stack(sims), 0))
    return total / n2


def check_nt_xent_loss(nt_xent_loss: Callable) -> None:
    """Matches the loop oracle; permutation- and scale-invariant; masks self-similarity."""
    # the commonest mistake first, with its own hint: identical views at a low temperature
    # give log 2 when each anchor's similarity with itself ties with its partner's
    same = F.normalize(torch.eye(4), dim=1)
    low = nt_xent_loss(same, same.clone(), 0.01)
    if low.numel() == 1 and abs(low.item() - math.log(2)) < 1e-2:
        raise ExerciseFailure(
            f"with both views equal and temperature 0.01 the loss is {low.item():.3f} = log 2: "
            "each anchor ties its partner with itself; mask each embedding's similarity with "
            "itself (set the diagonal to -inf)"
        )
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    for tau in (0.1, 0.5, 1.0):
        assert_close(
            nt_xent_loss(z1, z2, tau).double(),
            nt_xent_loop(z1, z2, tau),
            f"nt_xent_loss on 6 random pairs, temperature {tau}",
            atol=1e-4,
            hint="Normalise the rows, divide by the temperature, and average over all 2N anchors.",
        )
    out = nt_xent_loss(z1, z2, 0.5)
    assert_shape(out, (), "nt_xent_loss(...)", hint="Return the mean as a 0-d tensor.")
    perm = torch.randperm(6, generator=g)
    assert_close(
        nt_xent_loss(z1[perm], z2[perm], 0.5),
        out,
        "loss after shuffling the pairs together",
        atol=1e-5,
        hint="The order of the batch must not matter: do not pair row i with anything but i.",
    )
    assert_close(
        nt_xent_loss(3 * z1, 0.2 * z2, 0.5),
        out,
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


def check_augment(augment: Callable) -> None:
    """Identity at zero magnitude; per-image randomness; shifts move the ink; range kept."""
    g = torch.Generator().manual_seed(0)
    images = torch.zeros(4, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0
    same = augment(
        images,
        torch.Generator().manual_seed(1),
        max_rotation=0.0,
        max_shift=0.0,
        scale=(1.0, 1.0),
        max_shear=0.0,
        noise=0.0,
    )
    assert_shape(same, (4, 1, 28, 28), "augment(images [4, 1, 28, 28])")
    assert_close(
        same,
        images,
        "augment with every magnitude zero",
        atol=1e-4,
        hint="With no rotation, shift, zoom, shear or noise the images must come back unchanged "
        "(use align_corners=False consistently in affine_grid and grid_sample).",
    )
    views = augment(images, g)
    if views.min() < 0 or views.max() > 1:
        raise ExerciseFailure("augmented pixels leave [0, 1]: clamp after adding noise")
    if torch.allclose(views[0], views[1], atol=1e-3):
        raise ExerciseFailure(
            "two copies of the same image got the same view: draw the parameters per image"
        )
    a = augment(images, torch.Generator().manual_seed(5))
    b = augment(images, torch.Generator().manual_seed(5))
    assert_close(
        a,
        b,
        "two calls with equally seeded generators",
        atol=0.0,
        hint=("Draw every random number from `generator`, not the global RNG."),
    )
    shifted = augment(
        images, g, max_rotation=0.0, max_shift=4.0, scale=(1.0, 1.0), max_shear=0.0, noise=0.0
    )
    ink = shifted.sum((1, 2, 3))
    assert_close(
        ink,
        images.sum((1, 2, 3)),
        "ink after a pure shift",
        atol=1.0,
        rtol=0.05,
        hint="A shift of a centred digit must keep its ink (no zoom or clipping).",
    )
    cols = torch.arange(28.0)
    centre = (shifted.sum((1, 2)) * cols).sum(1) / ink
    if not ((centre - 13.5).abs() <= 4.5).all() or torch.allclose(centre, centre[:1]):
        raise ExerciseFailure(
            f"ink centres after shifts of up to 4 px: {centre.tolist()}; expected distinct "
            "values within 4 px of 13.5 (max_shift is in pixels, not grid units)"
        )


def check_nearest_class(nearest_class: Callable) -> None:
    """Matches a per-query loop; mean of similarities, not centroid; planted clusters → 100%."""
    g = torch.Generator().manual_seed(0)
    support, labels = torch.randn(12, 6, generator=g), torch.arange(12) % 3
    queries = torch.randn(20, 6, generator=g)
    expected = []
    for q in queries:  # the oracle: the exercise's sentence as a loop
        means = [
            torch.stack([F.cosine_similarity(q, s, dim=0) for s in support[labels == c]]).mean()
            for c in range(3)
        ]
        expected.append(int(torch.stack(means).argmax()))
    got = nearest_class(queries, support, labels, 3)
    assert_shape(got, (20,), "nearest_class(20 queries, ...)")
    if got.tolist() != expected:
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
