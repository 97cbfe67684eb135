"""Every chapter's mutation suite (tests/chNN_*/test_mutations.py): each mistake fails its
check with a message naming it, the unmutated reference passes, three mistakes per exercise."""

from pathlib import Path

import pytest

from tests.mutations import (
    Mutation,
    assert_named,
    assert_reference_passes,
    assert_three_per_exercise,
    chapter_suites,
)

SUITES = chapter_suites()
CASES = [(slug, m) for slug, mutations in SUITES for m in mutations]


@pytest.mark.parametrize(("slug", "mutation"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_the_mistake_is_named(slug: str, mutation: Mutation, tmp_path: Path) -> None:
    assert_named(slug, mutation, tmp_path)


@pytest.mark.parametrize("slug", [slug for slug, _ in SUITES])
def test_the_reference_passes(slug: str, tmp_path: Path) -> None:
    assert_reference_passes(slug, tmp_path)


@pytest.mark.parametrize(("slug", "mutations"), SUITES, ids=[slug for slug, _ in SUITES])
def test_three_mistakes_per_exercise(slug: str, mutations: list[Mutation]) -> None:
    assert_three_per_exercise(slug, mutations)


def test_every_chapter_has_a_suite() -> None:
    assert len(SUITES) == 10
