"""Chapter 7, alignment: RLHF on the Shakespeare model and an ELK proposal.

The learner writes the reward-model loss with its last-position mask, the per-token PPO
loss without a value function, the per-completion KL, and the reward's normalisation by
constants fixed on the original policy; `dlc check 7` grades them and
`dlc run rlhf --impl WORKSPACE` runs the whole loop with the learner's pieces.
"""
