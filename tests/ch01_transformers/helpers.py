"""Tiny configs and models shared by chapter 1's tests."""

import dataclasses

import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer

TINY = TransformerConfig(d_vocab=23, n_ctx=12, d_model=16, n_layers=2, n_heads=4, d_mlp=32)


def tiny_model(seed: int = 0, **changes: object) -> Transformer:
    """A tiny Transformer in eval mode, with random (not zero) biases and LayerNorm gains."""
    torch.manual_seed(seed)
    model = Transformer(dataclasses.replace(TINY, **changes))
    with torch.no_grad():  # default init has zero biases: randomize so bias bugs show up
        for name, p in model.named_parameters():
            if ".b" in name or name.endswith(".w"):
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()
