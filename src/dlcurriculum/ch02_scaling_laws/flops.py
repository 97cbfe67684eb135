"""Compute accounting: exact forward FLOPs from layer shapes, and training compute.

Convention (Kaplan et al. 2020, sec. 2.1): one multiply-add is 2 FLOPs, and only the
convolutions and linear layers are counted. Bias adds, batch norm, activations and
pooling cost O(activations), a few percent of the total for these CNNs, and
`torch.utils.flop_counter.FlopCounterMode` leaves them out as well, so it is an exact
oracle for this count (`flop_counter.measured_flops`). Training compute adds the backward
pass to the forward, for every example seen (`training_flops`).
"""

import math
from collections.abc import Sequence

import torch
from torch import nn


def layer_output_shapes(
    model: nn.Module, input_shape: Sequence[int] = (1, 28, 28)
) -> list[tuple[nn.Conv2d | nn.Linear, tuple[int, ...]]]:
    """Each Conv2d and Linear layer, in call order, with its output shape for one example.

    Runs one forward pass on zeros (eval mode, no grad) with forward hooks, so the shapes
    come from the layers themselves whatever the architecture.

    Args:
        model: any module that takes a batch of inputs of `input_shape`.
        input_shape: one example's shape, without the batch dim.

    Returns:
        (layer, output shape without the batch dim) per call; a layer called twice is
        listed twice.
    """
    calls: list[tuple[nn.Conv2d | nn.Linear, tuple[int, ...]]] = []

    def record(layer: nn.Conv2d | nn.Linear, inputs: object, output: torch.Tensor) -> None:
        calls.append((layer, tuple(output.shape[1:])))

    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    handles = [m.register_forward_hook(record) for m in layers]
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return calls


def forward_flops(model: nn.Module, input_shape: Sequence[int] = (1, 28, 28)) -> int:
    """Forward-pass FLOPs per example of the model's convolutions and linear layers.

    Ref: Kaplan et al. 2020, sec. 2.1 (forward compute is 2 FLOPs per multiply-add).

    Count multiply-adds (MACs) from each layer's shapes and return 2 x MACs:

    - `nn.Conv2d` with output [c_out, h_out, w_out]: every output value is a dot product
      over (c_in / groups) input channels x kernel_h x kernel_w positions, so
      MACs = c_out x h_out x w_out x (c_in / groups) x kernel_h x kernel_w.
      Stride and padding matter only through the output size.
    - `nn.Linear` with output [..., out_features]: every output value is a dot product of
      length in_features, so MACs = (number of output values) x in_features.

    Bias adds, batch norm, activations and pooling are not counted (see the module doc).

    Args:
        model: a network of Conv2d / Linear layers (and uncounted cheap layers).
        input_shape: one example's shape, without the batch dim (MNIST: (1, 28, 28)).

    Returns:
        FLOPs for one example's forward pass, as a Python int.
    """
    # BEGIN SOLUTION
    # HINT: layer_output_shapes(model, input_shape) lists every layer with its output shape.
    # HINT: a Conv2d's output is (c_out, h_out, w_out); layer.groups divides layer.in_channels.
    flops = 0
    for layer, out_shape in layer_output_shapes(model, input_shape):
        if isinstance(layer, nn.Conv2d):
            kernel_h, kernel_w = layer.kernel_size
            per_output = (layer.in_channels // layer.groups) * kernel_h * kernel_w
        else:
            per_output = layer.in_features
        flops += 2 * math.prod(out_shape) * per_output  # 2 FLOPs per multiply-add
    return flops
    # END SOLUTION


def training_flops(forward_per_example: int, examples: int) -> int:
    """Training compute C: the FLOPs of the forward and backward passes over every example seen.

    Ref: Kaplan et al. 2020, sec. 2.1 (C ≈ 6N per token: 2N forward, 4N backward).

    The backward pass of each conv or linear layer computes two products, each as costly as
    the layer's forward: the gradient with respect to its input (to pass back) and the one
    with respect to its weights. (The first layer's input gradient is not needed, so this
    count is a slight overestimate; the tests measure it with FlopCounterMode.)

    Args:
        forward_per_example: one example's forward FLOPs (what `forward_flops` returns).
        examples: training examples seen (steps x batch size).

    Returns:
        Training FLOPs, as a Python int.
    """
    # BEGIN SOLUTION
    # HINT: forward (1x) plus backward (input gradients and weight gradients), per example seen.
    return 3 * forward_per_example * examples
    # END SOLUTION
