"""Chapter 4's run configuration (`dlc run nqm`) and its presets."""

from dataclasses import dataclass

from dlcurriculum.core.config import RunConfig, check, require

OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_LOG2_BATCH = 30
"""Batch sizes stay within 2^-30..2^30: the noise C / B then ranges over a factor of 10^18,
far past both the noise-dominated and the curvature-dominated regimes."""


@dataclass(frozen=True)
class NQMConfig(RunConfig):
    """The NQM h_i = c_i = 1/i, θ_0 ~ N(0, I), swept over batch sizes x learning rates."""

    dim: int = 1000
    """Dimension d of the quadratic."""
    target: float = 0.5
    """Target expected loss (the initial loss is about ½ Σ 1/i, 3.7 at d = 1000)."""
    min_log2_batch: int = -2
    """Smallest batch size is 2^min_log2_batch (below 1: more noise than one example)."""
    n_batches: int = 17
    """Batch sizes 2^k for k = min_log2_batch, ..., min_log2_batch + n_batches - 1."""
    n_lrs: int = 9
    """Learning rates tried per batch size and optimiser."""
    lr_ratio: float = 1.4142135623730951
    """Ratio between neighbouring learning rates of the grid."""
    slope_batches: int = 4
    """The smallest this-many batch sizes give the small-batch LR slope."""
    max_steps: int = 40_000
    """Steps after which a run counts as never reaching the target."""
    runs: int = 8
    """Simulated Adam trajectories averaged per setting during the search."""
    eval_runs: int = 32
    """Fresh Adam trajectories that measure the steps of the chosen lr and schedule."""
    schedules: bool = True
    """Tune a constant-then-exponential-decay schedule per batch size (False: constant lr)."""
    min_b_crit_ratio: float = 2.0
    """Momentum's and Adam's critical batch sizes must be at least this many times SGD's
    (Zhang et al. 2019: both extend perfect scaling). Two fits each within 30% of their
    points could differ by 1.9x from their errors alone, hence 2."""
    max_fit_error: float = 0.5
    """The S(B) fits that give B_crit must be within this relative error of every point."""
    min_schedule_gain: float = 0.1
    """A tuned schedule must need at least this fraction fewer steps than the best constant
    rate at the smallest batch (the family includes the constant rate itself, so merely not
    losing to it proves nothing)."""

    def __post_init__(self) -> None:
        check(self, "dim", ge=10)
        check(self, "target", "min_b_crit_ratio", "max_fit_error", gt=0)
        check(self, "min_log2_batch", ge=-MAX_LOG2_BATCH, le=MAX_LOG2_BATCH)
        check(self, "n_batches", ge=4)
        check(self, "n_lrs", ge=3)
        check(self, "lr_ratio", gt=1)
        check(self, "slope_batches", ge=2)
        check(self, "max_steps", "runs", "eval_runs", ge=1)
        check(self, "min_schedule_gain", ge=0, lt=1)
        largest = self.min_log2_batch + self.n_batches - 1
        require(
            largest <= MAX_LOG2_BATCH,
            f"the largest batch size 2^(min_log2_batch + n_batches - 1) = 2^{largest} is above "
            f"2^{MAX_LOG2_BATCH}: lower n_batches or min_log2_batch",
        )
        require(
            self.slope_batches <= self.n_batches,
            f"need slope_batches <= n_batches: got {self.slope_batches} > {self.n_batches}; "
            "lower slope_batches",
        )

    @property
    def batch_sizes(self) -> tuple[float, ...]:
        """The batch sizes, smallest first."""
        k0 = self.min_log2_batch
        return tuple(2.0**k for k in range(k0, k0 + self.n_batches))


_NQM = {
    # d = 50 starts near ½ Σ_{i<=50} 1/i ≈ 2.2 instead of 3.7: the target scales with it
    "smoke": NQMConfig(
        dim=50, target=0.8, min_log2_batch=-1, n_batches=4, n_lrs=7, slope_batches=3, runs=2
    ),
    "quick": NQMConfig(),
    "full": NQMConfig(dim=10_000, target=1.0, n_batches=19, runs=16, max_steps=100_000),
}

PRESETS = {"nqm": _NQM}
"""Every experiment's smoke, quick and full presets, by experiment name."""
