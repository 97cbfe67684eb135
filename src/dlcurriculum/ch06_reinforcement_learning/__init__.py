"""Chapter 6, reinforcement learning: PPO from scratch on CartPole and Procgen.

The learner writes GAE, the clipped surrogate loss, the value loss, the approximate-KL and
explained-variance diagnostics, advantage normalization, the total PPO loss, and the rollout
buffer; `dlc check 6` grades them and
`dlc run ppo-cartpole --impl WORKSPACE` trains PPO with the learner's pieces end to end.
"""
