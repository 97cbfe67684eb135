"""Chapter 4, optimization: the noisy quadratic model and critical batch sizes.

The learner writes the exact expected-loss recursion of SGD, the Adam step and the
steps-to-target search; `dlc check 4` grades them against Monte Carlo and closed forms,
`torch.optim.Adam`, and a plain scan.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise(
        "nqm_expected_loss",
        module="nqm",
        qualname="nqm_expected_loss",
        check="check_nqm_expected_loss",
        difficulty=1,
    ),
    Exercise("adam_step", module="nqm", qualname="adam_step", check="check_adam_step"),
    Exercise(
        "steps_to_target",
        module="search",
        qualname="steps_to_target",
        check="check_steps_to_target",
    ),
]
