"""The curriculum as data: every chapter package's record (its chapter.py), and lookups.

The records are the single source for `dlc list`, `dlc show`, progress and the site; the
long-form page of each chapter is its package's README.md.
"""

import importlib
import pkgutil
import re

import dlcurriculum
from dlcurriculum.core.curriculum import Chapter, Experiment
from dlcurriculum.core.errors import DlcError

SLUGS: tuple[str, ...] = tuple(
    sorted(
        m.name
        for m in pkgutil.iter_modules(dlcurriculum.__path__)
        if re.fullmatch(r"ch\d\d_\w+", m.name)
    )
)
"""Every chapter package, in curriculum order (ch00_mnist ... ch09_adversarial_training)."""

CHAPTERS: tuple[Chapter, ...] = tuple(
    importlib.import_module(f"dlcurriculum.{slug}.chapter").CHAPTER for slug in SLUGS
)
"""The prerequisite (0) and chapters 1-9, in curriculum order."""

IMPORTANCE_ORDER: tuple[int, ...] = tuple(
    c.number for c in sorted((c for c in CHAPTERS if c.rank), key=lambda c: c.rank or 0)
)
"""The curriculum's suggested order when time is short: most important first."""

HELPS: dict[int, tuple[int, ...]] = {c.number: c.helps for c in CHAPTERS if c.helps}
"""Chapter -> chapters it helps with (do it first)."""


def prerequisites_of(number: int) -> tuple[int, ...]:
    """Chapters that help with `number`, by HELPS."""
    return tuple(sorted(a for a, bs in HELPS.items() if number in bs))


def chapters() -> dict[int, Chapter]:
    """All chapters, keyed by number (0 = prerequisite)."""
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
