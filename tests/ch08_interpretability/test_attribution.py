"""Our attribution methods against Captum's, on the prerequisite's CNN, plus completeness."""

import pytest
import torch

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch08_interpretability import attribution as attr
from tests.extras import require

captum = require("captum.attr", "dev")


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = CNN(width=4).eval()
    with torch.no_grad():  # random BN statistics, so the net is not the identity at init
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    images[images < 0.6] = 0.0  # MNIST-like: mostly black background
    targets = torch.tensor([0, 3, 7, 9, 3])
    return model, images, targets


def test_saliency_matches_captum(setup):
    model, x, y = setup
    ours = attr.saliency(model, x, y)
    theirs = captum.Saliency(model).attribute(x, target=y, abs=True)
    torch.testing.assert_close(ours, theirs)


def test_gradient_x_input_matches_captum(setup):
    model, x, y = setup
    ours = attr.gradient_x_input(model, x, y)
    theirs = captum.InputXGradient(model).attribute(x, target=y)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("n_steps", [2, 16, 64])
def test_integrated_gradients_matches_captum_to_1e4(setup, n_steps):
    model, x, y = setup
    baseline = torch.full_like(x, 0.1)
    ours = attr.integrated_gradients(model, x, y, baseline=baseline, n_steps=n_steps)
    theirs = captum.IntegratedGradients(model).attribute(
        x, baselines=baseline, target=y, n_steps=n_steps, method="riemann_middle"
    )
    assert (ours - theirs).abs().max() < 1e-4


def test_integrated_gradients_completeness_improves_with_steps(setup):
    model, x, y = setup
    coarse = attr.completeness_error(model, x, y, attr.integrated_gradients(model, x, y, n_steps=2))
    # This random CNN's logit gaps are tiny (0.01-0.1), so relative errors need many steps.
    fine = attr.completeness_error(model, x, y, attr.integrated_gradients(model, x, y, n_steps=512))
    assert fine.max() < 0.01
    assert fine.mean() < coarse.mean()


def test_occlusion_matches_captum(setup):
    model, x, y = setup
    ours = attr.occlusion(model, x, y, window=4, stride=2)
    theirs = captum.Occlusion(model).attribute(
        x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2), baselines=0.0, target=y
    )
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_batched_equals_unbatched(setup):
    model, x, y = setup
    whole = attr.integrated_gradients(model, x, y, n_steps=8)
    chunked = attr.batched(lambda m, a, b: attr.integrated_gradients(m, a, b, n_steps=8), 2)
    torch.testing.assert_close(chunked(model, x, y), whole)
