from dataclasses import dataclass
from typing import Literal

import pytest

from dlcurriculum.core.config import RunConfig, check, field_docs, from_dict, override, to_dict
from dlcurriculum.core.errors import DlcError


@dataclass(frozen=True)
class ToyConfig(RunConfig):
    lr: float = 0.1
    """Learning rate."""
    steps: int = 10
    """Optimizer steps."""
    shuffle: bool = True
    """Shuffle the data."""
    sizes: tuple[int, ...] = (1, 2)
    """Training-set sizes."""
    mode: Literal["a", "b"] = "a"
    """A choice."""
    name: str | None = None
    """Optional name."""

    def __post_init__(self) -> None:
        check(self, "steps", ge=1)


def test_override_parses_each_field_type() -> None:
    cfg = override(
        ToyConfig(),
        ["lr=3e-4", "steps=5", "shuffle=false", "sizes=4,8,16", "mode=b", "name=x", "seed=7"],
    )
    assert cfg == ToyConfig(
        seed=7, lr=3e-4, steps=5, shuffle=False, sizes=(4, 8, 16), mode="b", name="x"
    )
    assert override(cfg, ["name=none"]).name is None


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("lr", "malformed"),
        ("=3", "malformed"),
        ("learning_rate=1", "valid keys are seed, device, impl, lr"),
        ("steps=ten", "expected an integer"),
        ("shuffle=maybe", "true or false"),
        ("mode=c", "choose one of a, b"),
        ("steps=0", "steps must be >= 1, got 0"),
    ],
)
def test_bad_overrides_name_the_fix(assignment: str, message: str) -> None:
    with pytest.raises(DlcError, match=message):
        override(ToyConfig(), [assignment])


def test_field_docs_include_base_fields() -> None:
    docs = field_docs(ToyConfig)
    assert docs["lr"] == "Learning rate."
    assert docs["seed"].startswith("Random seed")


def test_round_trip_through_json_types() -> None:
    cfg = ToyConfig(sizes=(3, 4))
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in to_dict(cfg).items()}
    assert from_dict(ToyConfig, data) == cfg
