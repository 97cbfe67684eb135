"""CartPole-v1 vectorized in numpy, step for step Gymnasium's."""

import math
import pickle

import numpy as np

from dlcurriculum.ch06_reinforcement_learning.agent import ActionSpec
from dlcurriculum.ch06_reinforcement_learning.vec_env import VecEnv


class CartPoleVecEnv(VecEnv):
    """CartPole-v1 vectorized in numpy: copy i follows exactly the trajectory of
    `gym.make("CartPole-v1")` reset with seed + i, without a Python loop over the copies.

    Ref: Gymnasium's `CartPoleEnv` (Barto, Sutton and Anderson 1983): the same constants,
    Euler step, failure thresholds, 500-step time limit and reset distribution, written with
    the same floating-point operations. Each copy draws its resets from its own stream,
    seeded as Gymnasium seeds one env. At 8 copies the per-copy loop of `GymnasiumVecEnv`
    (wrappers, checks, one small array per call) costs more than PPO's policy.
    """

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = masspole + masscart
    polemass_length = masspole * length
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    max_episode_steps = 500

    def __init__(self, num_envs: int):
        self.num_envs, self.obs_shape, self.obs_dtype = num_envs, (4,), np.dtype(np.float32)
        self.action = ActionSpec(True, 2)
        self.state = np.zeros((4, num_envs))  # rows x, x_dot, theta, theta_dot; float64 as gym's
        self.steps = np.zeros(num_envs, np.int64)
        self.rngs = [np.random.default_rng(i) for i in range(num_envs)]
        self._start_tracking()

    def _new_episodes(self, which: np.ndarray) -> None:
        for i in np.flatnonzero(which):
            self.state[:, i] = self.rngs[i].uniform(-0.05, 0.05, size=(4,))
        self.steps[which] = 0

    def reset(self, seed: int) -> tuple[np.ndarray, dict]:
        self.rngs = [np.random.default_rng(seed + i) for i in range(self.num_envs)]
        self._new_episodes(np.ones(self.num_envs, bool))
        self._start_tracking()
        return self.state.T.astype(np.float32), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        x, x_dot, theta, theta_dot = self.state
        force = np.where(actions == 1, self.force_mag, -self.force_mag)
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        temp = (force + self.polemass_length * np.square(theta_dot) * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(costheta) / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        self.state = np.stack((x, x_dot, theta, theta_dot))
        terminated = (np.abs(x) > self.x_threshold) | (np.abs(theta) > self.theta_threshold_radians)
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        done = terminated | truncated
        obs = self.state.T.astype(np.float32)
        final_obs = np.zeros_like(obs)
        if done.any():
            final_obs[done] = obs[done]
            self._new_episodes(done)
            obs = self.state.T.astype(np.float32)
        rewards = np.ones(self.num_envs, np.float32)
        info = self._info(rewards, done, final_obs)
        return obs, rewards, terminated, truncated, info

    def get_state(self) -> bytes:
        return pickle.dumps((self.state, self.steps, self.rngs, self._ep_return, self._ep_length))

    def set_state(self, state: bytes) -> None:
        saved = pickle.loads(state)
        if isinstance(saved[0], list):  # a GymnasiumVecEnv's: runs saved before this class
            envs, self._ep_return, self._ep_length = saved
            self.state = np.stack([env.unwrapped.state for env in envs], axis=1)
            self.steps = np.array([env.get_wrapper_attr("_elapsed_steps") for env in envs])
            self.rngs = [env.unwrapped.np_random for env in envs]
        else:
            self.state, self.steps, self.rngs, self._ep_return, self._ep_length = saved
