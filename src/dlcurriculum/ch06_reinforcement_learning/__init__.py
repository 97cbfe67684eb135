"""Chapter 6, reinforcement learning: PPO on CartPole and Procgen."""
