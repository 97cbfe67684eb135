"""What grader checks share: the failure type, precise comparisons, and running a check.

A check is `check_x(impl) -> None`: it calls the learner's function on fixed inputs,
compares with at least one independent oracle, and raises `ExerciseFailure` with a
message that says what differs, on which input, and how to debug it.
"""

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.core.errors import public_names


class ExerciseFailure(AssertionError):
    """The learner's code ran but gave a wrong answer; the message says how."""


def assert_shape(actual: Tensor, expected: Sequence[int], what: str, hint: str = "") -> None:
    """Fail unless `actual` has exactly the expected shape."""
    if not isinstance(actual, Tensor):
        raise ExerciseFailure(f"{what}: expected a Tensor, got {type(actual).__name__}. {hint}")
    if tuple(actual.shape) != tuple(expected):
        raise ExerciseFailure(
            f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected)}. {hint}".strip()
        )


def assert_close(
    actual: Tensor,
    expected: Tensor,
    what: str,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    hint: str = "",
) -> None:
    """Fail unless the tensors match; the message shows where they differ most."""
    assert_shape(actual, expected.shape, what, hint)
    actual, expected = actual.detach().double(), expected.detach().double()
    bad = ~torch.isclose(actual, expected, atol=atol, rtol=rtol)
    if bad.any():
        diff = (actual - expected).abs().nan_to_num(float("inf"))
        worst = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
        raise ExerciseFailure(
            f"{what}: {int(bad.sum())} of {bad.numel()} values differ "
            f"(worst at index {worst}: got {actual[worst].item():.6g}, "
            f"expected {expected[worst].item():.6g}; atol={atol}, rtol={rtol}). {hint}".strip()
        )


def name_the_mistake(
    actual: Any,
    mistakes: dict[str, Any],
    what: str,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Fail naming the mistake when `actual` equals what a known mistake computes.

    Checks call this before comparing with the right answer, so a learner reads "you forgot
    to divide by sqrt(d_head)" rather than which values differ. `mistakes` maps each hint to
    the answer that mistake gives on the same input (computed independently of the learner's
    code; a float or a tensor). Callers make sure no mistake's answer equals the right one on
    that input, or the right code would be told it is wrong.
    """
    for hint, wrong in mistakes.items():
        if _same(actual, wrong, atol, rtol):
            raise ExerciseFailure(f"{what}: {hint}")


def _same(actual: Any, expected: Any, atol: float, rtol: float) -> bool:
    if isinstance(expected, Tensor):
        if not isinstance(actual, Tensor) or actual.shape != expected.shape:
            return False
        return bool(
            torch.allclose(
                actual.detach().double(), expected.detach().double(), atol=atol, rtol=rtol
            )
        )
    if isinstance(actual, Tensor):
        actual = actual.detach()
    try:
        return abs(float(actual) - float(expected)) <= atol + rtol * abs(float(expected))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise's check on the learner's code."""

    name: str
    passed: bool
    message: str = ""


def run_check(
    name: str, check: Callable[[Any], None], impl: Any, source: Path | None
) -> CheckResult:
    """Run one check; turn every way it can go wrong into a one-paragraph message.

    Args:
        name: the exercise's name.
        check: the grader check.
        impl: the learner's callable (or class).
        source: the learner's file, to point at the line that raised.
    """
    try:
        check(impl)
    except NotImplementedError as e:
        return CheckResult(name, False, _stub_message(name, impl, e, source))
    except ExerciseFailure as e:
        return CheckResult(name, False, public_names(str(e)))
    except Exception as e:  # the learner's code crashed: show where, not a whole traceback
        message = f"raised {type(e).__name__}: {e}{_where(e, source)}"
        return CheckResult(name, False, public_names(message))
    return CheckResult(name, True)


def _stub_message(name: str, impl: Any, error: NotImplementedError, source: Path | None) -> str:
    """'not implemented yet', naming the stub: the exercise's own, or one it uses
    (LayerNorm.forward inside Transformer), with where it is."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    own = getattr(impl, "__qualname__", "")
    stub = tb.tb_frame.f_code.co_qualname if tb is not None else own
    if tb is None or stub == own or stub.startswith(own + "."):
        where = f" in {source}" if source else ""
        return f"not implemented yet: fill in the stub{where}"
    file = Path(tb.tb_frame.f_code.co_filename).name
    return (
        f"not implemented yet: {stub} is not written yet ({file}:{tb.tb_lineno}); "
        f"`{name}` uses it, so write it first (`dlc check` grades it too)"
    )


def _where(error: BaseException, source: Path | None) -> str:
    """' (at file:line: code)' for the innermost frame in the learner's file, if any."""
    frames = list(traceback.extract_tb(error.__traceback__))
    if source is not None:
        mine = [f for f in frames if Path(f.filename).resolve() == source.resolve()]
        frames = mine or frames
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {Path(f.filename).name}:{f.lineno}: {(f.line or '').strip()})"
