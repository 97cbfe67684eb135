"""Chapter 8, interpretability: attributions and a case study of the MNIST CNN, and induction
heads in a 2-layer attention-only transformer and in a real pretrained language model.

The learner writes integrated gradients, the induction (prefix-matching) score and head
ablation; `dlc check 8` grades them, and `dlc run interp-mnist --impl WORKSPACE` /
`dlc run induction-heads --impl WORKSPACE` run the experiments with the learner's code.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise(
        "integrated_gradients",
        module="attribution",
        qualname="integrated_gradients",
        check="check_integrated_gradients",
        difficulty=2,
    ),
    Exercise(
        "induction_score",
        module="induction",
        qualname="induction_score",
        check="check_induction_score",
    ),
    Exercise(
        "ablate_heads",
        module="induction",
        qualname="ablate_heads",
        check="check_ablate_heads",
        difficulty=2,
    ),
]
