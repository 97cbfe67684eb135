"""Vector environments: Gymnasium and Procgen adapters, a numpy CartPole, and probes for tests.

Every environment here is a gymnasium-style vector env: `reset(seed) -> (obs, info)` and
`step(actions) -> (obs, rewards, terminated, truncated, info)` over `num_envs` copies,
resetting a finished copy in the same step. The observation of a finished episode is in
`info["final_obs"]` (rows flagged by `info["_final_obs"]`), so a truncated episode can be
bootstrapped from it, and finished episodes' raw returns and lengths are in
`info["episode"]["r"]`, `["l"]` (flagged by `info["_episode"]`). Each env can save and
restore its whole state, so a resumed run continues exactly.

Probe environments (after ARENA's PPO chapter) have known answers — a value of 1, a value
equal to the observation, a delayed reward, the right action — so a bug in PPO shows up in
seconds. Gymnasium and Procgen are imported lazily: they are optional extras.
"""

import contextlib
import io
import os
import pickle
from typing import Any

import numpy as np

from dlcurriculum.ch06_reinforcement_learning.agent import ActionSpec
from dlcurriculum.ch06_reinforcement_learning.cartpole import CartPoleVecEnv
from dlcurriculum.ch06_reinforcement_learning.vec_env import VecEnv
from dlcurriculum.core.errors import DlcError, install_hint

PROCGEN_GAMES = (
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball", "fruitbot",
    "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
)  # fmt: skip
PROBES = {
    "probe-constant": "one observation, reward 1, one step: V = 1",
    "probe-observation": "observation ±1, reward = observation: V(s) = s",
    "probe-delayed": "two steps, reward 1 only at the end: V(first) = gamma, V(second) = 1",
    "probe-action": "two actions, reward +1 for action 1 and -1 for action 0: always pick 1",
    "probe-obs-action": "observation ±1, reward +1 when the action matches its sign",
    "probe-timelimit": "reward 1 forever, cut after 5 steps: V = 1 / (1 - gamma) if truncation"
    " is bootstrapped",
    "probe-continuous": "observation ±0.5, reward -(action - observation)^2: Gaussian mean = obs",
}


class GymnasiumVecEnv(VecEnv):
    """Copies of one Gymnasium environment, stepped in this process (cheap envs: CartPole)."""

    def __init__(self, env_id: str, num_envs: int, render: bool = False):
        try:
            import gymnasium as gym
        except ImportError:
            raise DlcError(f"{env_id} needs Gymnasium: {install_hint('rl')}") from None
        if render:  # pygame draws off-screen; without these SDL complains on stderr
            os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        try:
            self.envs = [
                gym.make(env_id, render_mode="rgb_array" if render and i == 0 else None)
                for i in range(num_envs)
            ]
        except (gym.error.NameNotFound, gym.error.NamespaceNotFound) as e:
            raise DlcError(f"unknown environment {env_id!r} ({e}). {_KNOWN}") from None
        except gym.error.Error as e:  # e.g. a missing dependency (Box2D, MuJoCo)
            raise DlcError(f"cannot make {env_id!r}: {e}") from None
        obs_space, act_space = self.envs[0].observation_space, self.envs[0].action_space
        if not isinstance(obs_space, gym.spaces.Box):
            raise DlcError(
                f"{env_id}: observations of type {obs_space} are not supported (Box only)"
            )
        if isinstance(act_space, gym.spaces.Discrete):
            self.action = ActionSpec(True, int(act_space.n))
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            low, high = act_space.low.tolist(), act_space.high.tolist()
            self.action = ActionSpec(False, act_space.shape[0], tuple(low), tuple(high))
        else:
            raise DlcError(
                f"{env_id}: action space {act_space} is not supported: "
                "PPO here handles Discrete (categorical policy) and 1-d Box (Gaussian policy)"
            )
        self.num_envs, self.obs_shape = num_envs, tuple(obs_space.shape)
        # float64 observations (some envs) would make the network run in float64
        self.obs_dtype = np.dtype(np.float32) if obs_space.dtype == np.float64 else obs_space.dtype
        self._start_tracking()

    def reset(self, seed: int) -> tuple[np.ndarray, dict]:
        obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(self.envs)])
        self._start_tracking()
        return obs.astype(self.obs_dtype), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if not self.action.discrete:
            actions = np.clip(actions, self.action.low, self.action.high)
        n = self.num_envs
        obs = np.empty((n, *self.obs_shape), self.obs_dtype)
        final_obs = np.zeros_like(obs)
        rewards = np.empty(n, np.float32)
        terminated, truncated = np.zeros(n, bool), np.zeros(n, bool)
        for i, (env, a) in enumerate(zip(self.envs, actions.tolist(), strict=True)):
            o, rewards[i], terminated[i], truncated[i], _ = env.step(a)
            if terminated[i] or truncated[i]:
                final_obs[i] = o
                o, _ = env.reset()
            obs[i] = o
        info = self._info(rewards, terminated | truncated, final_obs)
        return obs, rewards, terminated, truncated, info

    def get_state(self) -> bytes:
        return pickle.dumps((self.envs, self._ep_return, self._ep_length))

    def set_state(self, state: bytes) -> None:
        self.envs, self._ep_return, self._ep_length = pickle.loads(state)

    def render(self) -> np.ndarray | None:
        frame = self.envs[0].render()
        return np.asarray(frame) if frame is not None else None

    def close(self) -> None:
        for env in self.envs:
            env.close()


