"""Chapter 1: a decoder-only transformer from scratch, sampling, and two experiments.

The learner writes the positional embedding, attention, the causal mask, LayerNorm,
multi-head attention, the residual block and the model; `dlc check 1` grades them and
`dlc run reverse --impl WORKSPACE` trains the learner's model end to end.
"""
