"""The vector-env interface the training loop uses, and the episode bookkeeping every adapter
shares (see envs.py for the conventions)."""

import numpy as np

from dlcurriculum.ch06_reinforcement_learning.agent import ActionSpec


class VecEnv:
    """The interface the training loop uses, plus the bookkeeping every adapter shares."""

    num_envs: int
    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype
    action: ActionSpec

    def _start_tracking(self) -> None:
        self._ep_return = np.zeros(self.num_envs, np.float64)
        self._ep_length = np.zeros(self.num_envs, np.int64)

    def _info(self, rewards: np.ndarray, done: np.ndarray, final_obs: np.ndarray) -> dict:
        """Episode statistics of this step, then reset the finished envs' counters."""
        self._ep_return += rewards
        self._ep_length += 1
        info = {
            "final_obs": final_obs,
            "_final_obs": done.copy(),
            "episode": {"r": self._ep_return.copy(), "l": self._ep_length.copy()},
            "_episode": done.copy(),
        }
        self._ep_return[done], self._ep_length[done] = 0.0, 0
        return info

    def reset(self, seed: int) -> tuple[np.ndarray, dict]:
        """Reset every copy; copy i is seeded with seed + i."""
        raise NotImplementedError

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Act in every copy; finished copies are reset in the same step."""
        raise NotImplementedError

    def get_state(self) -> bytes:
        """Everything needed to continue identically (for checkpoints)."""
        raise NotImplementedError

    def set_state(self, state: bytes) -> None:
        """Restore what `get_state` returned."""
        raise NotImplementedError

    def render(self) -> np.ndarray | None:
        """An RGB frame [H, W, 3] of copy 0, or None where the env cannot draw itself."""
        return None

    def close(self) -> None:
        """Release the environments' resources."""
