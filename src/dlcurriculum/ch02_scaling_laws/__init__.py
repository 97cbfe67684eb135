"""Chapter 2, scaling laws: a scaling-law study of MNIST CNNs, with and without dropout.

The learner writes the FLOP counter, training compute, the compute-efficient frontier and
the power-law fit; `dlc check 2` grades them against FlopCounterMode and synthetic laws of
known exponent, and `dlc run scaling --impl WORKSPACE` runs the whole study with them.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise(
        "forward_flops",
        module="flops",
        qualname="forward_flops",
        check="check_forward_flops",
        difficulty=1,
    ),
    Exercise(
        "training_flops",
        module="flops",
        qualname="training_flops",
        check="check_training_flops",
        difficulty=1,
    ),
    Exercise(
        "compute_frontier",
        module="fitting",
        qualname="compute_frontier",
        check="check_compute_frontier",
        difficulty=1,
    ),
    Exercise(
        "fit_power_law",
        module="fitting",
        qualname="fit_power_law",
        check="check_fit_power_law",
        difficulty=1,
    ),
]
