"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 2`."""

CHAPTER = Chapter(
    number=2,
    slug="ch02_scaling_laws",
    rank=3,
    title="Scaling laws",
    summary=(
        "How a network's loss changes as we scale its size, its data and its compute turns "
        "out to be remarkably regular: over many orders of magnitude it follows power laws. "
        "Measuring these trends lets us draw conclusions that carry over to larger models "
        "instead of ones that hold only at the scale we happened to test. The chapter's "
        "exercise reproduces this kind of study in miniature, on MNIST, by sweeping model "
        "width and dataset size and reading off the compute-efficient frontier. It also "
        "shows how sensitive measured exponents are to choices such as learning-rate tuning "
        "and regularization."
    ),
    recommended=(
        Reading(
            title="Scaling Laws for Neural Language Models",
            authors="Jared Kaplan et al.",
            year=2020,
            url="https://arxiv.org/abs/2001.08361",
            section="section 1 (summary of the main results)",
            why="The power laws in parameters, data and compute, and what they imply for "
            "the compute-optimal model size.",
        ),
    ),
    optional=(
        Reading(
            title="Scaling Laws for Autoregressive Generative Modeling",
            authors="Tom Henighan et al.",
            year=2020,
            url="https://arxiv.org/abs/2010.14701",
            section="sections 1-2",
            why="Scaling across images, video, math and multimodal data, and the idea of an "
            "irreducible loss that a power law approaches.",
        ),
        Reading(
            title="Scaling Laws for Transfer",
            authors="Danny Hernandez, Jared Kaplan, Tom Henighan, Sam McCandlish",
            year=2021,
            url="https://arxiv.org/abs/2102.01293",
            section="sections 1-2",
            why="With little fine-tuning data, pre-training on English acts like a multiplier "
            "on the amount of Python data.",
        ),
        Reading(
            title="Unified Scaling Laws for Routed Language Models",
            authors="Aidan Clark et al.",
            year=2022,
            url="https://arxiv.org/abs/2202.01169",
            section="skim",
            why="Extends scaling laws to mixture-of-experts models, where parameters and "
            "compute per token come apart.",
        ),
        Reading(
            title="Scaling Scaling Laws with Board Games",
            authors="Andy L. Jones",
            year=2021,
            url="https://arxiv.org/abs/2104.03113",
            section="skim",
            why="Scaling laws for AlphaZero on Hex, including a trade-off between training "
            "and test-time compute.",
        ),
        Reading(
            title="Training Compute-Optimal Large Language Models (Chinchilla)",
            authors="Jordan Hoffmann et al.",
            year=2022,
            url="https://arxiv.org/abs/2203.15556",
            section="sections 1-3",
            why="Revises the compute-optimal allocation (parameters and tokens should grow "
            "together) after tuning the learning-rate schedule for each token budget, a "
            "lesson in how hyperparameters bias measured exponents.",
        ),
    ),
    exercises=(
        Assignment(
            title="A scaling-law study of MNIST",
            description=(
                "Take a small MNIST CNN (for example the prerequisite's) and train it for a "
                "single epoch while varying model width by factors of sqrt(2), so that "
                "compute per forward pass doubles at each step, and the fraction of training "
                "data by factors of 2 (1, 1/2, 1/4, ...). Average over a few seeds and always "
                "evaluate on the full validation set. Scale the learning rate with model "
                "size, either by tuning it per width or with the rule of thumb that Adam's "
                "learning rate should follow the initialization scale 1/sqrt(fan_in). Plot "
                "validation loss against training compute on log axes, fit the "
                "compute-efficient frontier, look at how accuracy behaves, estimate how the "
                "compute-optimal model size grows with compute, and repeat everything with "
                "20% dropout to see how the exponents move."
            ),
            success_criteria=(
                "a grid of widths (steps of sqrt(2)) by data fractions (steps of 2), each "
                "trained for one epoch with at least two seeds, evaluated on the full "
                "validation set",
                "the learning rate is tuned per width or scaled as 1/sqrt(fan_in)",
                "training FLOPs per run are computed (and agree with a FLOP counter)",
                "a log-log plot of validation loss against compute whose frontier is fitted "
                "by a power law, with the exponent reported",
                "the exponent of compute-optimal model size against compute is estimated with "
                "an uncertainty",
                "the sweep is repeated with 20% dropout and the two sets of exponents are compared",
            ),
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="scaling",
            summary="MNIST CNN scaling study: loss-vs-compute frontier, power-law fits, "
            "compute-optimal size, with and without 20% dropout",
        ),
    ),
)
