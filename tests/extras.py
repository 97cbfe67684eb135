"""Optional extras in tests: a user without one sees the test skipped with the reason; under
CI (the CI variable set), which installs every extra, a missing one fails the test instead, so
a broken install cannot hide behind a skip."""

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

from dlcurriculum.core.errors import install_hint


def missing(reason: str) -> NoReturn:
    """Skip with `reason`, or fail under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI installs it")
    pytest.skip(reason)


def require(module: str, extra: str) -> ModuleType:
    """Import `module` from the `extra` (e.g. "hf"), or skip (fail under CI) naming the install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing(f"{module} is missing ({e}): {install_hint(extra)}")
