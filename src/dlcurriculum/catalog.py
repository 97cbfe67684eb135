"""The curriculum as data: chapters, readings, exercises and the experiments that run them.

The records here are the single source for `dlc list`, `dlc show`, progress and the site.
The chapter texts themselves live in `chapters.py`; the long-form page of each chapter
is its package's README.md.
"""

from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from dlcurriculum.core.errors import DlcError


@dataclass(frozen=True)
class Reading:
    """One reading: what it is, where to find it, what to read of it and why."""

    title: str
    authors: str
    year: int
    url: str
    section: str
    """Which part to read (e.g. "sections 1-3", "all")."""
    why: str
    """One sentence on what the reader gets out of it."""


@dataclass(frozen=True)
class Exercise:
    """An exercise as the curriculum states it, in our words, with its success criteria."""

    title: str
    description: str
    success_criteria: tuple[str, ...]
    kind: Literal["practical", "theoretical", "alternative"] = "practical"


@dataclass(frozen=True)
class Experiment:
    """A runnable experiment: `dlc run <name>`. Resolved lazily so listing stays fast."""

    name: str
    chapter: int
    module: str
    """Import path of the module holding the ExperimentSpec."""
    attr: str
    """Name of the ExperimentSpec in that module."""
    summary: str


@dataclass(frozen=True)
class Chapter:
    """One part of the curriculum: the prerequisite (0) or chapters 1-9."""

    number: int
    slug: str
    """Package name, e.g. ch01_transformers."""
    title: str
    summary: str
    recommended: tuple[Reading, ...]
    optional: tuple[Reading, ...]
    exercises: tuple[Exercise, ...]
    time: str = ""
    """Rough time to budget, e.g. "1-2 weeks"."""
    experiments: tuple[Experiment, ...] = field(default=())

    def readme(self) -> str:
        """The chapter page (its package's README.md)."""
        return resources.files(f"dlcurriculum.{self.slug}").joinpath("README.md").read_text()


IMPORTANCE_ORDER: tuple[int, ...] = (1, 6, 2, 7, 4, 8, 9, 3, 5)
"""The curriculum's suggested order when time is short: most important first."""

HELPS: dict[int, tuple[int, ...]] = {1: (2, 3, 8, 9), 6: (7,)}
"""Chapter -> chapters it helps with (do it first)."""


def prerequisites_of(number: int) -> tuple[int, ...]:
    """Chapters that help with `number`, by HELPS."""
    return tuple(sorted(a for a, bs in HELPS.items() if number in bs))


def chapters() -> dict[int, Chapter]:
    """All chapters, keyed by number (0 = prerequisite)."""
    from dlcurriculum.chapters import CHAPTERS

    return {c.number: c for c in CHAPTERS}


def get_chapter(key: str | int) -> Chapter:
    """A chapter by number ("0".."9") or slug; DlcError names the valid choices."""
    table = chapters()
    for c in table.values():
        if str(key) in (str(c.number), c.slug, c.slug.split("_", 1)[1]):
            return c
    valid = ", ".join(str(n) for n in table)
    raise DlcError(f"unknown chapter {key!r}: use one of {valid} (see `dlc list`)")


def experiments() -> dict[str, Experiment]:
    """Every registered experiment by name."""
    return {e.name: e for c in chapters().values() for e in c.experiments}


def get_experiment(name: str) -> Experiment:
    """An experiment by name; DlcError lists the available ones."""
    table = experiments()
    if name not in table:
        raise DlcError(f"unknown experiment {name!r}: available are {', '.join(sorted(table))}")
    return table[name]
