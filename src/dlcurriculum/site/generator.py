"""The site generator: Material for MkDocs, built offline from a folder of markdown we write.

Two rules keep run files (names, reports, metrics) from ever becoming markup:
- No page may hold raw HTML: the `EscapeHtml` extension turns Python-Markdown's raw-HTML
  passthrough off, so a `<tag>` in any markdown shows as text.
- HTML that pages need (tables of runs, badges, a rendered report) is made by our own
  renderer (render.py, every value escaped) and handed to the plugin as fragments; the
  markdown holds only a placeholder paragraph that the plugin swaps for the fragment.

Maths is written `$...$` / `$$...$$` (pymdownx.arithmatex) and turned into MathML at build
time (latex2mathml), so it renders offline with no script.
"""

import html
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from markdown import Extension, Markdown

from dlcurriculum.core.errors import DlcError

CSS = """\
.md-typeset .badge { display: inline-block; border-radius: .3rem; padding: 0 .45rem;
  font-weight: 600; font-size: 85%; color: #fff; }
.md-typeset .pass { background: #1a7f37; } .md-typeset .fail { background: #cf222e; }
.md-typeset .other { background: #6e7781; } .md-typeset .na { background: #9a6700; }
.md-typeset .smoke { background: #8250df; }
.md-typeset ul.criteria { list-style: none; padding-left: 0; margin-left: 0; }
.md-typeset ul.criteria li { margin-left: 0; }
.md-typeset .muted { color: var(--md-default-fg-color--light); }
.md-typeset table:not([class]) { display: block; max-width: 100%; overflow-x: auto; }
.md-typeset td.num { text-align: right; font-variant-numeric: tabular-nums; }
.md-typeset p > code, .md-typeset li > code { overflow-wrap: anywhere; }  /* tables scroll */
.md-typeset math[display="block"] { overflow-x: auto; max-width: 100%; }
@media screen and (max-width: 44.98em) {  /* a long inline formula scrolls, not the page */
  .md-typeset math:not([display="block"]) { display: inline-block; max-width: 100%;
    overflow-x: auto; overflow-y: hidden; padding: .2em 0; vertical-align: middle; }
}
.md-typeset .figures { display: flex; flex-wrap: wrap; gap: .8rem; }
.md-typeset .figures figure { flex: 1 1 18rem; margin: 0; }
.md-typeset .figures img { width: 100%; height: auto; }
"""

SHIM = "assets/iframe-worker-shim.js"
"""Lets the search's Web Worker run over file:// (MIT, vendored: site/assets/)."""
PLACEHOLDER = "DLCFRAGMENT{}"
_PLACED = re.compile(r"<p>DLCFRAGMENT(\d+)</p>")
_INLINE_MATH = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK_MATH = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


class EscapeHtml(Extension):
    """Raw HTML in markdown is shown as text, never passed through."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def makeExtension(**kwargs: Any) -> EscapeHtml:
    return EscapeHtml(**kwargs)


def mathml(tex: str, display: bool) -> str:
    """TeX (as arithmatex escaped it) to MathML; DlcError names a formula it cannot convert."""
    from latex2mathml.converter import convert

    source = html.unescape(tex).strip()
    try:
        return str(convert(source, display="block" if display else "inline"))
    except Exception as e:  # latex2mathml raises many kinds for bad TeX
        raise DlcError(f"cannot typeset ${source}$ ({type(e).__name__}: {e})") from None


class Fragments:
    """HTML fragments by page: `add` returns the placeholder to put in the markdown."""

    def __init__(self) -> None:
        self.pages: dict[str, list[str]] = {}

    def add(self, page: str, fragment: str) -> str:
        frags = self.pages.setdefault(page, [])
        frags.append(fragment)
        return "\n\n" + PLACEHOLDER.format(len(frags) - 1) + "\n\n"


class Page:
    """A page being written: markdown of our own, with escaped HTML fragments placed in it."""

    def __init__(self, rel: str, fragments: Fragments, title: str = "", search: bool = True):
        self.rel, self.fragments, self.parts = rel, fragments, []
        meta = ([f"title: {title}"] if title else []) + (
            [] if search else ["search:", "  exclude: true"]
        )
        if meta:
            self.parts.append("---\n" + "\n".join(meta) + "\n---\n")

    def md(self, text: str) -> None:
        self.parts.append(text.strip("\n") + "\n")

    def html(self, fragment: str) -> None:
        if fragment:
            self.parts.append(self.fragments.add(self.rel, fragment))

    def section(self, heading: str, fragment: str) -> None:
        if fragment:
            self.md(f"\n## {heading}\n")
            self.html(fragment)

    def write(self, docs: Path) -> str:
        """Write the markdown under `docs`; returns the HTML page's path in the site."""
        path = docs / self.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.parts))
        return self.rel.removesuffix(".md") + ".html"


