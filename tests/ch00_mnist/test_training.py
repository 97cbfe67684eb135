from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcurriculum.ch00_mnist import checks
from dlcurriculum.ch00_mnist.config import MNISTConfig
from dlcurriculum.ch00_mnist.loop import Split, evaluate, fit, random_shift
from dlcurriculum.ch00_mnist.model import CNN, predict
from dlcurriculum.ch00_mnist.training import accuracy, train_step
from dlcurriculum.core.checks import run_check


def test_random_shift_is_a_translation_within_range() -> None:
    images = torch.zeros(6, 1, 28, 28)
    images[:, :, 10:18, 9:20] = torch.rand(6, 1, 8, 11)  # a blob away from the border
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert torch.equal(random_shift(images, 0, torch.Generator()), images)
    padded = F.pad(images, (2, 2, 2, 2))
    for i in range(6):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(padded[i, :, dy : dy + 28, dx : dx + 28], shifted[i])
        ]
        assert matches, f"image {i} is not a translation of its input by at most 2 pixels"
    assert torch.allclose(shifted.sum((1, 2, 3)), images.sum((1, 2, 3)))  # nothing cut off
    again = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert torch.equal(shifted, again)


def _fails(check, impl, expected: str) -> None:  # type: ignore[no-untyped-def]
    result = run_check("x", check, impl, None)
    assert not result.passed
    assert expected in result.message, result.message


def test_accuracy_check_catches_argmax_over_batch() -> None:
    def wrong(logits: torch.Tensor, labels: torch.Tensor) -> float:
        return (logits.argmax(dim=0)[: len(labels)] == labels).float().mean().item()

    _fails(checks.check_accuracy, wrong, "argmax over the class dimension")


def test_train_step_check_catches_missing_zero_grad_and_tensor_return() -> None:
    def no_zero_grad(model, optimizer, images, labels):  # type: ignore[no-untyped-def]
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    def returns_tensor(model, optimizer, images, labels):  # type: ignore[no-untyped-def]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    _fails(checks.check_train_step, no_zero_grad, "zero_grad")
    _fails(checks.check_train_step, returns_tensor, "expected a Python float")


def test_cnn_check_catches_wrong_shape_and_ignored_dropout() -> None:
    class NoHead(nn.Module):
        def __init__(self, width: int = 32, dropout: float = 0.0):
            super().__init__()
            self.conv = nn.Conv2d(1, width, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).flatten(1)

    class NoDropout(CNN):
        def __init__(self, width: int = 32, dropout: float = 0.0):
            super().__init__(width, dropout=0.0)

    _fails(checks.check_cnn, NoHead, "shape (5, ")
    _fails(checks.check_cnn, NoDropout, "apply nn.Dropout")


def test_reference_functions_pass_their_checks() -> None:
    for check, impl in [
        (checks.check_cnn, CNN),
        (checks.check_train_step, train_step),
        (checks.check_accuracy, accuracy),
        (checks.check_predict, predict),
    ]:
        result = run_check("x", check, impl, None)
        assert result.passed, result.message


def test_early_stopping_stops_and_restores_the_best_weights() -> None:
    """Validation labels are a permutation of the training labels, so learning the training
    set makes validation loss worse after the first evaluation: early stopping must stop
    after `patience` evaluations and hand back the weights of the first one."""
    images, labels = checks._toy_task(512)
    train = Split(images[:384], labels[:384])
    val = Split(images[384:], (labels[384:] + 1) % 10)
    cfg = MNISTConfig(
        width=4,
        epochs=20,
        batch_size=32,
        lr=0.01,
        train_size=384,
        val_size=128,
        patience=2,
        evals_per_epoch=1,
    )
    ns = SimpleNamespace(CNN=CNN, train_step=train_step, accuracy=accuracy, predict=predict)
    torch.manual_seed(0)
    model = CNN(width=4)
    out = fit(cfg, model, train, ns, {"val": val}, val)
    steps_per_epoch = 384 // 32
    assert out["best_step"] == steps_per_epoch
    assert out["steps"] == 3 * steps_per_epoch  # best, then two worse evaluations
    # the returned figures are those of the restored (best) weights
    assert out["test_loss"] == pytest.approx(evaluate(model, val, ns)[0])


def test_fit_evaluates_test_once_after_training_and_times_the_target_on_validation() -> None:
    """The curves, early stopping and time to target use the `evals` splits; the test split is
    seen exactly once, by the final model."""
    images, labels = checks._toy_task(400)
    train, val, test = (
        Split(images[:256], labels[:256]),
        Split(images[256:336], labels[256:336]),
        Split(images[336:], labels[336:]),
    )
    seen: list[int] = []

    def counting_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
        seen.append(len(labels))
        return accuracy(logits, labels)

    cfg = MNISTConfig(
        width=4,
        epochs=3,
        batch_size=32,
        lr=0.01,
        train_size=256,
        val_size=80,
        evals_per_epoch=2,
        target_accuracy=0.5,
    )
    ns = SimpleNamespace(
        CNN=CNN, train_step=train_step, accuracy=counting_accuracy, predict=predict
    )
    torch.manual_seed(0)
    model = CNN(width=4)
    out = fit(cfg, model, train, ns, {"val": val}, test)
    assert seen.count(len(test)) == 1 and seen[-1] == len(test)
    assert seen.count(len(val)) == 3 * 2  # evals_per_epoch validation passes per epoch
    assert out["time_to_target_s"] is not None  # the toy task is learned: val passes 50%
    assert out["test_accuracy"] == pytest.approx(evaluate(model, test, ns)[1])
