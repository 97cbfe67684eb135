"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 0`."""

CHAPTER = Chapter(
    number=0,
    slug="ch00_mnist",
    title="Prerequisite: MNIST with a small CNN",
    summary=(
        "Before the curriculum proper, get fluent with the basic PyTorch training loop by "
        "classifying handwritten digits. A small convolutional network (three convolutional "
        "layers and a linear head here) reaches about 99% test accuracy, and building it "
        "yourself exercises data loading, the model, the loss, the optimizer and honest "
        "evaluation. The same set-up then becomes a small laboratory for comparing simple "
        "regularization methods. Later chapters (scaling laws, training at scale, "
        "contrastive learning, interpretability, adversarial training) reuse this network "
        "family."
    ),
    recommended=(
        Reading(
            title="Deep Learning with PyTorch: A 60 Minute Blitz",
            authors="Soumith Chintala",
            year=2017,
            url="https://pytorch.org/tutorials/beginner/deep_learning_60min_blitz.html",
            section="all",
            why="The shortest route to tensors, autograd, nn.Module and a working training "
            "loop in PyTorch.",
        ),
        Reading(
            title="CS231n: Convolutional Neural Networks (course notes)",
            authors="Andrej Karpathy et al. (Stanford CS231n)",
            year=2015,
            url="https://cs231n.github.io/convolutional-networks/",
            section="the sections on convolutional and pooling layers and on architectures",
            why="Explains what a convolution computes, how output shapes follow from kernel, "
            "stride and padding, and how layers are stacked into a small classifier.",
        ),
        Reading(
            title="CS231n: Neural Networks Part 2, Setting up the Data and the Loss",
            authors="Andrej Karpathy et al. (Stanford CS231n)",
            year=2015,
            url="https://cs231n.github.io/neural-networks-2/",
            section="the regularization section",
            why="A compact catalogue of L2 weight decay, dropout and related methods to "
            "try in the regularization experiments.",
        ),
    ),
    optional=(
        Reading(
            title="Neural Networks and Deep Learning",
            authors="Michael Nielsen",
            year=2015,
            url="http://neuralnetworksanddeeplearning.com/",
            section="chapters 1-3",
            why="A theory-minded online book that derives backpropagation and has good "
            "exercises, including MNIST from scratch.",
        ),
        Reading(
            title="Neural networks (video series)",
            authors="Grant Sanderson (3Blue1Brown)",
            year=2017,
            url="https://www.3blue1brown.com/topics/neural-networks",
            section="all",
            why="Builds visual intuition for what a network and gradient descent are doing.",
        ),
        Reading(
            title="Machine Learning (Coursera)",
            authors="Andrew Ng",
            year=2011,
            url="https://www.coursera.org/learn/machine-learning",
            section="as needed",
            why="A lecture course covering the standard vocabulary of supervised learning, "
            "overfitting and regularization.",
        ),
        Reading(
            title="Practical Deep Learning for Coders",
            authors="Jeremy Howard, Sylvain Gugger",
            year=2020,
            url="https://course.fast.ai/",
            section="as needed",
            why="A hands-on course that gets you training real models quickly.",
        ),
        Reading(
            title="Full Stack Deep Learning",
            authors="Charles Frye, Sergey Karayev, Josh Tobin",
            year=2022,
            url="https://fullstackdeeplearning.com/",
            section="as needed",
            why="Lectures and labs on the whole job around a model: data, training "
            "infrastructure, testing and deployment.",
        ),
    ),
    links=(
        Link(
            title="The MNIST database of handwritten digits",
            url="http://yann.lecun.com/exdb/mnist/",
            why="The exercise's data (60,000 training and 10,000 test digits of 28x28 pixels), "
            "with a table of historical error rates to compare against.",
        ),
    ),
    exercises=(
        Assignment(
            title="A small CNN that reaches 99% on MNIST",
            description=(
                "Write the data pipeline, a small convolutional network (the curriculum "
                "suggests three layers; ours has three convolutional layers and a linear "
                "head), the training loop and the "
                "evaluation yourself in PyTorch, and train it until it classifies about 99% "
                "of the MNIST test digits correctly. Keep a validation split for decisions so "
                "that the test set is only used to report the final number."
            ),
            success_criteria=(
                "test accuracy on the 10,000 MNIST test images is at least 99.0%",
                "the network is a small CNN of a few weight layers (the reference: three "
                "convolutional and one linear) trained from scratch",
                "hyperparameters are chosen on a validation split, not on the test set",
                "training loss and validation accuracy are logged over training and the "
                "loss decreases",
            ),
        ),
        Assignment(
            title="Experiments with simple regularization",
            description=(
                "Reuse the set-up to measure what regularization buys: train a baseline and "
                "variants with dropout, weight decay, data augmentation (small shifts and "
                "rotations) and early stopping, on the full training set and on a small "
                "subset (5,000 images) where overfitting is easy to see. Use the same seeds "
                "for every variant and compare test accuracy and the train/test gap."
            ),
            success_criteria=(
                "baseline, dropout, weight decay, augmentation and early stopping are each "
                "trained on the full data and on a 5,000-image subset with the same seeds",
                "a table reports test accuracy and the train-test gap for every method and "
                "data size",
                "on the 5,000-image subset at least one method beats the baseline's test accuracy",
                "the write-up says where regularization helped most and why (expected: the "
                "small subset)",
            ),
        ),
    ),
    time="2-4 days",
    experiments=(
        Experiment(
            name="mnist",
            summary="a small CNN (3 conv layers + linear head) to 99% test accuracy",
        ),
        Experiment(
            name="regularization",
            summary="dropout, weight decay, augmentation, early stopping vs baseline",
        ),
    ),
)
