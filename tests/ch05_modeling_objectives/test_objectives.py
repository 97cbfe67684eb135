"""Losses, augmentation and evaluation of chapter 5 against loop oracles and invariances."""

import math

import torch
import torch.nn.functional as F

from dlcurriculum.ch05_modeling_objectives import checks
from dlcurriculum.ch05_modeling_objectives.augment import augment
from dlcurriculum.ch05_modeling_objectives.evaluation import (
    few_shot_accuracy,
    nearest_class,
    support_split,
)
from dlcurriculum.ch05_modeling_objectives.losses import nt_xent_loss
from dlcurriculum.ch05_modeling_objectives.model import Encoder
from dlcurriculum.ch05_modeling_objectives.supervised_losses import supcon_loss, triplet_loss
from dlcurriculum.ch05_modeling_objectives.training import linear_probe


def supcon_loop(z: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    z = F.normalize(z.double(), dim=1)
    terms = []
    for i in range(len(z)):
        others = [a for a in range(len(z)) if a != i]
        denom = torch.logsumexp(torch.stack([z[i] @ z[a] / tau for a in others]), 0)
        pos = [a for a in others if labels[a] == labels[i]]
        if pos:
            terms.append(-torch.stack([z[i] @ z[p] / tau - denom for p in pos]).mean())
    return torch.stack(terms).mean()


def test_nt_xent_matches_loop_and_starts_near_log_2n_minus_1() -> None:
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    got = nt_xent_loss(z1, z2, 0.3).double()
    torch.testing.assert_close(got, checks.nt_xent_loop(z1, z2, 0.3), atol=1e-5, rtol=1e-5)
    wide = nt_xent_loss(torch.randn(256, 128), torch.randn(256, 128), 1.0).item()
    assert abs(wide - math.log(511)) < 0.1  # random embeddings carry no information


def test_supcon_matches_loop_and_equals_nt_xent_with_pair_labels() -> None:
    g = torch.Generator().manual_seed(2)
    z, labels = torch.randn(10, 4, generator=g), torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 4, 4])
    torch.testing.assert_close(supcon_loss(z, labels, 0.2).double(), supcon_loop(z, labels, 0.2))
    # with one label per pair of views SupCon is exactly SimCLR's loss (Khosla et al. 2020)
    z1, z2 = z[:5], z[5:]
    pairs = torch.cat([torch.arange(5), torch.arange(5)])
    torch.testing.assert_close(
        supcon_loss(torch.cat([z1, z2]), pairs, 0.2), nt_xent_loss(z1, z2, 0.2)
    )


def test_triplet_loss_is_zero_for_separated_classes_and_positive_otherwise() -> None:
    labels = torch.arange(8) % 4
    separated = torch.eye(4)[labels]
    assert triplet_loss(separated, labels).item() == 0.0
    mixed = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert triplet_loss(mixed, labels).item() > 0


def test_triplet_loss_matches_semi_hard_loop() -> None:
    g = torch.Generator().manual_seed(3)
    z, labels = torch.randn(9, 3, generator=g), torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 1])
    zn = F.normalize(z.double(), dim=1)
    terms = []
    for a in range(9):  # FaceNet's rule spelled out, one anchor-positive pair at a time
        for p in range(9):
            if p == a or labels[p] != labels[a]:
                continue
            d_ap = 1 - zn[a] @ zn[p]
            d_n = [1 - zn[a] @ zn[n] for n in range(9) if labels[n] != labels[a]]
            semi = [d for d in d_n if d > d_ap]
            d_neg = min(semi) if semi else max(d_n)
            terms.append(torch.relu(d_ap - d_neg + 0.3))
    expected = torch.stack(terms).mean()
    torch.testing.assert_close(triplet_loss(z, labels, 0.3).double(), expected)


def test_augment_is_seeded_and_in_range() -> None:
    images = torch.rand(6, 1, 28, 28)
    a = augment(images, torch.Generator().manual_seed(3))
    b = augment(images, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.allclose(a, images)


def test_support_split_is_disjoint_nested_and_balanced() -> None:
    labels = torch.arange(1000) % 10
    support, rest = support_split(labels, 5, torch.Generator().manual_seed(0))
    assert support.shape == (10, 5)
    assert (labels[support] == torch.arange(10)[:, None]).all()
    assert len(set(support.flatten().tolist()) & set(rest.tolist())) == 0
    assert len(rest) == 950
    small, _ = support_split(labels, 2, torch.Generator().manual_seed(0))
    assert torch.equal(small, support[:, :2])  # smaller k is a prefix of larger k


def test_few_shot_accuracy_on_planted_clusters() -> None:
    g = torch.Generator().manual_seed(0)
    centres = 8 * torch.eye(10)
    support = centres[:, None] + torch.randn(10, 5, 10, generator=g)  # [class, k, d]
    q_labels = torch.arange(300) % 10
    queries = centres[q_labels] + torch.randn(300, 10, generator=g)
    acc = few_shot_accuracy(queries, q_labels, support, (1, 5), nearest_class)
    assert acc[5] == 1.0 and acc[1] > 0.9
    s = support.flatten(0, 1)
    probe = linear_probe(s, torch.arange(10).repeat_interleave(5), queries)
    assert (probe == q_labels).float().mean() > 0.95


def test_encoder_shapes() -> None:
    enc = Encoder(width=8, proj_dim=16)
    x = torch.rand(3, 1, 28, 28)
    assert enc(x).shape == (3, 32) and enc.project(x).shape == (3, 16)


def test_checks_pass_on_reference() -> None:
    checks.check_nt_xent_loss(nt_xent_loss)
    checks.check_augment(augment)
    checks.check_nearest_class(nearest_class)


def test_checks_catch_common_mistakes() -> None:
    import pytest

    from dlcurriculum.core.checks import ExerciseFailure

    def unmasked(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        n = len(z1)
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        return F.cross_entropy(z @ z.T / temperature, target)

    with pytest.raises(ExerciseFailure, match="mask each embedding's similarity with itself"):
        checks.check_nt_xent_loss(unmasked)

    def centroid(q: torch.Tensor, s: torch.Tensor, y: torch.Tensor, n: int = 10) -> torch.Tensor:
        onehot = F.one_hot(y, n).float()
        sums = onehot.T @ F.normalize(s, dim=1)  # a sum, not a mean: favours big classes
        return (F.normalize(q, dim=1) @ sums.T).argmax(1)

    with pytest.raises(ExerciseFailure, match="average the similarities per class, do not sum"):
        checks.check_nearest_class(centroid)
