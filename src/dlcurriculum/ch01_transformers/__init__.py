"""Chapter 1: a decoder-only transformer from scratch, sampling, and two experiments.

The learner writes the positional embedding, attention, the causal mask, LayerNorm,
multi-head attention, the residual block and the model; `dlc check 1` grades them and
`dlc run reverse --impl WORKSPACE` trains the learner's model end to end.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise(
        "sinusoidal_pos_embed",
        module="model",
        qualname="sinusoidal_pos_embed",
        check="check_sinusoidal_pos_embed",
        difficulty=1,
    ),
    Exercise(
        "attention_pattern",
        module="attention",
        qualname="attention_pattern",
        check="check_attention_pattern",
        difficulty=1,
    ),
    Exercise(
        "attention",
        module="attention",
        qualname="attention",
        check="check_attention",
        difficulty=1,
        depends_on=("attention_pattern",),
    ),
    Exercise(
        "causal_mask",
        module="attention",
        qualname="causal_mask",
        check="check_causal_mask",
        difficulty=1,
    ),
    Exercise(
        "layer_norm", module="model", qualname="LayerNorm", check="check_layer_norm", difficulty=1
    ),
    Exercise(
        "multi_head_attention",
        module="attention",
        qualname="Attention",
        check="check_multi_head_attention",
        difficulty=2,
        depends_on=("attention", "causal_mask"),
    ),
    Exercise(
        "transformer_block",
        module="model",
        qualname="TransformerBlock",
        check="check_transformer_block",
        difficulty=2,
        depends_on=("layer_norm", "multi_head_attention"),
    ),
    Exercise(
        "transformer",
        module="model",
        qualname="Transformer",
        check="check_transformer",
        difficulty=2,
        depends_on=("sinusoidal_pos_embed", "transformer_block"),
    ),
]