def _plugin(fragments: Fragments) -> Any:
    from mkdocs.plugins import BasePlugin

    class DlcPlugin(BasePlugin):  # type: ignore[type-arg]
        """Swaps placeholders for fragments and TeX for MathML."""

        def on_page_content(self, html_: str, page: Any, **kwargs: Any) -> str:
            frags = fragments.pages.get(page.file.src_uri, [])
            html_ = _PLACED.sub(lambda m: frags[int(m.group(1))], html_)
            html_ = _BLOCK_MATH.sub(lambda m: mathml(m.group(1), True), html_)
            return _INLINE_MATH.sub(lambda m: mathml(m.group(1), False), html_)

    return DlcPlugin()


def config(docs: Path, site: Path, nav: list[Any]) -> dict[str, Any]:
    """The mkdocs.yml of the site, as a dict."""
    return {
        "site_name": "Deep learning curriculum",
        "docs_dir": str(docs),
        "site_dir": str(site),
        "use_directory_urls": False,  # pages open from file:// as well as over HTTP
        "nav": nav,
        "not_in_nav": "/runs/**\n",
        "theme": {
            "name": "material",
            "font": False,  # no request to a font CDN: the site works offline
            "features": [
                "navigation.footer",
                "navigation.top",
                "navigation.indexes",
                "toc.follow",
                "search.highlight",
                "content.code.copy",
            ],
            "palette": [
                {
                    "scheme": "default",
                    "primary": "indigo",
                    "toggle": {"icon": "material/weather-night", "name": "Dark mode"},
                },
                {
                    "scheme": "slate",
                    "primary": "indigo",
                    "toggle": {"icon": "material/weather-sunny", "name": "Light mode"},
                },
            ],
        },
        "plugins": ["search", "offline"],
        "extra_css": ["dlc.css"],
        # the offline plugin would load this shim from a CDN; ours is in the package
        "extra": {"polyfills": [SHIM]},
        "markdown_extensions": [
            "dlcurriculum.site.generator",
            {"toc": {"permalink": True}},
            "admonition",
            "tables",
            "attr_list",
            "pymdownx.details",
            "pymdownx.superfences",
            {"pymdownx.highlight": {"use_pygments": True}},
            "pymdownx.inlinehilite",
            {"pymdownx.arithmatex": {"generic": True}},
        ],
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _mkdocs_warnings() -> Iterator[list[str]]:
    """MkDocs' warnings, collected instead of printed."""
    log = logging.getLogger("mkdocs")
    handler, propagate = _Collect(), log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield handler.messages
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def build(docs: Path, site: Path, nav: list[Any], fragments: Fragments) -> list[str]:
    """Build the markdown under `docs` into `site`; returns MkDocs' warnings."""
    import yaml
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    (docs / "dlc.css").write_text(CSS)
    (docs / SHIM).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).parent / SHIM, docs / SHIM)
    cfg_file = docs.parent / "mkdocs.yml"
    # absolute: MkDocs reads relative folders from the config file's folder, not ours
    settings = config(docs.resolve(), site.resolve(), nav)
    cfg_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    with _mkdocs_warnings() as warnings:
        cfg = load_config(str(cfg_file))
        cfg.plugins["dlc"] = _plugin(fragments)
        mkdocs_build(cfg)
    return warnings
