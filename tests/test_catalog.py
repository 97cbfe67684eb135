"""The curriculum as data: chapter records, lookups, and the chapter pages they point to."""

import re
from importlib import resources

import pytest

from dlcurriculum import catalog
from dlcurriculum.catalog import CHAPTERS
from dlcurriculum.core.curriculum import Chapter
from dlcurriculum.core.errors import DlcError

SLUGS = (
    "ch00_mnist",
    "ch01_transformers",
    "ch02_scaling_laws",
    "ch03_training_at_scale",
    "ch04_optimization",
    "ch05_modeling_objectives",
    "ch06_reinforcement_learning",
    "ch07_alignment",
    "ch08_interpretability",
    "ch09_adversarial_training",
)

by_slug = pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.slug)


def _package_dir(slug: str):  # the Traversable of src/dlcurriculum/<slug>
    return resources.files("dlcurriculum").joinpath(slug)


def _kinds(number: int) -> list[str]:
    return [e.kind for e in catalog.get_chapter(number).exercises]


def test_ten_parts_numbered_0_to_9_in_order() -> None:
    assert [c.number for c in CHAPTERS] == list(range(10))
    assert tuple(c.slug for c in CHAPTERS) == SLUGS
    assert sorted(catalog.chapters()) == list(range(10))


def test_slugs_are_unique_and_name_their_number() -> None:
    assert len({c.slug for c in CHAPTERS}) == len(CHAPTERS)
    for c in CHAPTERS:
        assert c.slug.startswith(f"ch{c.number:02d}_"), c.slug


@by_slug
def test_slug_is_a_package_folder_with_a_readme(chapter: Chapter) -> None:
    folder = _package_dir(chapter.slug)
    assert folder.is_dir(), f"missing package folder src/dlcurriculum/{chapter.slug}"
    readme = folder.joinpath("README.md")
    assert readme.is_file(), f"missing src/dlcurriculum/{chapter.slug}/README.md"


@by_slug
def test_chapter_text_is_filled_in(chapter: Chapter) -> None:
    assert chapter.title.strip()
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", chapter.summary.strip()) if s]
    assert 3 <= len(sentences) <= 6, f"summary has {len(sentences)} sentences"
    assert chapter.time.strip(), "every chapter suggests a time budget"


@by_slug
def test_readings_are_complete_facts(chapter: Chapter) -> None:
    assert chapter.recommended, "every chapter has at least one recommended reading"
    for r in chapter.recommended + chapter.optional:
        assert re.match(r"https?://\S+$", r.url), r.url
        assert 1990 <= r.year <= 2030, f"{r.title}: year {r.year}"
        assert r.title.strip() and r.authors.strip() and r.section.strip(), r.title
        assert r.why.strip().endswith("."), f"{r.title}: 'why' should be one full sentence"
    titles = [r.title for r in chapter.recommended + chapter.optional]
    assert len(set(titles)) == len(titles), "a reading is listed twice"


@by_slug
def test_every_exercise_has_success_criteria(chapter: Chapter) -> None:
    assert chapter.exercises, "every chapter has an exercise"
    for e in chapter.exercises:
        assert e.title.strip() and e.description.strip()
        assert e.success_criteria, f"{e.title}: no success criteria"
        assert all(s.strip() for s in e.success_criteria), f"{e.title}: empty criterion"
        assert e.kind in ("practical", "theoretical", "alternative")
    # An alternative stands in for a main exercise, so it never comes alone.
    assert any(e.kind != "alternative" for e in chapter.exercises)


def test_chapter_7_has_a_practical_and_a_theoretical_exercise() -> None:
    kinds = _kinds(7)
    assert "practical" in kinds and "theoretical" in kinds
    theoretical = next(e for e in catalog.get_chapter(7).exercises if e.kind == "theoretical")
    assert "ELK" in theoretical.title


def test_chapter_3_offers_fused_adam_as_an_alternative() -> None:
    alternatives = [e for e in catalog.get_chapter(3).exercises if e.kind == "alternative"]
    assert [e.title for e in alternatives] == ["Fused Adam in Triton"]


def test_chapter_8_offers_the_curriculums_two_exercises_one_or_the_other() -> None:
    exercises = catalog.get_chapter(8).exercises
    assert [(e.kind, e.title) for e in exercises] == [
        ("practical", "Understand an MNIST CNN"),
        ("alternative", "Find induction heads"),
    ]


@pytest.mark.parametrize("key", ["7", 7, "ch07_alignment", "alignment"])
def test_get_chapter_by_number_slug_or_short_name(key: str | int) -> None:
    assert catalog.get_chapter(key).number == 7


def test_get_chapter_unknown_lists_the_valid_choices() -> None:
    with pytest.raises(DlcError) as info:
        catalog.get_chapter("42")
    message = str(info.value)
    assert "'42'" in message
    assert "0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in message


def test_importance_order_is_a_permutation_of_chapters_1_to_9() -> None:
    assert sorted(catalog.IMPORTANCE_ORDER) == list(range(1, 10))
    assert catalog.IMPORTANCE_ORDER[:2] == (1, 6)


def test_prerequisites_follow_the_curriculum() -> None:
    # the curriculum's "1 helps 2, 3, 8, 9; 6 helps 7", and ours: rlhf starts from chapter 1's model
    assert catalog.prerequisites_of(7) == (1, 6)
    assert catalog.prerequisites_of(2) == (1,)
    assert catalog.prerequisites_of(1) == ()
    for n in (3, 8, 9):
        assert catalog.prerequisites_of(n) == (1,)


def test_every_registered_experiment_resolves_to_its_spec() -> None:
    from dlcurriculum.core.experiment import ExperimentSpec, load_spec

    names = {e.name for e in catalog.experiments().values()}
    assert {"mnist", "regularization", "reverse", "shakespeare"} <= names
    for e in catalog.experiments().values():
        spec = load_spec(e.module, e.attr)
        assert isinstance(spec, ExperimentSpec) and spec.name == e.name
        assert {"smoke", "quick", "full"} <= set(spec.presets), e.name
        assert spec.criteria, f"{e.name} has no success criteria"


def test_experiments_are_unique_and_belong_to_their_chapter() -> None:
    names = [e.name for c in CHAPTERS for e in c.experiments]
    assert len(set(names)) == len(names)
    for c in CHAPTERS:
        for e in c.experiments:
            assert e.chapter == c.number, e.name
            assert e.module.startswith(f"dlcurriculum.{c.slug}."), e.module
    assert catalog.get_experiment("mnist").attr == "MNIST"


def test_get_experiment_unknown_names_the_available_ones() -> None:
    with pytest.raises(DlcError, match="'nope'") as info:
        catalog.get_experiment("nope")
    assert "mnist" in str(info.value)


@by_slug
def test_chapter_page_is_readable(chapter: Chapter) -> None:
    page = chapter.readme()
    assert page.startswith("# "), "a chapter page opens with its title"
    for heading in ("How to run", "What healthy results look like"):  # DESIGN.md's sections
        assert re.search(rf"^##\s+{heading}", page, re.MULTILINE | re.IGNORECASE), heading
    for e in chapter.experiments:
        assert f"dlc run {e.name}" in page, f"the page should show how to run {e.name}"
