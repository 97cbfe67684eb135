"""Shared test setup: every test starts from the same seed on one thread (STYLE.md §7)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_one_thread() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
