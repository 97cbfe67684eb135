"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
    Exercise("pgd", module="attacks", qualname="pgd", check="check_pgd", difficulty=2),
    Exercise(
        "few_shot_prompt",
        module="prompts",
        qualname="few_shot_prompt",
        check="check_few_shot_prompt",
    ),
)
"""The code the learner writes: one function or class each, graded by `dlc check 9`."""

CHAPTER = Chapter(
    number=9,
    slug="ch09_adversarial_training",
    rank=7,
    title="Adversarial training",
    summary=(
        "Adversarial training makes a model robust by finding inputs on which it fails and "
        "training on them. In vision, tiny imperceptible perturbations can flip a "
        "classifier's answer with high confidence; for language models the analogue is "
        "searching for prompts that make a model produce harmful or unwanted text. For "
        "alignment the point is reliability in the worst case, not just on average, "
        "including failures that ordinary training data never reveals. The exercise red-teams "
        "a small chatbot with another language model and a toxicity classifier."
    ),
    recommended=(
        Reading(
            title="Intriguing properties of neural networks",
            authors="Christian Szegedy et al.",
            year=2013,
            url="https://arxiv.org/abs/1312.6199",
            section="section 4 (adversarial examples)",
            why="The discovery that imperceptible perturbations fool image classifiers, and "
            "that training on them improves robustness.",
        ),
    ),
    optional=(
        Reading(
            title="Adversarial Examples Are Not Bugs, They Are Features",
            authors="Andrew Ilyas et al.",
            year=2019,
            url="https://gradientscience.org/adv/",
            section="all",
            why="Argues that adversarial examples exploit real but non-robust features of the "
            "data.",
        ),
        Reading(
            title="A Discussion of 'Adversarial Examples Are Not Bugs, They Are Features'",
            authors="Logan Engstrom et al.",
            year=2019,
            url="https://distill.pub/2019/advex-bugs-discussion/",
            section="skim",
            why="Responses and follow-up experiments on the non-robust-features explanation.",
        ),
        Reading(
            title="Transfer of Adversarial Robustness Between Perturbation Types",
            authors="Daniel Kang, Yi Sun, Tom Brown, Dan Hendrycks, Jacob Steinhardt",
            year=2019,
            url="https://arxiv.org/abs/1905.01034",
            section="sections 1-4",
            why="How robustness to one kind of bounded perturbation (L-infinity, L2, ...) "
            "carries over to others.",
        ),
        Reading(
            title="Red Teaming Language Models with Language Models",
            authors="Ethan Perez et al.",
            year=2022,
            url="https://arxiv.org/abs/2202.03286",
            section="sections 1-3 and the chatbot prompt on the last page",
            why="The set-up the exercise reproduces: a red-team LM writes test cases and a "
            "classifier flags harmful replies.",
        ),
        Reading(
            title="Adversarial Training for High-Stakes Reliability",
            authors="Daniel M. Ziegler et al.",
            year=2022,
            url="https://arxiv.org/abs/2205.01663",
            section="sections 1-4",
            why="Adversarial training of a language-model classifier against increasingly "
            "strong human and tool-assisted adversaries.",
        ),
        Reading(
            title="High-stakes alignment via adversarial training [Redwood Research report]",
            authors="Redwood Research (Daniel Ziegler et al.)",
            year=2022,
            url="https://www.alignmentforum.org/posts/A9tJFJY7DsGTFKKkh/"
            "high-stakes-alignment-via-adversarial-training-redwood",
            section="all",
            why="The alignment motivation for that work, and where relaxed adversarial "
            "training could help with inner alignment.",
        ),
        Reading(
            title="Training robust corrigibility (pseudo-inputs)",
            authors="Paul Christiano",
            year=2017,
            url="https://ai-alignment.com/training-robust-corrigibility-ce0e0a3b9b4d#c423",
            section="the section on pseudo-inputs",
            why="Relaxed adversarial training: the adversary may describe a class of bad "
            "situations (a pseudo-input) instead of constructing a concrete one.",
        ),
    ),
    links=(
        Link(
            title="Red Teaming Language Models with Language Models",
            url="https://arxiv.org/abs/2202.03286",
            why="The set-up the exercise reproduces: section 3.1 (zero-shot), the later methods "
            "in order, and the chatbot's dialogue prompt on the last page.",
        ),
        Link(
            title="Hugging Face Transformers",
            url="https://github.com/huggingface/transformers",
            why="The library the curriculum suggests for every model of the exercise; ours loads "
            "GPT-2 through it with `--set red_model=gpt2` (extra `hf`).",
        ),
        Link(
            title="Google Colab",
            url="https://colab.research.google.com/",
            why="Free notebook GPUs, enough for the red-teaming exercise at GPT-2 scale.",
        ),
        Link(
            title="unitary/toxic-bert",
            url="https://huggingface.co/unitary/toxic-bert",
            why="The toxicity classifier the curriculum suggests; ours uses it online with "
            "`--set classifier=unitary/toxic-bert`.",
        ),
    ),
    exercises=(
        Assignment(
            title="Red-team a GPT-2 chatbot",
            description=(
                "Reproduce the red-teaming set-up of Perez et al. with HuggingFace models: a "
                "red-team language model (GPT-2 or larger), a chatbot made by prompting a "
                "language model with the dialogue prompt from the paper's last page, and an "
                "offensive-language classifier (for example unitary/toxic-bert). Use the "
                "zero-shot method (section 3.1) to generate many test questions, find those "
                "that make the chatbot reply offensively, and look for patterns among them. "
                "Optionally go on to the few-shot, supervised and RL red-teaming methods, in "
                "that order, compare their test cases, and reproduce analyses such as "
                "clustering the failures."
            ),
            success_criteria=(
                "zero-shot generation of a large set of test questions (e.g. thousands) from "
                "the red-team LM",
                "every question is answered by the prompted chatbot and every reply scored "
                "by the offensiveness classifier",
                "the fraction of offensive replies is reported, with examples of failing questions",
                "a written analysis of patterns in the failures (topics, phrasing, clusters)",
                "optional: few-shot, supervised and RL red teams raise the failure rate, "
                "and their test cases are compared for diversity",
            ),
        ),
        Assignment(
            title="Adversarial examples and adversarial training on MNIST",
            description=(
                "Our addition, for learners without the compute or network access that the "
                "language-model exercise needs: make the recommended reading concrete on the "
                "prerequisite's CNN. Attack it with gradient-based perturbations bounded in "
                "L-infinity norm (FGSM, then projected gradient descent), then train on "
                "adversarial examples and measure how robust and clean accuracy change."
            ),
            success_criteria=(
                "PGD perturbations stay inside the epsilon-ball and the valid pixel range",
                "PGD at a small epsilon (e.g. 0.1) drives a normally trained CNN's accuracy "
                "far below its clean accuracy",
                "adversarial training raises PGD robust accuracy substantially, at some cost "
                "in clean accuracy",
            ),
            kind="alternative",
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="adv-mnist",
            summary="FGSM and PGD on the MNIST CNN; standard vs PGD vs fast adversarial training",
        ),
        Experiment(
            name="redteam",
            summary="red-team a chatbot with zero-shot, few-shot, supervised and RL red LMs",
        ),
    ),
)
