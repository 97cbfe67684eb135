"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 4`."""

CHAPTER = Chapter(
    number=4,
    slug="ch04_optimization",
    rank=5,
    title="Optimization",
    summary=(
        "Intuition for how SGD and its variants behave pays off constantly in practice, and "
        "a few simple theoretical pictures explain a surprising amount. The central one here "
        "is the critical batch size: below it, doubling the batch halves the number of steps "
        "needed, and above it the returns diminish. The noisy quadratic model, a "
        "second-order Taylor expansion of the loss with noisy gradients, reproduces this and "
        "shows how momentum and preconditioning (as in Adam) change it. The exercise builds "
        "that model and studies learning rates and batch sizes in it."
    ),
    recommended=(
        Reading(
            title="An Empirical Model of Large-Batch Training",
            authors="Sam McCandlish, Jared Kaplan, Dario Amodei, OpenAI Dota Team",
            year=2018,
            url="https://arxiv.org/abs/1812.06162",
            section="section 2 (the theoretical picture)",
            why="Derives the critical batch size from the gradient noise scale and the "
            "steps-versus-examples trade-off.",
        ),
    ),
    optional=(
        Reading(
            title="Which Algorithmic Choices Matter at Which Batch Sizes? Insights From a "
            "Noisy Quadratic Model",
            authors="Guodong Zhang et al.",
            year=2019,
            url="https://arxiv.org/abs/1907.04164",
            section="sections 2-4",
            why="The noisy quadratic model used in the exercise, and how curvature and "
            "preconditioning move the critical batch size.",
        ),
        Reading(
            title="Adam: A Method for Stochastic Optimization",
            authors="Diederik P. Kingma, Jimmy Ba",
            year=2014,
            url="https://arxiv.org/abs/1412.6980",
            section="sections 1-3",
            why="The most widely used optimizer; worth knowing its update rule and how it "
            "adapts to the signal-to-noise ratio of each coordinate.",
        ),
        Reading(
            title="Preconditioning for SGD (a note)",
            authors="Jacob Hilton",
            year=2022,
            url="https://www.jacobh.co.uk/preconditioning_for_sgd.pdf",
            section="all",
            why="Intuition for how Adam's per-coordinate scaling adjusts for the gradient's "
            "signal-to-noise ratio, the effect the exercise measures through the learning rate.",
        ),
        Reading(
            title="Does batch size matter?",
            authors="Jane Street Tech Blog",
            year=2022,
            url="https://blog.janestreet.com/does-batch-size-matter/",
            section="all",
            why="Intuition for SGD below the critical batch size, where learning rate over "
            "batch size acts like a temperature.",
        ),
        Reading(
            title="Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability",
            authors="Jeremy M. Cohen et al.",
            year=2021,
            url="https://arxiv.org/abs/2103.00065",
            section="sections 1-3",
            why="Training pushes the Hessian's top eigenvalue to 2/lr, a dynamic that a "
            "model with a fixed Hessian such as the NQM cannot capture.",
        ),
        Reading(
            title="Neural Tangent Kernel: Convergence and Generalization in Neural Networks",
            authors="Arthur Jacot, Franck Gabriel, Clément Hongler",
            year=2018,
            url="https://arxiv.org/abs/1806.07572",
            section="sections 1-4",
            why="The infinite-width limit in which training is linear in the parameters; "
            "other parameterizations give limits that keep feature learning.",
        ),
        Reading(
            title="Towards a General Theory of Infinite-Width Limits of Neural Classifiers",
            authors="Eugene A. Golikov",
            year=2020,
            url="https://arxiv.org/abs/2003.05884",
            section="sections 1-3",
            why="How the infinite-width limit depends on the scaling of learning rates and "
            "initialization, and which limits learn features rather than stay a kernel.",
        ),
        Reading(
            title="Deep Double Descent",
            authors="Preetum Nakkiran et al.",
            year=2019,
            url="https://openai.com/blog/deep-double-descent/",
            section="all",
            why="Test error can rise and fall again as model size or training time grows, "
            "revising the classical bias-variance picture.",
        ),
        Reading(
            title="Rethinking Bias-Variance Trade-off for Generalization of Neural Networks",
            authors="Zitong Yang, Yaodong Yu, Chong You, Jacob Steinhardt, Yi Ma",
            year=2020,
            url="https://arxiv.org/abs/2002.11328",
            section="sections 1-3",
            why="Measures bias and variance separately as networks widen: variance rises then "
            "falls, a closer look at where double descent comes from.",
        ),
        Reading(
            title="The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks",
            authors="Jonathan Frankle, Michael Carbin",
            year=2018,
            url="https://arxiv.org/abs/1803.03635",
            section="sections 1-2",
            why="A counterintuitive pruning result: small subnetworks, reset to their "
            "initial weights, can train as well as the full network.",
        ),
    ),
    exercises=(
        Assignment(
            title="Noisy quadratic model experiments",
            description=(
                "Build the noisy quadratic model testbed with diagonal Hessian and diagonal "
                "gradient covariance, both with entries 1, 1/2, 1/3, ... (the paper goes to "
                "dimension 10^4; 10^3 is fine if runs are slow), and implement SGD with "
                "momentum and Adam on it. Add a way to optimize learning-rate schedules, "
                "either by dynamic programming on the expected-loss recursion or with a "
                "simpler black-box search over a small schedule family. Check that at small "
                "batch sizes the best learning rate grows linearly with batch size for SGD "
                "and like its square root for Adam, then measure how the number of steps to "
                "reach a target loss depends on batch size and how momentum and Adam change "
                "that curve."
            ),
            success_criteria=(
                "the closed-form expected loss of the NQM agrees with a Monte Carlo average "
                "of simulated runs",
                "SGD with momentum and Adam are implemented and agree with torch.optim on "
                "the same inputs",
                "a learning-rate (schedule) optimizer, by dynamic programming or black-box search",
                "at small batch sizes the fitted log-log slope of optimal learning rate "
                "against batch size is close to 1 for SGD and close to 0.5 for Adam",
                "a plot of steps-to-target-loss against batch size shows perfect scaling "
                "at small batches, diminishing returns past a critical batch size, and how "
                "momentum and Adam move that point",
            ),
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="nqm",
            summary="Noisy quadratic model: exact vs simulated dynamics, optimal LR vs batch "
            "size, steps to target and critical batch sizes",
        ),
    ),
)
