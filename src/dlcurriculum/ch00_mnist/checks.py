"""Grader checks for the prerequisite: the CNN, one training step, accuracy.

Each check compares the learner's code with an independent oracle (autograd by hand,
numpy, invariances, learning a synthetic task), never only with our reference.
"""

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def _toy_task(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten random prototype images plus noise: any working CNN learns it in a few steps."""
    g = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(10, 1, 28, 28, generator=g) > 0.7).float()
    labels = torch.arange(n) % 10
    noise = 0.3 * torch.rand(n, 1, 28, 28, generator=g)
    return (prototypes[labels] + noise).clamp(0, 1), labels


def check_cnn(CNN: type[nn.Module]) -> None:
    """The CNN maps [batch, 1, 28, 28] to [batch, 10] logits, uses convolutions, and learns."""
    model = CNN(width=8)
    if not isinstance(model, nn.Module):
        raise ExerciseFailure(
            "CNN(width=8) is not an nn.Module: subclass nn.Module and call super().__init__()"
        )
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise ExerciseFailure(
            "CNN has no nn.Conv2d layer: the exercise asks for a convolutional network"
        )
    model.eval()
    x = _images(5, seed=1)
    out = model(x)
    assert_shape(
        out,
        (5, 10),
        "CNN(width=8)(images of shape [5, 1, 28, 28])",
        hint="Flatten the conv features before the final nn.Linear.",
    )
    # each example's logits depend on that example alone (in eval mode)
    assert_close(
        model(x[:1]),
        out[:1],
        "logits of image 0 alone vs in a batch of 5",
        atol=1e-4,
        hint="In eval mode the output of one image must not depend on the others.",
    )
    model.train()
    F.cross_entropy(model(x), torch.arange(5)).backward()
    unused = [
        name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    if unused:
        raise ExerciseFailure(
            f"parameters {unused} get no gradient: every layer must be used in forward"
        )
    _check_dropout(CNN)
    _check_learns(CNN(width=8))


def _check_dropout(CNN: type[nn.Module]) -> None:
    model = CNN(width=8, dropout=0.5)
    x = _images(4, seed=2)
    model.train()
    if torch.allclose(model(x), model(x)):
        raise ExerciseFailure(
            "CNN(dropout=0.5) in train mode gave the same output twice: apply nn.Dropout"
        )
    model.eval()
    assert_close(
        model(x),
        model(x),
        "CNN(dropout=0.5) in eval mode, two calls",
        hint="Dropout must be off in eval mode: use nn.Dropout, not F.dropout(training=True).",
    )


def _check_learns(model: nn.Module) -> None:
    images, labels = _toy_task()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.eval()
    acc = (model(images).argmax(1) == labels).float().mean().item()
    if acc < 0.9:
        raise ExerciseFailure(
            f"after 40 Adam steps on an easy synthetic 10-class task, training accuracy is "
            f"{acc:.0%} "
            "(expected >= 90%): check the ReLUs between layers and that forward returns logits "
            "(no softmax: cross_entropy applies log-softmax itself)"
        )


def check_train_step(train_step: Callable[..., float]) -> None:
    """One SGD step equals the update computed by hand with autograd, twice in a row."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    images, labels = _toy_task(32, seed=3)
    for call in (1, 2):
        oracle = copy.deepcopy(model)
        expected_loss = F.cross_entropy(oracle(images), labels)
        grads = torch.autograd.grad(expected_loss, list(oracle.parameters()))
        loss = train_step(model, optimizer, images, labels)
        if not isinstance(loss, float):
            raise ExerciseFailure(
                f"train_step returned {type(loss).__name__}, expected a Python float: "
                "use loss.item() "
                "(returning the tensor keeps the whole graph alive)"
            )
        if abs(loss - expected_loss.item()) > 1e-5:
            raise ExerciseFailure(
                f"call {call}: returned loss {loss:.6f}, but the mean cross-entropy before the "
                f"update is {expected_loss.item():.6f}: return the loss computed before "
                "optimizer.step(), with F.cross_entropy's default mean reduction"
            )
        for (name, p), p0, g in zip(
            model.named_parameters(), oracle.parameters(), grads, strict=True
        ):
            hint = (
                "did you call optimizer.zero_grad()?"
                if call == 2
                else "did you call loss.backward() and optimizer.step()?"
            )
            assert_close(
                p,
                p0 - 0.5 * g,
                f"call {call}: parameter {name} after one SGD step (lr=0.5)",
                atol=1e-5,
                hint=hint,
            )


def check_accuracy(accuracy: Callable[..., float]) -> None:
    """accuracy(logits, labels) equals a numpy count, including the edge cases 0 and 1."""
    g = torch.Generator().manual_seed(4)
    for batch in (7, 10, 64):
        logits = torch.randn(batch, 10, generator=g)
        labels = torch.randint(0, 10, (batch,), generator=g)
        expected = float(np.mean(logits.numpy().argmax(axis=1) == labels.numpy()))
        got = accuracy(logits, labels)
        if not isinstance(got, float):
            raise ExerciseFailure(
                f"accuracy returned {type(got).__name__}, expected a Python float (.item())"
            )
        if abs(got - expected) > 1e-6:
            raise ExerciseFailure(
                f"accuracy on random logits [{batch}, 10]: got {got:.4f}, expected {expected:.4f}. "
                "Take the argmax over the class dimension (dim=1) and average over the batch."
            )
    logits = torch.eye(10)
    if (
        accuracy(logits, torch.arange(10)) != 1.0
        or accuracy(logits, (torch.arange(10) + 1) % 10) != 0.0
    ):
        raise ExerciseFailure(
            "accuracy must be 1.0 when every prediction is right and 0.0 when none is"
        )
