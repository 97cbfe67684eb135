"""Chapter 2's run configuration (`dlc run scaling`) and its presets."""

import math
from dataclasses import dataclass
from typing import Literal

from dlcurriculum.ch02_scaling_laws.train import POOL_SIZE
from dlcurriculum.core.config import RunConfig, check, one_of, require

MAX_WIDTHS = 20
"""Each width step about doubles a cell's FLOPs: 20 widths span a factor of 2^19 in compute."""
MIN_BOOTSTRAP = 10
"""Fewer resamples than this give no interval (`analysis._interval`)."""


@dataclass(frozen=True)
class ScalingConfig(RunConfig):
    """A grid of CNN widths x training-set fractions x seeds x dropout rates, one epoch each."""

    min_width: int = 2
    """Width of the narrowest CNN (channels of its first conv layer; the others have 2x, 4x)."""
    n_widths: int = 6
    """Widths are min_width * sqrt(2)^k rounded, k < n_widths: forward FLOPs ~double per step."""
    n_fractions: int = 6
    """Training-set fractions 1, 1/2, ..., 1/2^(n_fractions - 1) of the pool."""
    pool_size: int = POOL_SIZE
    """Training images the fractions are taken from (the first n; at most 50k)."""
    seeds: int = 2
    """Seeds per cell; the bootstrap intervals resample them."""
    dropouts: tuple[float, ...] = (0.0, 0.2)
    """Dropout rates before the head: the whole study is repeated for each."""
    batch_size: int = 64
    """Examples per Adam step."""
    lr: float = 1e-2
    """Adam's peak learning rate at base_width (cosine decay to 0 over each run)."""
    base_width: int = 8
    """The width that gets `lr`; others get lr * sqrt(base_width / width) (1/sqrt(fan_in))."""
    lr_mode: Literal["scaled", "tuned"] = "scaled"
    """scaled: the 1/sqrt(fan_in) rule; tuned: per width and dropout, the best of
    lr_factors x the scaled rate, by loss on 10k held-out training images (all data)."""
    lr_factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Multipliers of the scaled learning rate that lr_mode=tuned tries."""
    irreducible: bool = False
    """Fit L = e + a * C^-alpha (an irreducible loss e) instead of a pure power law."""
    bootstrap: int = 1000
    """Bootstrap resamples of the seeds for the 95% intervals."""
    workers: int = 0
    """Processes in the pool (0: one per available core); each uses one thread."""
    min_r2: float = 0.9
    """The bar for the frontier fit's R² (of log loss)."""
    max_exponent_ci_width: float = 0.2
    """The widest 95% bootstrap interval a judged exponent may have (the optimal-size β, and
    each dropout rate's frontier α): narrower than the 0.23 between Kaplan's β (0.73) and
    Hoffmann's (about 0.5), so the measurement could tell the two apart."""
    size_exponent_range: tuple[float, float] = (0.2, 0.9)
    """Plausible range of β in N_opt ∝ C^β. With C ∝ N D, β <= 0 (a bigger budget buys no
    bigger model) and β >= 1 (it buys less data) are nonsense. Language models give 0.46-0.73
    (Hoffmann et al. 2022, table 2; Kaplan et al. 2020, eq. 1.6); a small one-epoch CPU grid
    whose frontier ends at the grid's edges (the smallest width, all the data) is far
    cruder, hence the wide margin on both sides (our quick run measured 0.39)."""

    def __post_init__(self) -> None:
        check(self, "min_width", ge=2)  # from 2 up, every sqrt(2) step rounds to a new width
        check(self, "n_widths", ge=2, le=MAX_WIDTHS)
        check(self, "n_fractions", "seeds", "batch_size", "base_width", ge=1)
        check(self, "pool_size", ge=1, le=POOL_SIZE)
        check(self, "dropouts", ge=0, lt=1)
        check(self, "lr", "lr_factors", "max_exponent_ci_width", gt=0)
        one_of(self, "lr_mode", ("scaled", "tuned"))
        check(self, "bootstrap", ge=MIN_BOOTSTRAP)
        check(self, "workers", ge=0)
        check(self, "min_r2", "size_exponent_range", ge=0, le=1)
        # pool_size >> k is pool_size // 2^k, without computing 2^k for a huge n_fractions
        smallest = self.pool_size >> min(self.n_fractions - 1, self.pool_size.bit_length())
        require(
            smallest >= self.batch_size,
            f"the smallest fraction must hold at least one batch: pool_size // "
            f"2^(n_fractions - 1) = {self.pool_size} // 2^{self.n_fractions - 1} = {smallest} "
            f"< batch_size={self.batch_size}; lower n_fractions or batch_size",
        )
        lo_hi = self.size_exponent_range
        require(
            len(lo_hi) == 2 and lo_hi[0] < lo_hi[1],
            f"size_exponent_range must be two numbers lo < hi, got {lo_hi}",
        )

    @property
    def widths(self) -> tuple[int, ...]:
        """The CNN widths, narrowest first."""
        return tuple(round(self.min_width * math.sqrt(2) ** k) for k in range(self.n_widths))

    @property
    def train_sizes(self) -> tuple[int, ...]:
        """Training examples per fraction, largest first."""
        return tuple(self.pool_size // 2**k for k in range(self.n_fractions))


_SCALING = {
    "smoke": ScalingConfig(n_widths=2, n_fractions=2, pool_size=1024, bootstrap=50, workers=2),
    "quick": ScalingConfig(),
    "full": ScalingConfig(n_widths=9, n_fractions=7, seeds=3),
}


PRESETS = {"scaling": _SCALING}
"""Every experiment's smoke, quick and full presets, by experiment name."""
