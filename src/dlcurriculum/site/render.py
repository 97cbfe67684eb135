"""HTML for the site: markdown through markdown-it-py, and the page layout.

Everything that comes from files (run names, reports, metrics, configs) is text to show,
never markup: markdown-it runs with raw HTML disabled, and every value put into the layout
goes through `html.escape`.
"""

import hashlib
import html
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def esc(value: object) -> str:
    """Any value as HTML text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def slug(name: str) -> str:
    """A file-system and URL safe name for a folder of the site; odd names get a hash so two
    of them cannot collide."""
    if _SAFE.fullmatch(name) and name not in (".", ".."):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "run"
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def href(path: str) -> str:
    """A relative URL for a site path, percent-encoded and HTML-escaped."""
    return esc(quote(path))


def badge(text: str, kind: str) -> str:
    """A coloured label; kind is one of pass, fail, na (not measured), smoke, other."""
    return f'<span class="badge {kind}">{esc(text)}</span>'


BADGE_KINDS = {
    "PASS": "pass",
    "FAIL": "fail",
    "N/A": "na",
    "INCOMPLETE": "na",
    "SMOKE": "smoke",
    "unreadable": "fail",
}
"""The badge of each verdict and run status; anything else is neutral."""


def table(header: Iterable[object] | None, rows: Iterable[Iterable[object]]) -> str:
    """An HTML table of escaped values (no header row when `header` is None); numbers are
    right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header or ())
    body = []
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, int | float) and not isinstance(value, bool):
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                cells.append(f'<td class="num">{esc(text)}</td>')
            else:
                cells.append(f"<td>{esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return not (parts.scheme or parts.netloc or url.startswith(("#", "/")))


def _resolve(url: str, source: Path) -> Path | None:
    """The file a relative link points to, if it exists inside `source`."""
    target = (source / unquote(urlsplit(url).path)).resolve()
    if target.is_file() and target.is_relative_to(source.resolve()):
        return target
    return None


def _localize(tokens: list[Token], source: Path, dest: Path) -> None:
    """Copy the local files that links and images point to from `source` to `dest`; a link
    to a file that is not there becomes plain text, so the site has no broken links."""
    for tok in tokens:
        if tok.children:
            _localize(tok.children, source, dest)
    kept: list[Token] = []
    skip_close = 0
    for tok in tokens:
        attr = "src" if tok.type == "image" else "href" if tok.type == "link_open" else None
        url = str(tok.attrs.get(attr, "")) if attr else ""
        if attr and url and _is_local(url):
            target = _resolve(url, source)
            if target is None:
                if tok.type == "image":
                    missing = Token("text", "", 0, content=f"[figure not found: {url}]")
                    kept.append(missing)
                else:
                    skip_close += 1
                continue
            copy = dest / target.relative_to(source.resolve())
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, copy)
        if tok.type == "link_close" and skip_close:
            skip_close -= 1
            continue
        kept.append(tok)
    tokens[:] = kept


def markdown(
    text: str, source: Path | None = None, dest: Path | None = None, shift: int = 0
) -> str:
    """Markdown to HTML with raw HTML shown as text.

    With `source` and `dest`, relative links and images are files next to the markdown:
    they are copied into the site folder `dest` (so the page works without a server), or
    turned into plain text when missing. `shift` demotes headings (1: # becomes h2), for
    markdown shown inside a page that has its own title.
    """
    tokens = _MD.parse(text)
    if source is not None and dest is not None:
        _localize(tokens, source, dest)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + shift)}"
    return str(_MD.renderer.render(tokens, _MD.options, {}))
