"""Chapter 2, scaling laws: a scaling-law study of MNIST CNNs, with and without dropout.

The learner writes the FLOP counter, training compute, the compute-efficient frontier and
the power-law fit; `dlc check 2` grades them against FlopCounterMode and synthetic laws of
known exponent, and `dlc run scaling --impl WORKSPACE` runs the whole study with them.
"""
