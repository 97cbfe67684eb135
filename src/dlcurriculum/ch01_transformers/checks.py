"""Grader checks for chapter 1: positions, attention, the mask, LayerNorm, blocks, the model.

`dlc check 1` finds each exercise's check here by name; they live by concept in
attention_checks.py and model_checks.py, their oracles in oracles.py. Each check first
probes for the known mistakes of its exercise (the wrong answer each computes, and the hint
it prints), then compares with an independent oracle: the closed form,
`F.scaled_dot_product_attention`, `nn.MultiheadAttention`, `nn.LayerNorm`, a hand-written
float64 GPT-2 forward, HuggingFace GPT-2 (when `transformers` is installed), and the causal
invariance a decoder must have.
"""

from dlcurriculum.ch01_transformers.attention_checks import (
    check_attention,
    check_attention_pattern,
    check_causal_mask,
    check_multi_head_attention,
)
from dlcurriculum.ch01_transformers.model_checks import (
    check_layer_norm,
    check_sinusoidal_pos_embed,
    check_transformer,
    check_transformer_block,
)

__all__ = [
    "check_attention",
    "check_attention_pattern",
    "check_causal_mask",
    "check_layer_norm",
    "check_multi_head_attention",
    "check_sinusoidal_pos_embed",
    "check_transformer",
    "check_transformer_block",
]
