"""The chapter's exercises as one typed namespace: the reference's, or with --impl the learner's."""

from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from jaxtyping import Bool, Float
from torch import Tensor

from dlcurriculum.core.exercises import resolve

SLUG = "ch07_alignment"


@runtime_checkable  # beartype checks load_impl's return under pytest
class Impl(Protocol):
    """What the loops call; `load_impl` returns the reference or the learner's code."""

    def reward_model_loss(
        self,
        logits: Float[Tensor, "batch pos d_vocab"],
        mask: Bool[Tensor, "batch pos"],
        p_positive: Float[Tensor, " batch"],
        happy_id: int,
        sad_id: int,
    ) -> Float[Tensor, ""]: ...

    def ppo_token_loss(
        self,
        logprobs: Float[Tensor, "batch pos"],
        old_logprobs: Float[Tensor, "batch pos"],
        advantages: Float[Tensor, " batch"],
        mask: Bool[Tensor, "batch pos"],
        clip_coef: float,
    ) -> Float[Tensor, ""]: ...

    def completion_kl(
        self,
        logprobs: Float[Tensor, "batch pos d_vocab"],
        ref_logprobs: Float[Tensor, "batch pos d_vocab"],
        mask: Bool[Tensor, "batch pos"],
    ) -> Float[Tensor, " batch"]: ...

    def normalize_rewards(
        self, rewards: Float[Tensor, " batch"], mean: float, std: float
    ) -> Float[Tensor, " batch"]: ...


def load_impl(impl: str | Path = "") -> Impl:
    """The reference exercises, or the learner's in the workspace `impl`."""
    return cast(Impl, resolve(SLUG, impl))
