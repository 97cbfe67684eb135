"""The readings and links of every chapter and of the front matter are the curriculum's.

`curriculum_links.json` lists every link of the curriculum (built from
shared/curriculum/LINKS.md: the curriculum at commit 2c1f2d9): for each chapter its kind
(recommended, optional, or a link of the exercise), title and URL; for the front matter
(`dlc show intro`) its section, title and URL. A reading or link we add must carry the
"added by us" mark with its reason; anything else the curriculum does not list, anything
it lists that is missing, and a reading in the wrong list are all failures.
"""

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest

from dlcurriculum import catalog
from dlcurriculum.core.curriculum import Chapter, Link, Reading
from dlcurriculum.pages import ADDED_BY_US, chapter_markdown, intro_markdown

EXPECTED = json.loads((Path(__file__).parent / "curriculum_links.json").read_text())
KINDS = ("recommended", "optional", "exercise")

Row = tuple[str, str, str]
"""(kind or section, title, url)."""

_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)(\s*\*\(" + ADDED_BY_US + r")?")


def _expected_chapter(number: int) -> set[Row]:
    return {(e["kind"], e["title"], e["url"]) for e in EXPECTED["chapters"][str(number)]}


def _expected_front_matter() -> set[Row]:
    ours = EXPECTED["front_matter_sections"]
    return {(ours[e["section"]], e["title"], e["url"]) for e in EXPECTED["front_matter"]}


def chapter_rows(ch: Chapter) -> set[Row]:
    """The chapter's readings and links that claim to be the curriculum's (not added by us)."""
    lists: tuple[tuple[str, Iterable[Reading | Link]], ...] = (
        ("recommended", ch.recommended),
        ("optional", ch.optional),
        ("exercise", ch.links),
    )
    return {(kind, x.title, x.url) for kind, items in lists for x in items if not x.added}


def front_matter_rows(text: str) -> set[Row]:
    """Every link of the front matter's markdown by its `## ` section, except those marked
    added by us and the link to the curriculum itself."""
    rows = set()
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    for section, body in zip(["(title)", *parts[1::2]], parts[0::2], strict=True):
        for title, url, added in _MD_LINK.findall(body):
            if not added and url not in EXPECTED["unmarked_own_links"]:
                rows.add((section.strip(), " ".join(title.split()), url))
    return rows


def differences(where: str, actual: set[Row], expected: set[Row]) -> list[str]:
    """What stands between `actual` and `expected`, one line each."""
    problems = []
    extra = actual - expected
    for kind, title, url in sorted(expected - actual):
        moved = [row for row in extra if row[1:] == (title, url)]
        relinked = [row for row in extra if row[:2] == (kind, title)]
        if moved:
            extra.remove(moved[0])
            problems.append(
                f"{where}: {title!r} is listed as {moved[0][0]}, the curriculum: {kind}"
            )
        elif relinked:
            extra.remove(relinked[0])
            problems.append(f"{where}: {title!r} links <{relinked[0][2]}>, the curriculum <{url}>")
        else:
            problems.append(f"{where}: missing the curriculum's {kind} {title!r} <{url}>")
    problems += [
        f"{where}: {kind} {title!r} <{url}> is not the curriculum's: remove it, or mark it "
        f"added by us (`added=` with the reason)"
        for kind, title, url in sorted(extra)
    ]
    return problems


def all_differences(chapters: Iterable[Chapter], intro: str) -> list[str]:
    problems = []
    for ch in chapters:
        problems += differences(
            f"chapter {ch.number}", chapter_rows(ch), _expected_chapter(ch.number)
        )
    return problems + differences(
        "front matter", front_matter_rows(intro), _expected_front_matter()
    )


def test_the_data_file_holds_every_link_of_the_curriculum() -> None:
    # LINKS.md: 35 links in the README, 5 on the Solutions page, 103 in chapters 1-9
    assert len(EXPECTED["front_matter"]) == 40
    assert sum(len(EXPECTED["chapters"][str(n)]) for n in range(1, 10)) == 103
    assert all(e["kind"] in KINDS for n in range(10) for e in EXPECTED["chapters"][str(n)])
    sections = {e["section"] for e in EXPECTED["front_matter"]}
    assert sections == set(EXPECTED["front_matter_sections"])


def test_the_catalog_and_the_front_matter_have_the_curriculums_readings_and_links() -> None:
    assert all_differences(catalog.CHAPTERS, intro_markdown()) == []


def test_what_we_add_is_marked_with_a_reason_on_the_page() -> None:
    for ch in catalog.CHAPTERS:
        page = chapter_markdown(ch)
        for item in (*ch.recommended, *ch.optional, *ch.links):
            assert item.url in page, item.title
            if item.added:
                assert f"*({ADDED_BY_US}: {item.added})*" in page, item.title
        if ch.links:
            assert "## Links for the exercise" in page
    intro = intro_markdown()
    marked = [m for m in _MD_LINK.finditer(intro) if m.group(3)]
    assert marked, "the front matter's own additions are marked"
    for m in marked:
        assert re.match(r"\s*\*\(added by us: [^)]+\)\*", intro[m.end(2) + 1 :]), m.group(1)


def test_every_community_solution_is_linked_with_its_author() -> None:
    intro = intro_markdown()
    section = intro.split("## Community solutions", 1)[1].split("\n## ", 1)[0]
    for e in EXPECTED["front_matter"]:
        if e["section"] == "Solutions":
            line = next(ln for ln in section.split("\n- ") if e["url"] in ln)
            assert e["author"] in line, e["title"]
    assert "when to look" in section.lower()


def test_no_pirated_copy_is_linked() -> None:
    urls = {e.get("curriculum_url") for e in EXPECTED["front_matter"]} - {None}
    assert len(urls) == 2
    pages = [intro_markdown()] + [chapter_markdown(ch) for ch in catalog.CHAPTERS]
    assert not [u for u in urls for page in pages if u in page]


# The check itself: each kind of drift from the curriculum is caught and named.


def _replace(number: int, **changes: object) -> list[Chapter]:
    return [
        dataclasses.replace(c, **changes) if c.number == number else c for c in catalog.CHAPTERS
    ]


def _extra(added: str = "") -> Reading:
    return Reading(
        "Some Other Paper", "A. Author", 2020, "https://example.org/x", "all", "Why.", added
    )


@pytest.mark.parametrize(
    ("chapters", "intro", "count", "message"),
    [
        pytest.param(  # a recommended reading dropped
            lambda: _replace(2, recommended=()),
            intro_markdown,
            1,
            r"chapter 2: missing the curriculum's recommended 'Scaling Laws for Neural Language",
            id="missing",
        ),
        pytest.param(  # a reading the curriculum does not have, unmarked
            lambda: _replace(6, optional=(*catalog.get_chapter(6).optional, _extra())),
            intro_markdown,
            1,
            r"chapter 6: optional 'Some Other Paper' .* is not the curriculum's",
            id="extra",
        ),
        pytest.param(  # recommended and optional swapped
            lambda: _replace(
                4,
                recommended=catalog.get_chapter(4).optional[:1],
                optional=catalog.get_chapter(4).recommended + catalog.get_chapter(4).optional[1:],
            ),
            intro_markdown,
            2,  # each of the two readings is in the other's list
            r"chapter 4: 'Which Algorithmic Choices .* is listed as recommended, the curriculum: "
            r"optional",
            id="swapped",
        ),
        pytest.param(  # an exercise link shown as a reading
            lambda: _replace(
                3,
                links=catalog.get_chapter(3).links[1:],
                optional=(
                    *catalog.get_chapter(3).optional,
                    dataclasses.replace(
                        _extra(),
                        title=catalog.get_chapter(3).links[0].title,
                        url=catalog.get_chapter(3).links[0].url,
                    ),
                ),
            ),
            intro_markdown,
            1,
            r"chapter 3: 'MPI for Python .* is listed as optional, the curriculum: exercise",
            id="link-as-reading",
        ),
        pytest.param(  # a moved URL
            lambda: _replace(
                9,
                recommended=(
                    dataclasses.replace(catalog.get_chapter(9).recommended[0], url="https://x.org"),
                ),
            ),
            intro_markdown,
            1,
            r"chapter 9: 'Intriguing properties of neural networks' links <https://x.org>, the "
            r"curriculum <https://arxiv.org/abs/1312.6199>",
            id="wrong-url",
        ),
        pytest.param(  # a front-matter link dropped
            lambda: catalog.CHAPTERS,
            lambda: intro_markdown().replace("(https://fullstackdeeplearning.com/)", ""),
            1,
            r"front matter: missing the curriculum's Prerequisites 'Full Stack Deep Learning'",
            id="front-matter-missing",
        ),
        pytest.param(  # a front-matter link of ours, unmarked
            lambda: catalog.CHAPTERS,
            lambda: intro_markdown().replace(" *(added by us: the curriculum names", " (names"),
            1,
            r"front matter: What to know before deep learning 'Seeing Theory' .* is not the "
            r"curriculum's",
            id="front-matter-unmarked",
        ),
    ],
)
def test_a_mutated_catalog_fails_with_a_clear_message(
    chapters: Callable[[], Sequence[Chapter]], intro: Callable[[], str], count: int, message: str
) -> None:
    problems = all_differences(chapters(), intro())
    assert len(problems) == count, problems
    assert re.search(message, problems[0]), problems[0]


def test_a_reading_marked_added_by_us_passes() -> None:
    chapters = _replace(6, optional=(*catalog.get_chapter(6).optional, _extra("a reason")))
    assert all_differences(chapters, intro_markdown()) == []
    page = chapter_markdown(next(c for c in chapters if c.number == 6))
    assert f"*({ADDED_BY_US}: a reason)*" in page
