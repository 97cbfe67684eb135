"""Prerequisite: a CNN that reaches 99% on MNIST, and a regularization study.

The learner writes the CNN, one training step, the accuracy function and prediction in
eval mode; `dlc check 0` grades them and `dlc run mnist --impl WORKSPACE` trains the
learner's CNN end to end.
"""
