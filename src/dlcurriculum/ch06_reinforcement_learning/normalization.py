"""Running statistics, and reward scaling by the running std of the discounted return.

PPO's critic and its advantages are easier to learn when rewards have a stable scale, but
subtracting a mean from rewards would change which policy is optimal. Engstrom et al. keep
the mean and divide by the standard deviation of a running discounted return instead.
"""

import numpy as np
from jaxtyping import Bool, Float


class RunningMeanStd:
    """Mean and variance of everything seen so far, merged batch by batch.

    Ref: Chan, Golub and LeVeque 1979, the parallel variance update (as in OpenAI
    baselines' `RunningMeanStd`). Statistics are kept in float64 so that millions of
    updates do not drift.
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        # a tiny pseudo-count makes the first update well defined
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        """Fold in a batch of samples (the first axis is the batch)."""
        batch_mean, batch_var, n = x.mean(axis=0), x.var(axis=0), x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, object]:
        """Everything needed to continue identically after a resume."""
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]


class RewardNormalizer:
    """Divide rewards by the running std of each environment's discounted return.

    Ref: Engstrom et al. 2020, "Implementation Matters in Deep Policy Gradients", section 3
    (reward scaling, one of the code-level optimisations); the same as gymnasium's
    NormalizeReward and SB3's VecNormalize.

    Each environment keeps R_t = gamma * R_{t-1} + r_t (reset when its episode ends); the
    running variance of R over all environments and steps sets the scale. The mean is not
    subtracted, so the optimal policy is unchanged. Scaled rewards are clipped to
    [-clip, clip] to guard against the first, poorly estimated steps.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon
        self.returns = np.zeros(num_envs, np.float64)
        self.stats = RunningMeanStd()

    @property
    def scale(self) -> float:
        """The current divisor: the std of the discounted return."""
        return float(np.sqrt(self.stats.var + self.epsilon))

    def __call__(
        self, rewards: Float[np.ndarray, " num_envs"], dones: Bool[np.ndarray, " num_envs"]
    ) -> Float[np.ndarray, " num_envs"]:
        """Scale one vector step's rewards; `dones` marks episodes that ended at this step."""
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(self.returns)
        scaled = np.clip(rewards / self.scale, -self.clip, self.clip)
        # the return accumulated so far belongs to the finished episode: start afresh
        self.returns[dones] = 0.0
        return scaled.astype(np.float32)

    def state_dict(self) -> dict[str, object]:
        """Per-env discounted returns and the running statistics."""
        return {"returns": self.returns.copy(), "stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""
        self.returns = state["returns"]
        self.stats.load_state_dict(state["stats"])
