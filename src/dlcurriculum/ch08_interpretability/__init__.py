"""Chapter 8, interpretability: attributions and a case study of the MNIST CNN, and induction
heads in a 2-layer attention-only transformer and in a real pretrained language model.

The learner writes integrated gradients, the induction (prefix-matching) score and head
ablation; `dlc check 8` grades them, and `dlc run interp-mnist --impl WORKSPACE` /
`dlc run induction-heads --impl WORKSPACE` run the experiments with the learner's code.
"""
