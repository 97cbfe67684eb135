"""FLOP counting against hand counts and torch's FlopCounterMode."""

import itertools

import pytest
from torch import nn

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch02_scaling_laws.checks import HAND_NET_MACS, _hand_net
from dlcurriculum.ch02_scaling_laws.flop_counter import measured_flops
from dlcurriculum.ch02_scaling_laws.flops import forward_flops, layer_output_shapes, training_flops
from dlcurriculum.ch02_scaling_laws.train import lr_for_width


def test_hand_count_of_a_tiny_net() -> None:
    # conv1: 2 out channels x 28x28 outputs x (1 in channel x 3x3); conv2 (stride 2): 4 x 14x14
    # x (2 x 3x3); linear: 784 x 10. Two FLOPs per multiply-add.
    assert HAND_NET_MACS == {"conv1": 14_112, "conv2": 14_112, "linear": 7_840}
    assert forward_flops(_hand_net()) == 2 * 36_064 == measured_flops(_hand_net())


@pytest.mark.parametrize("width", [2, 3, 4, 6, 8, 11, 16, 23])
def test_cnn_family_matches_flop_counter(width: int) -> None:
    model = CNN(width=width, dropout=0.2)
    assert forward_flops(model) == measured_flops(model)


def test_training_compute_is_three_forwards_less_the_first_input_gradient() -> None:
    """A real training step, counted by FlopCounterMode, is 3x forward minus exactly the one
    gradient autograd skips: the first conv's gradient w.r.t. the (constant) images."""
    model = CNN(width=4)
    forward = forward_flops(model)
    first_conv = 2 * 4 * 28 * 28 * 1 * 9
    assert measured_flops(model, backward=True) == training_flops(forward, 1) - first_conv
    assert training_flops(forward, 1000) == 3 * forward * 1000


def test_each_sqrt2_width_step_roughly_doubles_forward_compute() -> None:
    widths = [2, 3, 4, 6, 8, 11, 16, 23, 32]
    flops = [forward_flops(CNN(width=w)) for w in widths]
    ratios = [b / a for a, b in itertools.pairwise(flops)]
    assert all(1.5 < r < 2.4 for r in ratios), ratios  # exactly 2 only for the w² layers
    assert lr_for_width(32, 1e-2, 8) == pytest.approx(5e-3)


def test_counting_leaves_the_model_as_it_was() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 3))
    model.train()
    shapes = [(type(m).__name__, s) for m, s in layer_output_shapes(model)]
    assert shapes == [("Conv2d", (2, 26, 26)), ("Linear", (3,))]
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())
