"""The site in a real browser: headless Chromium (Debian's) driven by Playwright.

Every page is opened over file:// (the site must work without a server) and the main pages
over `dlc site serve`'s HTTP server. On each: no console errors or failed requests, every
internal link resolves to a page of the site (and its #anchor exists), every image has
decoded (naturalWidth > 0), and HTML from run files shows as text and never runs.

Skips when Playwright or Chromium is missing, except under CI (env CI set), where it fails.
"""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from dlcurriculum import catalog
from dlcurriculum.core.exercises import chapter_exercises
from dlcurriculum.site import make_server, run_page
from tests.extras import missing
from tests.test_site import HOSTILE_NAME, HOSTILE_TEXT, RealSite, real_site

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# every internal link and image on a page, resolved by the browser itself
PAGE_FACTS = """() => ({
  links: [...document.querySelectorAll('a[href], link[href]')].map(a => a.href),
  images: [...document.querySelectorAll('img')].map(i => ({
    src: i.src, ok: i.complete && i.naturalWidth > 0})),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  text: document.body.innerText,
  pwned: window.pwned === 1,
})"""


def _missing(what: str) -> None:
    missing(f"{what}: the browser test needs it")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> RealSite:
    return real_site(tmp_path_factory)


def _visit(browser: Any, url: str) -> dict[str, Any]:
    """Open one page; return what it shows, with its console errors and failed requests."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    response = page.goto(url, wait_until="load")
    facts: dict[str, Any] = page.evaluate(PAGE_FACTS)
    facts["errors"] = errors
    facts["status"] = None if response is None else response.status
    page.close()
    return facts


def _check_links(facts: dict[str, Any], base: str, known: dict[str, set[str]], where: str) -> None:
    for link in facts["links"]:
        parts = urlsplit(link)
        if parts.scheme == "data":
            continue  # the empty favicon, inline
        if parts.scheme in ("http", "https") and not link.startswith(base):
            continue  # readings and resources on the web: not fetched offline
        assert link.startswith(base), f"{where}: link outside the site: {link}"
        target = unquote(parts.path)[len(unquote(urlsplit(base).path)) :]
        assert target in known, f"{where}: broken link {link}"
        if parts.fragment:
            assert parts.fragment in known[target], f"{where}: no #{parts.fragment} in {target}"


def _crawl(browser: Any, site: Path, base: str, pages: list[str]) -> dict[str, dict[str, Any]]:
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    seen = {rel: _visit(browser, base + rel) for rel in pages}
    known: dict[str, set[str]] = {f: set() for f in files}
    for rel, facts in seen.items():
        known[rel] = set(facts["ids"])
    for rel, facts in seen.items():
        assert not facts["errors"], f"{rel}: {facts['errors']}"
        assert facts["status"] in (None, 0, 200), f"{rel}: HTTP {facts['status']}"
        bad = [i["src"] for i in facts["images"] if not i["ok"]]
        assert not bad, f"{rel}: images that did not render: {bad}"
        _check_links(facts, base, known, rel)
        assert not facts["pwned"], f"{rel}: a script from a run file ran"
    return seen


def test_every_page_over_file_urls(browser: Any, built: RealSite) -> None:
    pages = [p.relative_to(built.site).as_posix() for p in built.pages]
    seen = _crawl(browser, built.site, built.site.as_uri() + "/", pages)
    figures = sum(len(f["images"]) for f in seen.values())
    assert figures >= 5, "the run pages should show their figures"
    hostile = seen[run_page(built.hostile)]
    assert HOSTILE_NAME in hostile["text"] and HOSTILE_TEXT in hostile["text"]


def _open(browser: Any, url: str, width: int = 1280) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url, wait_until="load")
    return page


def _chapter_urls(built: RealSite) -> dict[str, str]:
    return {
        c.slug: (built.site / "chapters" / f"{c.slug}.html").as_uri()
        for c in catalog.chapters().values()
    }


def test_every_chapter_page_shows_a_figure_and_typeset_maths(browser: Any, built: RealSite) -> None:
    with_maths = 0
    for slug_, url in _chapter_urls(built).items():
        page = _open(browser, url)
        page.evaluate("() => document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
        page.wait_for_load_state("networkidle")
        shown = page.evaluate(
            "() => [...document.querySelectorAll('article img')].filter("
            "i => i.complete && i.naturalWidth > 0).length"
        )
        assert shown >= 1, f"{slug_}: no figure on the chapter page"
        maths = page.evaluate(
            "() => [...document.querySelectorAll('article math')].map("
            "m => m.getBoundingClientRect().width)"
        )
        assert all(w > 0 for w in maths), f"{slug_}: a formula did not render"
        text = page.evaluate("() => document.querySelector('article').innerText")
        assert "\\(" not in text and "\\frac" not in text, f"{slug_}: TeX left as text"
        with_maths += bool(maths)
        page.close()
    assert with_maths >= 6, "the chapters' formulas should render as maths"


def test_chapter_pages_have_contents_prev_next_and_highlighted_code(
    browser: Any, built: RealSite
) -> None:
    page = _open(browser, _chapter_urls(built)["ch01_transformers"])
    toc = page.locator("nav.md-nav--secondary a").all_inner_texts()
    assert "Readings" in toc and "Write the code" in toc
    prev = page.locator("a.md-footer__link--prev").get_attribute("href") or ""
    following = page.locator("a.md-footer__link--next").get_attribute("href") or ""
    assert prev.endswith("ch00_mnist.html") and following.endswith("ch02_scaling_laws.html")
    colours = page.evaluate(
        "() => new Set([...document.querySelectorAll('article .highlight pre span')]"
        ".map(s => getComputedStyle(s).color)).size"
    )
    assert colours >= 3, "the code is not highlighted"
    page.close()


def test_hints_and_solutions_are_folded_until_opened(browser: Any, built: RealSite) -> None:
    page = _open(browser, _chapter_urls(built)["ch01_transformers"])
    folds = page.locator("article details")
    assert folds.count() >= 4
    solution = page.locator("article details.warning").first
    assert "Try it first" in solution.locator("summary").inner_text()
    assert page.evaluate(
        "() => [...document.querySelectorAll('article details')].every(d => !d.open)"
    )
    code = solution.locator("pre").first
    assert not code.is_visible()
    solution.locator("summary").click()
    assert code.is_visible() and "def " in code.inner_text()
    page.close()


def test_search_finds_an_exercise_by_name(browser: Any, built: RealSite) -> None:
    name = chapter_exercises("ch01_transformers")[0].name
    page = _open(browser, (built.site / "index.html").as_uri())
    page.locator("input.md-search__input").fill(name)
    hit = page.locator(f".md-search-result__link[href*='#{name}']").first
    hit.wait_for(state="attached", timeout=10_000)  # the offline index answers in a worker
    assert "chapters/ch01_transformers.html" in (hit.get_attribute("href") or "")
    assert name in hit.inner_text()
    page.close()


def test_no_page_scrolls_sideways_on_a_phone(browser: Any, built: RealSite) -> None:
    for p in built.pages:
        page = _open(browser, p.as_uri(), width=390)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"{p.relative_to(built.site)} is {widths[0]} px wide"
        page.close()


def test_main_pages_over_dlc_site_serve(browser: Any, built: RealSite) -> None:
    server = make_server(built.site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        pages = ["index.html", "intro.html", "runs.html", run_page(built.runs.nqm)]
        _crawl(browser, built.site, base, pages)
    finally:
        server.shutdown()
        server.server_close()
