"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 8`."""

CHAPTER = Chapter(
    number=8,
    slug="ch08_interpretability",
    rank=6,
    title="Interpretability",
    summary=(
        "Mechanistic interpretability tries to reverse-engineer a trained network's weights "
        "into algorithms a human can understand: features represented by neurons or "
        "directions, and circuits that connect them. If it succeeds at scale it could let us "
        "check what a model is doing instead of trusting its behaviour, which is why it "
        "matters for alignment. The readings move from vision models (features, attribution, "
        "circuits) to transformers (the residual stream, attention heads, induction heads). "
        "The exercise asks you to explain a real mechanism in a small model, with an MNIST "
        "CNN or induction heads in a small attention-only transformer as alternatives."
    ),
    recommended=(
        Reading(
            title="Zoom In: An Introduction to Circuits",
            authors="Chris Olah, Nick Cammarata, Ludwig Schubert, Gabriel Goh, Michael Petrov, "
            "Shan Carter",
            year=2020,
            url="https://distill.pub/2020/circuits/zoom-in/",
            section="all",
            why="The motivation and claims of the circuits programme (features, circuits, "
            "universality) with examples from InceptionV1.",
        ),
    ),
    optional=(
        Reading(
            title="Feature Visualization",
            authors="Chris Olah, Alexander Mordvintsev, Ludwig Schubert",
            year=2017,
            url="https://distill.pub/2017/feature-visualization/",
            section="all",
            why="Interpreting a neuron by optimizing an input to excite it, and the "
            "regularizers that make the result legible.",
        ),
        Reading(
            title="The Building Blocks of Interpretability",
            authors="Chris Olah et al.",
            year=2018,
            url="https://distill.pub/2018/building-blocks/",
            section="all",
            why="Combines feature visualization with attribution, which traces an output "
            "back to the inputs and neurons responsible for it.",
        ),
        Reading(
            title="Multimodal Neurons in Artificial Neural Networks",
            authors="Gabriel Goh et al.",
            year=2021,
            url="https://distill.pub/2021/multimodal-neurons/",
            section="skim",
            why="CLIP neurons that respond to a concept across photos, drawings and text.",
        ),
        Reading(
            title="A Mathematical Framework for Transformer Circuits",
            authors="Nelson Elhage et al.",
            year=2021,
            url="https://transformer-circuits.pub/2021/framework/index.html",
            section="all, with the accompanying exercises and videos",
            why="How to read attention-only transformers as sums of paths through the "
            "residual stream, including QK and OV circuits.",
        ),
        Reading(
            title="Transformer Circuits Exercises",
            authors="Nelson Elhage et al. (Anthropic)",
            year=2021,
            url="https://transformer-circuits.pub/2021/exercises/index.html",
            section="all",
            why="Pen-and-paper exercises that make the framework concrete.",
        ),
        Reading(
            title="In-context Learning and Induction Heads",
            authors="Catherine Olsson et al.",
            year=2022,
            url="https://transformer-circuits.pub/2022/"
            "in-context-learning-and-induction-heads/index.html",
            section="the overview and arguments 1-2",
            why="Induction heads, a two-layer copying mechanism that forms early in training "
            "and may underlie much in-context learning.",
        ),
        Reading(
            title="Softmax Linear Units",
            authors="Nelson Elhage et al.",
            year=2022,
            url="https://transformer-circuits.pub/2022/solu/index.html",
            section="skim",
            why="An activation function that makes more neurons interpretable, with many "
            "examples of language-model neurons.",
        ),
        Reading(
            title="Chris Olah's views on AGI safety",
            authors="Evan Hubinger",
            year=2019,
            url="https://www.alignmentforum.org/posts/X2i9dQQK3gETCyqh2/"
            "chris-olah-s-views-on-agi-safety",
            section="all",
            why="How interpretability could help make advanced AI safe.",
        ),
        Reading(
            title="Understanding RL Vision",
            authors="Jacob Hilton, Nick Cammarata, Shan Carter, Gabriel Goh, Chris Olah",
            year=2020,
            url="https://distill.pub/2020/understanding-rl-vision/",
            section="the feature visualization section",
            why="Why feature visualization often fails on models trained on simple data, and "
            "how attribution helps instead.",
        ),
    ),
    exercises=(
        Assignment(
            title="Explain a mechanism in a small transformer",
            description=(
                "Pick a concrete behaviour of a small language model (your chapter 1 "
                "Shakespeare model, or a small pretrained model) and explain mechanistically "
                "how the model produces it. Find the components that matter with attribution "
                "and ablations, test your hypothesis with activation patching, and write the "
                "explanation down as an algorithm that makes predictions you then check."
            ),
            success_criteria=(
                "a clearly stated behaviour with a metric measured on many inputs",
                "attribution or ablation identifies the heads and layers that matter, with numbers",
                "a causal test (ablation or activation patching) confirms the hypothesis: "
                "removing the claimed components destroys the behaviour and little else",
                "a written explanation of the mechanism as an algorithm, including what it "
                "does not explain",
            ),
        ),
        Assignment(
            title="Understand an MNIST CNN",
            description=(
                "Train a small CNN on MNIST and try as hard as you can to understand how it "
                "recognises digits. Try feature visualization, knowing it often fails on "
                "models trained on such simple data, and attribution, which is more likely "
                "to help, plus any other technique. Focusing on one small part of the network "
                "and understanding it well beats a shallow look at everything."
            ),
            success_criteria=(
                "a small CNN trained to high MNIST accuracy (at least 98%)",
                "feature visualizations of some channels, with an honest note on whether "
                "they are legible",
                "attributions (e.g. integrated gradients, which must satisfy completeness) "
                "explaining individual predictions",
                "a testable claim about one part of the network (a channel or a pathway to "
                "a logit) checked by ablation or hand-crafted inputs",
            ),
            kind="alternative",
        ),
        Assignment(
            title="Find induction heads",
            description=(
                "Train a two-layer attention-only transformer on sequences containing "
                "repeated random segments, then locate and explain the induction circuit: a "
                "previous-token head in the first layer whose output is used, via K-"
                "composition, by an induction head in the second layer that attends to the "
                "token after the previous occurrence of the current token and copies it."
            ),
            success_criteria=(
                "loss on the repeated half of the sequence falls far below the first half",
                "a previous-token head is identified in layer 0 by its attention pattern",
                "an induction head in layer 1 has a high induction score (attention to the "
                "token after the earlier occurrence)",
                "ablating either head removes most of the in-context improvement",
                "QK/OV analysis or composition scores show the two heads are connected by "
                "K-composition and that the OV circuit copies",
            ),
            kind="alternative",
        ),
    ),
    time="1-2 weeks",
    experiments=(
        Experiment(
            name="interp-mnist",
            summary="attribution (vs Captum), faithfulness, feature visualisation and a case "
            "study of the prerequisite's MNIST CNN",
        ),
        Experiment(
            name="induction-heads",
            summary="induction heads in a 2-layer attention-only Shakespeare model, with ablations",
        ),
        Experiment(
            name="induction-lm",
            summary="top induction heads of a pretrained LM (SmolLM2 offline; --set model=gpt2)",
        ),
    ),
)
