"""The curriculum's record types: a chapter, its readings and links, exercises and experiments.

Each chapter package declares its record in chapter.py; `catalog` collects them. Torch-free.
"""

from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Literal


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
    added: str = ""
    """Why we list it although the curriculum does not; empty for the curriculum's own
    readings. The page marks a reading with a reason "added by us"."""


@dataclass(frozen=True)
class Link:
    """A link of the curriculum's suggested exercise: a dataset, a library, a paper or a post
    the exercise points to. The chapter page lists them under "Links for the exercise"."""

    title: str
    url: str
    why: str
    """One sentence on what it is for in the exercise."""
    added: str = ""
    """Why we list it although the curriculum does not (see `Reading.added`)."""


@dataclass(frozen=True)
class Assignment:
    """An exercise as the curriculum states it, in our words, with its success criteria.

    Its code, the functions and classes the learner writes, are `core.exercises.Exercise`s.
    """

    title: str
    description: str
    success_criteria: tuple[str, ...]
    kind: Literal["practical", "theoretical", "alternative"] = "practical"


@dataclass(frozen=True)
class Experiment:
    """A runnable experiment: `dlc run <name>`. Resolved lazily so listing stays fast.

    Its ExperimentSpec is `<NAME>` (upper case, - as _) in the chapter's experiments.py.
    """

    name: str
    summary: str
    chapter: int = -1
    """Filled in by the Chapter that lists it, as is `slug`."""
    slug: str = ""

    @property
    def module(self) -> str:
        """Import path of the module holding the ExperimentSpec."""
        return f"dlcurriculum.{self.slug}.experiments"

    @property
    def attr(self) -> str:
        """Name of the ExperimentSpec in that module."""
        return self.name.upper().replace("-", "_")


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
    exercises: tuple[Assignment, ...]
    time: str = ""
    """Rough time to budget, e.g. "1-2 weeks"."""
    experiments: tuple[Experiment, ...] = field(default=())
    rank: int | None = None
    """Place in the curriculum's suggested order when time is short (1 = first); None for
    the prerequisite, which comes before all."""
    helps: tuple[int, ...] = ()
    """Chapters this one helps with (do it first)."""
    links: tuple[Link, ...] = ()
    """The links of the curriculum's suggested exercise, as the exercise uses them."""

    def __post_init__(self) -> None:
        owned = tuple(replace(e, chapter=self.number, slug=self.slug) for e in self.experiments)
        object.__setattr__(self, "experiments", owned)

    def readme(self) -> str:
        """The chapter page (its package's README.md)."""
        return resources.files(f"dlcurriculum.{self.slug}").joinpath("README.md").read_text()
