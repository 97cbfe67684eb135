"""The graders reject known-wrong versions with the right hint; `--impl` runs learner code.

That each check passes on the reference and fails on the skeleton is tested for every
chapter in tests/core/test_exercises.py.
"""

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor

from dlcurriculum.ch06_reinforcement_learning import checks
from dlcurriculum.ch06_reinforcement_learning.buffer import Minibatch, RolloutBuffer
from dlcurriculum.ch06_reinforcement_learning.chapter import EXERCISES
from dlcurriculum.ch06_reinforcement_learning.config import PRESETS
from dlcurriculum.ch06_reinforcement_learning.gae import compute_gae
from dlcurriculum.ch06_reinforcement_learning.losses import approx_kl, explained_variance
from dlcurriculum.ch06_reinforcement_learning.ppo import train
from dlcurriculum.core import exercises
from dlcurriculum.core.checks import ExerciseFailure


def test_every_exercise_has_its_check() -> None:
    for ex in EXERCISES:
        assert callable(getattr(checks, ex.check)), ex.check


def _gae_truncation_as_termination(r, v, nv, term, trunc, gamma, lam):  # type: ignore[no-untyped-def]
    return compute_gae(r, v, nv, term | trunc, trunc & False, gamma, lam)


def _gae_carry_over_truncation(r, v, nv, term, trunc, gamma, lam):  # type: ignore[no-untyped-def]
    out = checks.gae_by_sums(r, v, nv, term, trunc, gamma, lam, cut_truncated=False)
    return out.float()


def _surrogate_positive(lp, old, adv, clip):  # type: ignore[no-untyped-def]
    ratio = (lp - old).exp()
    return torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()


def _surrogate_min_of_means(lp, old, adv, clip):  # type: ignore[no-untyped-def]
    ratio = (lp - old).exp()
    return -torch.minimum((ratio * adv).mean(), (ratio.clamp(1 - clip, 1 + clip) * adv).mean())


def _value_loss_full_mse(values, old, returns, clip):  # type: ignore[no-untyped-def]
    return ((values - returns) ** 2).mean()


def _kl_k1(lp: Tensor, old: Tensor) -> Tensor:
    return (old - lp).mean()


def _ev_no_nan(pred: Tensor, target: Tensor) -> float:
    var = target.var(unbiased=False)
    return 1.0 if var == 0 else explained_variance(pred, target)


class _NaiveTruncationBuffer(RolloutBuffer):
    def compute_advantages(self, last_values: Tensor, gamma: float, gae_lambda: float) -> None:
        next_values = torch.cat([self.values[1:], last_values[None]])
        self.advantages = compute_gae(
            self.rewards, self.values, next_values, self.terminated, self.truncated, gamma,
            gae_lambda,
        )  # fmt: skip
        self.returns = self.advantages + self.values


class _UnshuffledBuffer(RolloutBuffer):
    def minibatches(self, num_minibatches: int, generator: torch.Generator) -> Iterator[Minibatch]:
        n = self.num_steps * self.num_envs
        if n % num_minibatches:
            raise ValueError("does not divide")
        fields = (self.obs, self.actions, self.logprobs, self.values, self.advantages, self.returns)
        flat = [x.reshape(n, *x.shape[2:]) for x in fields]
        size = n // num_minibatches
        for start in range(0, n, size):
            yield Minibatch(*(x[start : start + size] for x in flat))


WRONG = [
    (checks.check_compute_gae, _gae_truncation_as_termination, "treat truncation as termination"),
    (checks.check_compute_gae, _gae_carry_over_truncation, "carry the advantage across"),
    (checks.check_clipped_surrogate, _surrogate_positive, "sign is flipped"),
    (checks.check_clipped_surrogate, _surrogate_min_of_means, "min of two means"),
    (checks.check_value_loss, _value_loss_full_mse, "HALF the mean squared error"),
    (checks.check_approx_kl, _kl_k1, "k1 estimator"),
    (checks.check_explained_variance, _ev_no_nan, "return float"),
    (checks.check_rollout_buffer, _NaiveTruncationBuffer, "use final_values there"),
    (checks.check_rollout_buffer, _UnshuffledBuffer, "not shuffled"),
]


@pytest.mark.parametrize(("check", "impl", "message"), WRONG, ids=[w[2] for w in WRONG])
def test_check_rejects_a_known_wrong_version(check, impl, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailure, match=message):
        check(impl)


def test_approx_kl_oracle_is_not_the_reference() -> None:
    """The exact-KL oracle alone catches a wrong factor, independently of the formula check."""
    p_old, p_new = torch.tensor([0.6, 0.4]), torch.tensor([0.55, 0.45])
    exact = float((p_old * (p_old / p_new).log()).sum())
    a = torch.multinomial(p_old, 50_000, True, generator=torch.Generator().manual_seed(0))
    assert abs(approx_kl(p_new.log()[a], p_old.log()[a]).item() - exact) < 0.1 * exact


def test_impl_workspace_runs_end_to_end(tmp_path: Path) -> None:
    """A workspace holding the skeleton stops at a stub; one holding correct code trains."""
    exercises.start("ch06_reinforcement_learning", tmp_path / "skeleton")
    cfg = dataclasses.replace(
        PRESETS["ppo-cartpole"]["smoke"], total_timesteps=1024, gif_episodes=0
    )
    with pytest.raises(NotImplementedError):
        train(dataclasses.replace(cfg, impl=str(tmp_path / "skeleton")), tmp_path / "a")
    solved = tmp_path / "solved" / "ch06_reinforcement_learning"
    solved.mkdir(parents=True)
    for module in ("gae", "losses", "buffer"):
        shutil.copy(
            exercises.reference_path("ch06_reinforcement_learning", module), solved / f"{module}.py"
        )
    out = train(dataclasses.replace(cfg, impl=str(tmp_path / "solved")), tmp_path / "b")
    reference = train(cfg, tmp_path / "c")
    assert out["final_eval_return"] == reference["final_eval_return"]
