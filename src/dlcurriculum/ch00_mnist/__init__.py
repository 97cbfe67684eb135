"""Prerequisite: a CNN that reaches 99% on MNIST, and a regularization study.

The learner writes the CNN, one training step, the accuracy function and prediction in
eval mode; `dlc check 0` grades them and `dlc run mnist --impl WORKSPACE` trains the
learner's CNN end to end.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise("cnn", module="model", qualname="CNN", check="check_cnn", difficulty=1),
    Exercise(
        "train_step",
        module="training",
        qualname="train_step",
        check="check_train_step",
        difficulty=1,
        depends_on=("cnn",),
    ),
    Exercise("accuracy", module="training", qualname="accuracy", check="check_accuracy"),
    Exercise("predict", module="model", qualname="predict", check="check_predict"),
]
