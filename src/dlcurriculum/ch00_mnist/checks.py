"""Grader checks for the prerequisite: the CNN, one training step, accuracy.

Each check compares the learner's code with an independent oracle (autograd by hand,
numpy, invariances, learning a synthetic task), never only with our reference.
"""

import copy
import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape, name_the_mistake


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
    torch.manual_seed(0)  # the probes below read a fresh init: make it the same every run
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
    try:
        out = model(x)
    except RuntimeError as e:
        if "cannot be multiplied" not in str(e):
            raise
        raise ExerciseFailure(
            f"CNN(width=8) on images [5, 1, 28, 28]: the head got features of the wrong shape "
            f"({e}). Flatten the conv features to [batch, features] (nn.Flatten) and give the "
            "nn.Linear head that many in_features."
        ) from None
    if out is None:
        raise ExerciseFailure("CNN.forward returned None: return the head's logits")
    assert_shape(
        out,
        (5, 10),
        "CNN(width=8)(images of shape [5, 1, 28, 28])",
        hint="Flatten the conv features before the final nn.Linear.",
    )
    _diagnose_logits(out.detach())
    # each example's logits depend on that example alone (in eval mode)
    assert_close(
        model(x[:1]),
        out[:1],
        "logits of image 0 alone vs in a batch of 5 (eval mode)",
        atol=1e-4,
        hint="In eval mode batch norm must use its running statistics, not the batch's: keep "
        "nn.BatchNorm2d's default track_running_stats=True.",
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


SOFTMAX_HINT = (
    "return logits: CrossEntropyLoss applies log-softmax itself, so a softmax in forward "
    "applies it twice and the loss can no longer fall below log(9 + e) - 1 = 1.46"
)


def _diagnose_logits(out: torch.Tensor) -> None:
    """Name the mistakes that make outputs not logits: a softmax, a ReLU on the head."""
    if (out >= 0).all():
        if torch.allclose(out.sum(dim=1), torch.ones(out.shape[0]), atol=1e-4):
            raise ExerciseFailure(
                f"CNN.forward returns probabilities (each row sums to 1): {SOFTMAX_HINT}"
            )
        if torch.allclose(out.sum(dim=0), torch.ones(out.shape[1]), atol=1e-4):
            raise ExerciseFailure(
                "CNN.forward applies a softmax over the batch (each column sums to 1): "
                + SOFTMAX_HINT
            )
        raise ExerciseFailure(
            "every logit of a fresh CNN on 5 random images is >= 0: put no ReLU after the last "
            "layer (logits must be free to be negative)"
        )


def _check_dropout(CNN: type[nn.Module]) -> None:
    model = CNN(width=8, dropout=0.5)
    x = _images(4, seed=2)
    model.train()
    if torch.allclose(model(x), model(x)):
        raise ExerciseFailure(
            "CNN(dropout=0.5) in train mode gave the same output twice: apply "
            "nn.Dropout(dropout) to the features before the head"
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
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    acc = (model(images).argmax(1) == labels).float().mean().item()
    if acc < 0.9 or loss.item() > 1.0:
        raise ExerciseFailure(
            f"after 40 Adam steps on an easy synthetic 10-class task, training accuracy is "
            f"{acc:.0%} and the loss {loss.item():.3f} (expected >= 90% and < 1.0): check the "
            "ReLUs between layers, and return logits: CrossEntropyLoss applies log-softmax "
            "itself"
        )


def check_train_step(train_step: Callable[..., float]) -> None:
    """One SGD step equals the update computed by hand with autograd, twice in a row."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    images, labels = _toy_task(32, seed=3)
    backward_ran: list[bool] = []  # a gradient hook on the parameters records each backward
    for call in (1, 2):
        oracle = copy.deepcopy(model)
        expected_loss = F.cross_entropy(oracle(images), labels)
        grads = torch.autograd.grad(expected_loss, list(oracle.parameters()))
        with torch.no_grad():
            for p, g in zip(oracle.parameters(), grads, strict=True):
                p.sub_(0.5 * g)
            loss_after = F.cross_entropy(oracle(images), labels).item()
        before = [p.detach().clone() for p in model.parameters()]
        backward_ran.clear()
        hooks = [p.register_hook(lambda g: backward_ran.append(True)) for p in model.parameters()]
        try:
            loss = train_step(model, optimizer, images, labels)
        finally:
            for h in hooks:
                h.remove()
        if not isinstance(loss, float):
            raise ExerciseFailure(
                f"train_step returned {type(loss).__name__}, expected a Python float: "
                "use loss.item() "
                "(returning the tensor keeps the whole graph alive)"
            )
        name_the_mistake(
            loss,
            {
                "you summed the per-example losses: use F.cross_entropy's default mean "
                "reduction": 32 * expected_loss.item(),
                "you returned the loss after the update: return the loss computed before "
                "optimizer.step()": loss_after,
            },
            f"call {call}: returned loss {loss:.6f}",
        )
        if abs(loss - expected_loss.item()) > 1e-5:
            raise ExerciseFailure(
                f"call {call}: returned loss {loss:.6f}, but the mean cross-entropy of the batch "
                f"before the update is {expected_loss.item():.6f}"
            )
        if all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True)):
            if not backward_ran:
                hint = "no gradient was computed: call loss.backward() before optimizer.step()"
            elif all(p.grad is None or not p.grad.any() for p in model.parameters()):
                hint = (
                    "the gradients were cleared between loss.backward() and optimizer.step(): "
                    "call optimizer.zero_grad() before loss.backward(), not after it"
                )
            else:
                hint = "the gradients are there but unused: call optimizer.step() after backward"
            raise ExerciseFailure(f"call {call}: the parameters did not change; {hint}")
        for (name, p), p0 in zip(model.named_parameters(), oracle.parameters(), strict=True):
            hint = (
                "the gradients add up across calls: call optimizer.zero_grad() before "
                "loss.backward()"
                if call == 2
                else "one step is p - lr * dloss/dp of the mean cross-entropy"
            )
            assert_close(
                p,
                p0,
                f"call {call}: parameter {name} after one SGD step (lr=0.5)",
                atol=1e-5,
                hint=hint,
            )


def check_accuracy(accuracy: Callable[..., float]) -> None:
    """accuracy(logits, labels) equals a numpy count, including the edge cases 0 and 1."""
    # probes first, on a square batch so that the argmax over the wrong dim does not crash:
    # 7 of 10 predictions right, and every known mistake gives another number
    logits = torch.randn(10, 10, generator=torch.Generator().manual_seed(5))
    predicted = logits.argmax(dim=1)
    labels = torch.where(torch.arange(10) < 7, predicted, (predicted + 1) % 10)
    got = _accuracy(accuracy, logits, labels)
    where = _line_with(accuracy, "max(")  # the line that picks the predicted class
    name_the_mistake(
        got,
        {
            "the predictions came from an argmax over the batch: take the argmax over the "
            "class dimension (dim=1)": (logits.argmax(dim=0) == labels).double().mean().item(),
            "you returned the number of correct predictions: divide by the batch size "
            "(.mean())": 7.0,
            "you compared the largest logit's value with the labels: compare its index "
            "(argmax)": 0.0,
        },
        f"accuracy on logits [10, 10] with 7 of 10 right: got {got:.4g}{where}",
    )
    g = torch.Generator().manual_seed(4)
    for batch in (7, 10, 64):
        logits = torch.randn(batch, 10, generator=g)
        labels = torch.randint(0, 10, (batch,), generator=g)
        expected = float(np.mean(logits.numpy().argmax(axis=1) == labels.numpy()))
        got = _accuracy(accuracy, logits, labels)
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


def _line_with(fn: Callable[..., object], needle: str) -> str:
    """' (at file:line: code)' for the first code line of fn that contains needle, or ''."""
    try:
        lines, start = inspect.getsourcelines(fn)
        path = inspect.getsourcefile(fn)
    except (OSError, TypeError):
        return ""
    for i, line in enumerate(lines):
        if needle in line and not line.strip().startswith("#"):
            return f" (at {Path(path or '').name}:{start + i}: {line.strip()})"
    return ""


def _accuracy(accuracy: Callable[..., float], logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The learner's accuracy, with the crashes of known mistakes named."""
    try:
        got = accuracy(logits, labels)
    except RuntimeError as e:
        if "Bool" in str(e):
            raise ExerciseFailure(
                f"accuracy raised {e}: convert the boolean matches to float before averaging "
                "(.float().mean())"
            ) from None
        if "must match the size" in str(e):
            raise ExerciseFailure(
                f"accuracy on logits [{len(logits)}, 10] raised {e}: take the argmax over the "
                "class dimension (dim=1), which gives one prediction per example"
            ) from None
        raise
    if not isinstance(got, float):
        raise ExerciseFailure(
            f"accuracy returned {type(got).__name__}, expected a Python float (.item())"
        )
    return got


def check_predict(predict: Callable[..., torch.Tensor]) -> None:
    """predict equals the model in eval mode, in batches, without autograd, mode restored."""
    torch.manual_seed(0)
    norm = nn.BatchNorm1d(16)
    # running statistics far from any batch's own, so train mode shows in the logits
    norm.running_mean = 2 * torch.rand(16) - 1
    norm.running_var = 0.5 + 1.5 * torch.rand(16)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 16), norm, nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 10)
    )
    images = _images(25, seed=6)
    with torch.no_grad():
        expected = copy.deepcopy(model).eval()(images)
    calls: list[tuple[bool, bool, int]] = []
    model.register_forward_hook(
        lambda m, inputs, out: calls.append((m.training, torch.is_grad_enabled(), len(inputs[0])))
    )
    what = "predict(model, 25 images, batch_size=10)"
    for was_training in (True, False):
        model.train(was_training)
        calls.clear()
        out = predict(model, images, batch_size=10)
        if out is None:
            raise ExerciseFailure(f"{what} returned None: return the logits of all the images")
        if any(training for training, _, _ in calls):
            raise ExerciseFailure(
                f"{what}: the model was in train mode during the forward passes: call "
                "model.eval() first, so dropout is off and batch norm uses its running statistics"
            )
        if any(grad for _, grad, _ in calls):
            raise ExerciseFailure(
                f"{what}: autograd was on during the forward passes: run them under "
                "torch.no_grad(), since evaluation needs no graph (it would cost memory and time)"
            )
        if max((n for _, _, n in calls), default=0) > 10:
            raise ExerciseFailure(
                f"{what}: a forward call got {max(n for _, _, n in calls)} images: feed "
                "images[i : i + batch_size], one batch at a time, so memory stays flat"
            )
        if model.training != was_training:
            raise ExerciseFailure(
                f"{what} left a model that was in train mode in eval mode: remember "
                "model.training and restore it with model.train(was_training)"
                if was_training
                else f"{what} put a model that was in eval mode into train mode: restore the "
                "mode it was in (model.train(was_training)), not train mode"
            )
        assert_shape(
            out,
            (25, 10),
            what,
            hint="Include every image exactly once, the last partial batch too: "
            "i in range(0, len(images), batch_size).",
        )
        assert_close(out, expected, f"{what}, model in {'train' if was_training else 'eval'} mode")
