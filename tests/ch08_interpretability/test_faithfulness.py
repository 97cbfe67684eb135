"""Deletion/insertion curves, Spearman correlation, cascading randomisation; feature vis."""

import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch08_interpretability import faithfulness as faith
from dlcurriculum.ch08_interpretability import feature_vis as fv
from dlcurriculum.ch08_interpretability.attribution import gradient_x_input, saliency


class _PixelSum(nn.Module):
    """Logit 0 = sum of the first 8 pixels, logit 1 = 0: p(class 0) is known in closed form."""

    def forward(self, x):
        s = x.flatten(1)[:, :8].sum(1)
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_curves_follow_the_order_and_end_points():
    images = torch.ones(1, 1, 4, 4)
    targets = torch.tensor([0])
    good = torch.arange(16.0, 0, -1)[None]  # the first 8 pixels first
    bad = torch.arange(1.0, 17)[None]  # the first 8 pixels last
    model = _PixelSum()
    deletion_good = faith.perturbation_curve(model, images, targets, good, "deletion", 5)
    deletion_bad = faith.perturbation_curve(model, images, targets, bad, "deletion", 5)
    sigmoid = torch.sigmoid
    # 0, 4, 8, 12, 16 pixels removed
    torch.testing.assert_close(deletion_good, sigmoid(torch.tensor([8.0, 4, 0, 0, 0])))
    torch.testing.assert_close(deletion_bad, sigmoid(torch.tensor([8.0, 8, 8, 4, 0])))
    insertion_good = faith.perturbation_curve(model, images, targets, good, "insertion", 5)
    torch.testing.assert_close(insertion_good, sigmoid(torch.tensor([0.0, 4, 8, 8, 8])))
    assert faith.area_under(deletion_good) < faith.area_under(deletion_bad)
    assert faith.area_under(torch.ones(7)) == pytest.approx(1.0)


def test_spearman_matches_scipy():
    a, b = torch.randn(50), torch.randn(50)
    b = a + 0.5 * b
    assert faith.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-9)


def test_randomisation_changes_saliency_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = CNN(width=4).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.rand(3, 1, 28, 28)
    targets = torch.tensor([1, 2, 3])
    methods = {"saliency": saliency, "gradient_x_input": gradient_x_input}
    rows = faith.cascading_randomisation(model, ["head", "features.4.0"], images, targets, methods)
    assert [r["randomised"] for r in rows] == ["head", "head+features.4.0"]
    assert all(-1 <= r[m] <= 1 for r in rows for m in methods)
    assert rows[-1]["saliency"] < 0.9
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    # Unchanged weights would give correlation 1: the measure can tell.
    same = faith.cascading_randomisation(model, [], images, targets, methods)
    assert same == []


def test_feature_visualisation_raises_its_objective():
    torch.manual_seed(0)
    model = CNN(width=4).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    classes = torch.arange(3)
    objective = fv.logit_objective(model, classes)
    start = 0.1 + 0.05 * torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for reg in (fv.PLAIN, fv.Regularisers()):
        image = fv.visualise(objective, 3, reg, steps=20, seed=0)
        assert image.min() >= 0 and image.max() <= 1
        assert (objective(image) > objective(start.clamp(0, 1))).all()


def test_channel_objective_is_the_mean_activation():
    torch.manual_seed(0)
    model = CNN(width=4).eval()
    x = torch.rand(2, 1, 28, 28)
    objective = fv.channel_objective(model, "features.0", torch.tensor([1, 3]))
    acts = model.features[0]((x - 0.1307) / 0.3081)
    torch.testing.assert_close(objective(x), torch.stack([acts[0, 1].mean(), acts[1, 3].mean()]))


def test_template_similarity_is_pearson():
    a, b = torch.rand(2, 1, 5, 5), torch.rand(2, 1, 5, 5)
    sim = fv.template_similarity(a, b)
    for i in range(2):
        expected = torch.corrcoef(torch.stack([a[i].flatten(), b[i].flatten()]))[0, 1]
        torch.testing.assert_close(sim[i], expected)
    torch.testing.assert_close(fv.template_similarity(a, 2 * a + 1), torch.ones(2))
