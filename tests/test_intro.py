"""The front matter: `dlc show intro`, with the chapter guide taken from the catalog."""

from importlib import resources
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from dlcurriculum import catalog
from dlcurriculum.cli import app
from dlcurriculum.pages import INTRO_MARKER, intro_markdown

SECTIONS = (
    "## What to know before deep learning",
    "## Prerequisites",
    "## How to use the curriculum",
    "## The chapters, their order and their time",
    "## Alternatives",
    "## Advice for the long run",
)


def _links(text: str) -> list[str]:
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return [
        str(child.attrs["href"])
        for tok in tokens
        for child in tok.children or []
        if child.type == "link_open"
    ]


def test_the_intro_has_every_part_in_order() -> None:
    text = intro_markdown()
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert INTRO_MARKER not in text
    for topic in (
        "Linear algebra",
        "Probability",
        "Calculus",
        "Programming",
        "statistics",
        "information theory",
        "Health and motivation",
        "Vertical integration",
        "Choose problems for impact",
        "dlc solution",
    ):
        assert topic in text, topic


def test_the_chapter_guide_comes_from_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    text = intro_markdown()
    assert f"**{', '.join(map(str, catalog.IMPORTANCE_ORDER))}**" in text
    assert "chapter 1 helps with chapters 2, 3, 7, 8 and 9; chapter 6 helps with chapter 7" in text
    for ch in catalog.chapters().values():
        assert f"| {ch.number} | {ch.title} | {ch.time} |" in text
    # written once: the intro's source holds no copy of the order, and follows the catalog
    raw = resources.files("dlcurriculum").joinpath("intro.md").read_text()
    assert "1, 6, 2" not in raw and INTRO_MARKER in raw
    monkeypatch.setattr(catalog, "IMPORTANCE_ORDER", (6, 1))
    monkeypatch.setattr(catalog, "HELPS", {6: (1,)})
    changed = intro_markdown()
    assert "**6, 1**" in changed and "chapter 1 helps" not in changed
    assert "chapter 6 helps with chapter 1, so" in changed
    assert "| 1 | Transformers | 1-2 weeks | 6 |" in changed


def test_links_are_absolute_or_point_to_chapter_pages() -> None:
    links = _links(intro_markdown(lambda ch: f"[page]({ch.slug}.html)"))
    external = [u for u in links if not u.endswith(".html") or u.startswith("http")]
    assert len(external) >= 25
    assert all(u.startswith(("https://", "http://")) for u in external), external
    pages = [u for u in links if u not in external]
    assert pages == [f"{ch.slug}.html" for ch in catalog.chapters().values()]


def test_dlc_show_intro_and_dlc_list_points_to_it(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["show", "intro"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "Before you start" in shown.output and "dlc show 6" in shown.output
    listing = runner.invoke(
        app, ["list", "--dir", str(tmp_path), "--runs", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert listing.exit_code == 0 and "dlc show intro" in listing.output
