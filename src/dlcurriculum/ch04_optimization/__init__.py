"""Chapter 4, optimization: the noisy quadratic model and critical batch sizes.

The learner writes the exact expected-loss recursion of SGD, the Adam step and the
steps-to-target search; `dlc check 4` grades them against Monte Carlo and closed forms,
`torch.optim.Adam`, and a plain scan.
"""
