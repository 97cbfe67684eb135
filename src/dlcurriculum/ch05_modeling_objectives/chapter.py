"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 5`."""

CHAPTER = Chapter(
    number=5,
    slug="ch05_modeling_objectives",
    rank=9,
    title="Modeling objectives",
    summary=(
        "Language models are trained by maximum likelihood, but other objectives matter for "
        "learning representations and generating images: contrastive losses, variational "
        "autoencoders, GANs and diffusion models. This chapter is there for breadth and can "
        "be skipped by those focusing on language models. The exercise trains an MNIST "
        "encoder with a contrastive objective only and then checks how well its embeddings "
        "separate the classes using a handful of labelled examples."
    ),
    recommended=(
        Reading(
            title="Contrastive Representation Learning",
            authors="Lilian Weng",
            year=2021,
            url="https://lilianweng.github.io/posts/2021-05-31-contrastive/",
            section="the first section, 'Contrastive Training Objectives'",
            why="The family of contrastive losses (contrastive, triplet, N-pair, InfoNCE and "
            "relatives) and how positives and negatives are chosen.",
        ),
    ),
    optional=(
        Reading(
            title="CLIP: Connecting Text and Images",
            authors="Alec Radford et al. (OpenAI)",
            year=2021,
            url="https://openai.com/blog/clip/",
            section="all",
            why="A contrastive image-text model whose embeddings support zero-shot classification.",
        ),
        Reading(
            title="What are Diffusion Models?",
            authors="Lilian Weng",
            year=2021,
            url="https://lilianweng.github.io/posts/2021-07-11-diffusion-models/",
            section="the first sections",
            why="The denoising objective that powers image generators such as DALL-E 2.",
        ),
        Reading(
            title="DALL·E 2",
            authors="OpenAI",
            year=2022,
            url="https://openai.com/dall-e-2/",
            section="the page and its example images",
            why="A text-to-image system built on diffusion, to see what that objective does at "
            "scale.",
        ),
        Reading(
            title="Tutorial on Variational Autoencoders",
            authors="Carl Doersch",
            year=2016,
            url="https://arxiv.org/abs/1606.05908",
            section="sections 1-2",
            why="Latent-variable models with an encoder and a decoder trained through the "
            "evidence lower bound.",
        ),
        Reading(
            title="From Autoencoder to Beta-VAE",
            authors="Lilian Weng",
            year=2018,
            url="https://lilianweng.github.io/posts/2018-08-12-vae/",
            section="skim",
            why="A tour of VAE variants, including the discrete VQ-VAE.",
        ),
        Reading(
            title="NIPS 2016 Tutorial: Generative Adversarial Networks",
            authors="Ian Goodfellow",
            year=2016,
            url="https://arxiv.org/abs/1701.00160",
            section="sections 1-3",
            why="The adversarial generator-discriminator objective, an older route to image "
            "generation.",
        ),
        Reading(
            title="Generative Adversarial Networks (NIPS 2016 tutorial, video)",
            authors="Ian Goodfellow",
            year=2016,
            url="https://www.youtube.com/watch?v=AJVyzd0rqdc",
            section="as a companion to the written tutorial",
            why="The same tutorial given as a talk, for those who prefer to watch.",
        ),
    ),
    exercises=(
        Assignment(
            title="A contrastive CNN on MNIST",
            description=(
                "Train a CNN encoder on MNIST with a contrastive objective of your choice "
                "(for example InfoNCE over augmented views, or pairs of same-class images). "
                "Set aside a few labelled examples of each class from the training set. "
                "After training, classify each test image by comparing its embedding with "
                "the held-out examples and choosing the class whose examples are most "
                "similar on average, and report the resulting accuracy."
            ),
            success_criteria=(
                "the encoder is trained only with a contrastive loss (no classification "
                "head and no cross-entropy on labels)",
                "a few held-out examples per class (e.g. 5-10) are excluded from training",
                "test images are classified by highest average similarity to each class's "
                "held-out examples",
                "the resulting test accuracy is reported and is far above the 10% chance "
                "level (expect above 90%)",
            ),
        ),
    ),
    time="3-5 days",
    experiments=(
        Experiment(
            name="contrastive",
            summary="SimCLR, SupCon and triplet MNIST encoders judged by few-shot similarity",
        ),
        Experiment(
            name="vae",
            summary="extra: a VAE on MNIST (ELBO terms, prior samples judged by a small CNN)",
        ),
        Experiment(
            name="ddpm",
            summary="extra: a minimal DDPM on MNIST (forward noising, ancestral sampling, judged)",
        ),
    ),
)
