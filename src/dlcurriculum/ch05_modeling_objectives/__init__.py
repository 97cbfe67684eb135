"""Chapter 5: modeling objectives, made concrete as contrastive MNIST encoders.

The learner writes NT-Xent, the view augmentation and the nearest-class rule; `dlc check 5`
grades them and `dlc run contrastive --impl WORKSPACE` trains with the learner's code.
Extras (optional reading made concrete, no exercise): `dlc run vae` and `dlc run ddpm`.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise("augment", module="augment", qualname="augment", check="check_augment"),
    Exercise(
        "nt_xent_loss",
        module="losses",
        qualname="nt_xent_loss",
        check="check_nt_xent_loss",
        difficulty=2,
    ),
    Exercise(
        "nearest_class", module="evaluation", qualname="nearest_class", check="check_nearest_class"
    ),
]
