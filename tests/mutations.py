"""Single-bug variants of the reference solutions: each must FAIL its exercise's check with
a message that names the mistake. Each chapter lists its own in
tests/chNN_*/test_mutations.py (SLUG, MUTATIONS); tests/test_mutation_suites.py runs them all.

A mutation replaces one snippet of a reference exercise module (the text must occur exactly
once) with the typical mistake a learner makes, writes the chapter's modules into a fresh
workspace as `dlc start` would lay them out, and runs `dlc check`'s grader on that exercise.
`hint` is a regular expression the failure message must match; `None` records an honest
"caught, but the message does not name the mistake" (it counts against the named rate).
"""

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlcurriculum.core.checks import CheckResult
from dlcurriculum.core.exercises import chapter_exercises, check, learner_source, reference_path


@dataclass(frozen=True)
class Mutation:
    exercise: str
    """The exercise whose check must fail."""
    old: str
    """Text of the reference module to replace (exactly one occurrence)."""
    new: str
    """The mistake."""
    hint: str | None
    """Regex the failure message must match: the mistake named."""
    module: str | None = None
    """The module to mutate, when not the exercise's own (a mistake in a dependency)."""

    def __str__(self) -> str:
        return f"{self.exercise}: {self.old.strip()[:40]} -> {self.new.strip()[:40]}"


def lay_out(slug: str, root: Path, mutation: Mutation | None = None) -> None:
    """The chapter's reference modules in workspace `root`, with `mutation` applied."""
    exercises = {e.name: e for e in chapter_exercises(slug)}
    target = None if mutation is None else mutation.module or exercises[mutation.exercise].module
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    for module in sorted({e.module for e in exercises.values()}):
        source = learner_source(slug, reference_path(slug, module).read_text())
        if mutation is not None and module == target:
            n = source.count(mutation.old)
            assert n == 1, f"{mutation}: the text to replace occurs {n} times in {module}.py"
            source = source.replace(mutation.old, mutation.new)
        (folder / f"{module}.py").write_text(source)


def run_mutation(slug: str, mutation: Mutation, root: Path) -> CheckResult:
    """The check's verdict on the reference with this one mistake in it."""
    lay_out(slug, root, mutation)
    [result] = check(slug, root, mutation.exercise)
    return result


def assert_named(slug: str, mutation: Mutation, root: Path) -> None:
    """The mistake fails its check, and the message names it."""
    result = run_mutation(slug, mutation, root)
    assert not result.passed, f"slips through: {mutation}"
    if mutation.hint is not None:
        assert re.search(mutation.hint, result.message), (
            f"caught but not named: {mutation}\n  message: {result.message}"
        )


def assert_reference_passes(slug: str, root: Path) -> None:
    """Without a mutation, the same layout passes every check (so failures are the bug's)."""
    lay_out(slug, root)
    for result in check(slug, root):
        assert result.passed, f"{result.name}: the reference fails its check: {result.message}"


def assert_three_per_exercise(slug: str, mutations: list[Mutation]) -> None:
    """Every exercise of the chapter has at least three typical mistakes in the suite."""
    for ex in chapter_exercises(slug):
        n = sum(m.exercise == ex.name for m in mutations)
        assert n >= 3, f"{slug} {ex.name}: {n} mutations, need at least 3"


COUNTED = """
import pathlib as _pathlib


def _counted(fn):
    def counted(*args, **kwargs):
        _pathlib.Path(__file__).with_name(fn.__name__ + ".called").touch()
        return fn(*args, **kwargs)

    return counted
"""


def counting_workspace(slug: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace in `root` whose exercise modules are the reference with each exercise
    leaving `<qualname>.called` beside its file when called, while the reference exercises
    raise if anything reaches them (also in forked processes). Returns the chapter folder:
    an `--impl` run that used only the learner's code leaves one mark per exercise it calls."""
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    by_module: dict[str, list[str]] = {}
    for ex in chapter_exercises(slug):
        by_module.setdefault(ex.module, []).append(ex.qualname)
    for module, names in by_module.items():
        source = reference_path(slug, module).read_text() + COUNTED
        source += "".join(f"{name} = _counted({name})\n" for name in names)
        (folder / f"{module}.py").write_text(source)
        reference = importlib.import_module(f"dlcurriculum.{slug}.{module}")
        for name in names:
            monkeypatch.setattr(reference, name, _refuse)
    return folder


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("an --impl run reached the reference exercise")


def chapter_suites() -> list[tuple[str, list[Mutation]]]:
    """(slug, MUTATIONS) of every chapter's tests/chNN_*/test_mutations.py."""
    suites = []
    for path in sorted(Path(__file__).parent.glob("ch*/test_mutations.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.test_mutations")
        suites.append((module.SLUG, module.MUTATIONS))
    return suites


def main() -> None:
    """Caught and named rates over every chapter's suite: `python -m tests.mutations`."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    total = caught = named = 0
    for slug, mutations in chapter_suites():
        c = n = 0
        for mutation in mutations:
            with tempfile.TemporaryDirectory() as root:
                result = run_mutation(slug, mutation, Path(root))
            c += not result.passed
            n += not result.passed and bool(
                mutation.hint and re.search(mutation.hint, result.message)
            )
        print(f"{slug:28} {len(mutations):3} mutations  {c:3} caught  {n:3} named")
        total, caught, named = total + len(mutations), caught + c, named + n
    print(f"{'all':28} {total:3} mutations  {caught / total:.0%} caught  {named / total:.0%} named")


if __name__ == "__main__":
    main()
