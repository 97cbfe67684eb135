"""End to end in headless Chromium: real key presses label samples, and the DB agrees.

Needs Debian's /usr/bin/chromium and the playwright package. Without them the test skips,
except under CI (the CI variable set), where it fails: CI installs both.
"""

import importlib.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dlcurriculum.ch07_alignment import webapp
from dlcurriculum.ch07_alignment.labels import LabelStore, mix_corpus
from dlcurriculum.ch07_alignment.ratings import BlindRatings
from tests import extras

CHROMIUM = "/usr/bin/chromium"
# The network is closed here: without these flags Chromium stalls on background requests.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
EVIL = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'
CORPUS = "\n".join(f"Line {i} of a play, spoken with feeling." for i in range(50))


def _require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright)")
    if missing:
        extras.missing("browser test needs " + " and ".join(missing))


@contextmanager
def _serving(db: Path, labeler: str = "alice", session: int | None = None) -> Iterator[str]:
    """The app under uvicorn in a thread, on a free port; yields its URL."""
    import uvicorn

    app = webapp.create_app(db, labeler, session=session)
    sock = webapp.bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield webapp.url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def browser_page() -> Iterator[tuple[Any, list[str]]]:
    """A fresh Chromium page and the list its console and page errors go to."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            page.set_default_timeout(10_000)
            yield page, errors
        finally:
            browser.close()


def _press(page: Any, key: str) -> None:
    """Press a key and wait for the form post's redirect to load the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def _item(page: Any) -> int:
    return int(page.get_attribute("#sample", "data-item"))


def test_keys_label_skip_and_undo_in_chromium(
    tmp_path: Path, browser_page: tuple[Any, list[str]]
) -> None:
    page, errors = browser_page
    db = tmp_path / "labels.db"
    store = LabelStore(db)
    store.add_samples([EVIL, "O happy day", "A plague on both your houses", "Hm."], "model:a")
    mix_corpus(store, 2, text=CORPUS)
    with _serving(db) as url:
        page.goto(url)
        assert page.inner_text("#progress") == "0 / 6"
        seen: list[int] = []
        for key, label in [("1", "positive"), ("2", "neutral"), ("3", "negative"), ("s", "skip")]:
            item = _item(page)
            _press(page, key)
            assert store.label_of(item, "alice") == label  # on disk when the page moved on
            assert page.inner_text("#status") == f"Saved: {label}."
            seen.append(item)
        assert page.inner_text("#progress") == "4 / 6"
        assert page.get_attribute("progress", "value") == "4"

        _press(page, "u")  # the skip is undone and its sample comes back
        assert store.label_of(seen[-1], "alice") is None
        assert _item(page) == seen[-1]
        assert page.inner_text("#progress") == "3 / 6"
        _press(page, "u")
        assert _item(page) == seen[-2] and store.progress("alice") == (2, 6)

        # Keys other than the five do nothing.
        page.keyboard.press("x")
        page.keyboard.press("4")
        assert _item(page) == seen[-2] and store.progress("alice") == (2, 6)

        # Label the rest; the <script> sample must show as text and never run.
        while page.query_selector("#sample") is not None:
            text = page.inner_text("#sample")
            if "<script>" in text:
                assert text == EVIL
                assert page.title() == "Labeling as alice"
                assert page.query_selector("#sample img") is None
            _press(page, "1")
        assert "All 6 samples labeled" in page.inner_text("#done")
        assert page.title() == "Labeling as alice"
        assert EVIL in [s.text for s, _ in store.labeled("alice")]

    labels = {s.id: lab for s, lab in LabelStore(db).labeled("alice")}
    assert labels[seen[0]] == "positive" and labels[seen[1]] == "neutral"
    assert len(labels) == 6
    assert errors == []


def test_blind_rating_in_chromium(tmp_path: Path, browser_page: tuple[Any, list[str]]) -> None:
    page, errors = browser_page
    db = tmp_path / "labels.db"
    store = LabelStore(db)
    store.add_samples([f"dull text {i}" for i in range(3)], "model:ORIG")
    store.add_samples([f"joyful text {i}" for i in range(3)], "model:TUNED")
    session = BlindRatings(store).session("model:ORIG", "model:TUNED", "alice", n=2)
    with _serving(db, session=session) as url:
        page.goto(url)
        page.keyboard.press("s")  # no skipping in a blind rating
        assert BlindRatings(store).progress(session) == (0, 4)
        while page.query_selector("#sample") is not None:
            assert "model:" not in page.content()  # the source stays hidden
            _press(page, "1" if "joyful" in page.inner_text("#sample") else "3")
        done = page.inner_text("#done")
        assert "model:ORIG\t-1.00" in done and "model:TUNED\t+1.00" in done
    assert BlindRatings(store).reveal(session) == {"model:ORIG": -1.0, "model:TUNED": 1.0}
    assert errors == []
