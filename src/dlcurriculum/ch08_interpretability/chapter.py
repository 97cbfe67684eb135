"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
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
    Exercise(
        "composition_score",
        module="composition",
        qualname="composition_score",
        check="check_composition_score",
    ),
    Exercise(
        "composition_scores",
        module="composition",
        qualname="composition_scores",
        check="check_composition_scores",
        difficulty=2,
        depends_on=("composition_score",),
    ),
    Exercise(
        "patch_heads",
        module="patching",
        qualname="patch_heads",
        check="check_patch_heads",
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
        "The exercise is one of two: understand how a small MNIST CNN classifies digits, or "
        "find the induction heads of a language model and the circuit behind them."
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
        Reading(
            title="Thread: Circuits",
            authors="Nick Cammarata, Shan Carter, Gabriel Goh, Chris Olah, Michael Petrov, "
            "Ludwig Schubert et al.",
            year=2020,
            url="https://distill.pub/2020/circuits/",
            section="the list of articles, to pick from after Zoom In",
            why="The series Zoom In introduces: a deep dive into the neurons and circuits of "
            "the InceptionV1 image classifier.",
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
            title="CLIP: Connecting Text and Images",
            authors="Alec Radford et al. (OpenAI)",
            year=2021,
            url="https://openai.com/blog/clip/",
            section="all",
            why="The contrastive image-text model whose neurons the previous article studies.",
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
            title="Transformer Circuits videos",
            authors="Anthropic (the Transformer Circuits team)",
            year=2021,
            url="https://transformer-circuits.pub/2021/videos/index.html",
            section="as a companion to the framework paper",
            why="Recorded walkthroughs of the framework, for those who prefer to watch.",
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
            title="Concrete Steps to Get Started in Transformer Mechanistic Interpretability",
            authors="Neel Nanda",
            year=2022,
            url="https://www.neelnanda.io/mechanistic-interpretability/getting-started",
            section="as a guide for going further",
            why="A detailed route into transformer interpretability, and the longer version of "
            "this chapter.",
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
    ),
    links=(
        Link(
            title="200 Concrete Open Problems in Mechanistic Interpretability",
            url="https://www.alignmentforum.org/posts/LbrPTJ4fmABEdEnLf/"
            "200-concrete-open-problems-in-mechanistic-interpretability",
            why="Neel Nanda's list of open problems: more projects in the spirit of the exercise.",
        ),
        Link(
            title="Understanding RL Vision: feature visualization",
            url="https://distill.pub/2020/understanding-rl-vision/#feature-visualization",
            why="Why feature visualization often fails on models trained on simple data such as "
            "MNIST.",
        ),
        Link(
            title="The Building Blocks of Interpretability: attribution",
            url="https://distill.pub/2018/building-blocks/#:~:text=How%20Are%20Concepts%20Assembled",
            why="Attribution, which traces an output back to the inputs and neurons responsible "
            "for it: the technique more likely to help on the MNIST CNN.",
        ),
    ),
    exercises=(
        Assignment(
            title="Understand an MNIST CNN",
            description=(
                "One of two exercises; the other is finding induction heads. Train a small "
                "CNN on MNIST and try as hard as you can to understand mechanistically how it "
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
        ),
        Assignment(
            title="Find induction heads",
            description=(
                "Instead of the MNIST CNN: find the induction heads of a pretrained language "
                "model (the curriculum names GPT-2; offline we use SmolLM2-135M, and GPT-2 "
                "small online), then explain the circuit they belong to. To see it whole, "
                "train a two-layer attention-only transformer until it copies repeated "
                "random segments and show the mechanism: a previous-token head in layer 0 "
                "writes which token came before each position; an induction head in layer "
                "1 reads that through its keys (K-composition), attends from the current "
                "token to the token after its earlier occurrence and copies it. Test the "
                "explanation causally with ablation and activation patching, and state it as "
                "an algorithm whose predictions you check."
            ),
            success_criteria=(
                "the pretrained model's top heads by induction (prefix-matching) score, and "
                "its loss on the repeated half of random tokens far below the first half",
                "in the two-layer model, a previous-token head in layer 0 and an induction "
                "head in layer 1, identified by their attention patterns and scores",
                "ablating either head removes most of the in-context improvement",
                "composition scores single out the (previous-token head, induction head) "
                "pair by K-composition, well above random matrices of the same shapes",
                "activation patching from a clean run into one whose first copy is corrupted: "
                "the induction heads carry the logit difference, and the previous-token "
                "head's output at the first copy restores where they attend",
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
            summary="induction heads in a 2-layer attention-only Shakespeare model: ablations, "
            "K-composition scores and activation patching of the circuit",
        ),
        Experiment(
            name="induction-lm",
            summary="top induction heads of a pretrained LM and patching them (SmolLM2 "
            "offline; --set model=gpt2 online)",
        ),
    ),
)
