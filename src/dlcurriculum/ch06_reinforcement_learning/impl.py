"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from jaxtyping import Bool, Float
from torch import Tensor

from dlcurriculum.ch06_reinforcement_learning.buffer import RolloutBuffer
from dlcurriculum.core.exercises import resolve

SLUG = "ch06_reinforcement_learning"
Steps = Float[Tensor, "num_steps num_envs"]


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What PPO calls; `load_impl` returns the reference or the learner's code."""

    RolloutBuffer: type[RolloutBuffer]
    """The learner's buffer: the same constructor and methods as the reference's."""

    def compute_gae(
        self,
        rewards: Steps,
        values: Steps,
        next_values: Steps,
        terminated: Bool[Tensor, "num_steps num_envs"],
        truncated: Bool[Tensor, "num_steps num_envs"],
        gamma: float,
        gae_lambda: float,
    ) -> Steps: ...

    def clipped_surrogate(
        self,
        logprobs: Float[Tensor, " batch"],
        old_logprobs: Float[Tensor, " batch"],
        advantages: Float[Tensor, " batch"],
        clip_coef: float,
    ) -> Float[Tensor, ""]: ...

    def value_loss(
        self,
        values: Float[Tensor, " batch"],
        old_values: Float[Tensor, " batch"],
        returns: Float[Tensor, " batch"],
        clip_coef: float | None,
    ) -> Float[Tensor, ""]: ...

    def approx_kl(
        self, logprobs: Float[Tensor, " batch"], old_logprobs: Float[Tensor, " batch"]
    ) -> Float[Tensor, ""]: ...

    def explained_variance(
        self, predictions: Float[Tensor, " batch"], targets: Float[Tensor, " batch"]
    ) -> float: ...

    def normalize_advantages(
        self, advantages: Float[Tensor, "*batch"], eps: float = 1e-8
    ) -> Float[Tensor, "*batch"]: ...

    def ppo_loss(
        self,
        pg_loss: Float[Tensor, ""],
        v_loss: Float[Tensor, ""],
        entropy: Float[Tensor, " batch"],
        ent_coef: float,
        vf_coef: float,
    ) -> Float[Tensor, ""]: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's from the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