class ProcgenVecEnv(VecEnv):
    """Procgen's gym3 vector env as a gymnasium-style one: (num_envs, 64, 64, 3) uint8 frames.

    Ref: Cobbe et al. 2020, "Leveraging Procedural Generation to Benchmark Reinforcement
    Learning". Procgen resets finished episodes itself and does not report the final frame;
    its time-outs count as terminations, as in the paper's baselines.
    """

    def __init__(
        self, game: str, num_envs: int, distribution_mode: str, num_levels: int, start_level: int
    ):
        try:  # procgen imports gym 0.26, which prints a notice on stderr: keep the terminal clean
            with contextlib.redirect_stderr(io.StringIO()):
                from procgen import ProcgenGym3Env
        except ImportError:
            raise DlcError(
                f"{game} is a Procgen game: {install_hint('procgen')} "
                "(the procgen-mirror build; it needs numpy < 2)"
            ) from None
        self._make = ProcgenGym3Env
        self._options = {
            "num": num_envs,
            "env_name": game,
            "distribution_mode": distribution_mode,
            "num_levels": num_levels,
            "start_level": start_level,
        }
        self.num_envs, self.obs_shape, self.obs_dtype = num_envs, (64, 64, 3), np.dtype(np.uint8)
        self.action = ActionSpec(True, 15)
        self.env: Any = None
        self._obs = np.zeros((num_envs, 64, 64, 3), np.uint8)

    def reset(self, seed: int) -> tuple[np.ndarray, dict]:
        self.close()
        self.env = self._make(**self._options, rand_seed=seed)
        self._obs = self.env.observe()[1]["rgb"].copy()
        self._start_tracking()
        return self._obs.copy(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        self.env.act(actions.astype(np.int32))
        rewards, ob, first = self.env.observe()
        self._obs = ob["rgb"].copy()
        terminated = np.asarray(first, bool).copy()
        truncated = np.zeros_like(terminated)
        info = self._info(rewards.astype(np.float32), terminated, np.zeros_like(self._obs))
        info["_final_obs"][:] = False  # procgen does not report it
        return self._obs.copy(), rewards.astype(np.float32), terminated, truncated, info

    def get_state(self) -> bytes:
        states = self.env.callmethod("get_state")
        return pickle.dumps((states, self._obs, self._ep_return, self._ep_length))

    def set_state(self, state: bytes) -> None:
        states, self._obs, self._ep_return, self._ep_length = pickle.loads(state)
        self.env.callmethod("set_state", states)

    def render(self) -> np.ndarray | None:
        return np.kron(self._obs[0], np.ones((4, 4, 1), np.uint8))  # 256x256, nearest neighbour

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


class ProbeVecEnv(VecEnv):
    """Tiny environments with known answers, vectorized in numpy (see PROBES).

    Ref: ARENA 3.0, chapter 2.3 (PPO), "probe environments"; Andy Jones, "Debugging RL,
    Without the Agonizing Pain" (2021).
    """

    def __init__(self, kind: str, num_envs: int):
        if kind not in PROBES:
            raise DlcError(f"unknown probe {kind!r}: choose one of {', '.join(PROBES)}")
        self.kind, self.num_envs = kind, num_envs
        self.obs_shape, self.obs_dtype = (1,), np.dtype(np.float32)
        if kind == "probe-continuous":
            self.action = ActionSpec(False, 1, (-1.0,), (1.0,))
        else:
            self.action = ActionSpec(True, 2 if kind in ("probe-action", "probe-obs-action") else 1)
        self.length = {"probe-delayed": 2, "probe-timelimit": 5}.get(kind, 1)
        self.rng = np.random.default_rng(0)
        self.t = np.zeros(num_envs, np.int64)
        self.sign = np.ones(num_envs, np.float32)

    def _observe(self) -> np.ndarray:
        if self.kind in ("probe-observation", "probe-obs-action"):
            return self.sign[:, None].copy()
        if self.kind == "probe-continuous":
            return 0.5 * self.sign[:, None]
        if self.kind == "probe-delayed":
            return self.t[:, None].astype(np.float32)
        return np.zeros((self.num_envs, 1), np.float32)

    def _new_episodes(self, which: np.ndarray) -> None:
        self.t[which] = 0
        self.sign[which] = self.rng.choice([-1.0, 1.0], size=int(which.sum()))

    def reset(self, seed: int) -> tuple[np.ndarray, dict]:
        self.rng = np.random.default_rng(seed)
        self._new_episodes(np.ones(self.num_envs, bool))
        self._start_tracking()
        return self._observe(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        rewards: np.ndarray
        if self.kind == "probe-observation":
            rewards = self.sign.copy()
        elif self.kind == "probe-action":
            rewards = np.where(actions == 1, 1.0, -1.0)
        elif self.kind == "probe-obs-action":
            rewards = np.where(actions == (self.sign > 0), 1.0, -1.0)
        elif self.kind == "probe-continuous":
            rewards = -((np.clip(actions[:, 0], -1, 1) - 0.5 * self.sign) ** 2)
        elif self.kind == "probe-delayed":
            rewards = (self.t == 1).astype(np.float64)
        else:  # constant, timelimit
            rewards = np.ones(self.num_envs)
        self.t += 1
        done = self.t >= self.length
        truncated = done if self.kind == "probe-timelimit" else np.zeros_like(done)
        terminated = done & ~truncated
        final_obs = self._observe()
        self._new_episodes(done)
        info = self._info(rewards.astype(np.float32), done, final_obs)
        return self._observe(), rewards.astype(np.float32), terminated, truncated, info

    def get_state(self) -> bytes:
        return pickle.dumps((self.rng, self.t, self.sign, self._ep_return, self._ep_length))

    def set_state(self, state: bytes) -> None:
        self.rng, self.t, self.sign, self._ep_return, self._ep_length = pickle.loads(state)


_KNOWN = (
    "Use a Gymnasium id (e.g. CartPole-v1, Pendulum-v1), a Procgen game "
    f"({', '.join(PROCGEN_GAMES)}) or a probe ({', '.join(PROBES)})."
)


def make_vec_env(
    env_id: str,
    num_envs: int,
    distribution_mode: str = "easy",
    num_levels: int = 0,
    start_level: int = 0,
    render: bool = False,
) -> VecEnv:
    """The vector env for an id: a probe, a Procgen game, or any Gymnasium id (CartPole-v1:
    the numpy CartPoleVecEnv, unless it must render).

    Args:
        env_id: "probe-...", a Procgen game name such as "starpilot", or a Gymnasium id.
        num_envs: copies stepped together.
        distribution_mode: Procgen's "easy" or "hard".
        num_levels: Procgen levels to draw from (0 = unlimited).
        start_level: Procgen's first level seed.
        render: Gymnasium only: copy 0 can draw RGB frames (for GIFs).

    Raises:
        DlcError: for an unknown id (listing the kinds that exist) or a missing extra.
    """
    if env_id.startswith("probe-"):
        return ProbeVecEnv(env_id, num_envs)
    if env_id in PROCGEN_GAMES:
        return ProcgenVecEnv(env_id, num_envs, distribution_mode, num_levels, start_level)
    if "-v" not in env_id:  # every Gymnasium id carries a version; this is likely a typo
        raise DlcError(f"unknown environment {env_id!r}. {_KNOWN}")
    if env_id == "CartPole-v1" and not render:
        return CartPoleVecEnv(num_envs)
    return GymnasiumVecEnv(env_id, num_envs, render)
