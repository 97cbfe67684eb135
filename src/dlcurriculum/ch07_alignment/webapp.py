"""The labeling web page: one sample at a time, keys 1/2/3 (positive/neutral/negative), s, u.

Server-rendered (Starlette + Jinja2 with autoescape), no build step. Each key press submits a
plain HTML form; the server commits the label in its own transaction and only then answers with
a redirect to the next sample, so a label the page has moved past is on disk.

The same page runs the blind rating mode (`dlc label rate`): the source of each sample stays
hidden, and the per-source mean rating appears only once every sample is rated.

Defence in depth for a local tool: sample text is escaped (autoescape) and a Content Security
Policy allows only the page's own nonce-tagged script, so even unescaped markup could not run;
POSTs from other origins and requests for other host names (DNS rebinding) are refused.
"""

import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from dlcurriculum.ch07_alignment.labels import SKIP, LabelStore
from dlcurriculum.ch07_alignment.ratings import BlindRatings
from dlcurriculum.core.errors import DlcError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
KEYS = {"1": "positive", "2": "neutral", "3": "negative", "s": SKIP}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style nonce="{{ nonce }}">
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
.sample { white-space: pre-wrap; font-family: Georgia, serif; font-size: 1.15rem;
          border: 1px solid #bbb; border-radius: 4px; padding: 1rem; min-height: 6rem; }
progress { width: 100%; height: 1rem; }
form { display: inline; }
button { font-size: 1rem; padding: .5rem 1rem; margin: .75rem .3rem 0 0; cursor: pointer; }
kbd { border: 1px solid #999; border-radius: 3px; padding: 0 .3rem; font-size: .85rem; }
.note { color: #555; }
table { border-collapse: collapse; } td, th { padding: .3rem 1rem; border-bottom: 1px solid #ddd; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p><progress value="{{ done }}" max="{{ total or 1 }}"></progress><br>
<span id="progress">{{ done }} / {{ total }}</span> {{ unit }}</p>
{% if text is not none %}
<div class="sample" id="sample" data-item="{{ item }}">{{ text }}</div>
<form method="post" action="/label">
<input type="hidden" name="item" value="{{ item }}">
{% for key, label in buttons %}<button type="submit" name="label" value="{{ label }}"
 data-key="{{ key }}"><kbd>{{ key }}</kbd> {{ label }}</button>
{% endfor %}</form>
{% elif reveal %}
<div id="done"><p>All {{ total }} samples rated. The sources were:</p>
<table><tr><th>source</th><th>mean rating (positive +1, neutral 0, negative −1)</th></tr>
{% for source, mean in reveal %}<tr><td>{{ source }}</td><td>{{ "%+.2f"|format(mean) }}</td></tr>
{% endfor %}</table></div>
{% else %}
<div id="done"><p>{{ finished }}</p></div>
{% endif %}
<form method="post" action="/undo"><button type="submit" data-key="u"><kbd>u</kbd> undo</button>
</form>
<p class="note" id="status">{{ status }}</p>
<script nonce="{{ nonce }}">
// One submission per page: a held or double-pressed key must not label the next sample too.
let busy = false;
document.addEventListener("keydown", (event) => {
  if (busy || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
  const button = document.querySelector(`button[data-key="${CSS.escape(event.key)}"]`);
  if (!button) return;
  busy = true;
  event.preventDefault();
  button.click();
});
</script>
</body>
</html>
"""

_env = Environment(loader=DictLoader({"page.html": _PAGE}), autoescape=True)


def _csp(nonce: str) -> str:
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def _render(**context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _env.get_template("page.html").render(nonce=nonce, **context)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _csp(nonce),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",  # no-referrer would make Origin "null"
        },
    )


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form fields (first value each); no multipart, so no extra dependency."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _same_origin(request: Request) -> bool:
    """A browser POST carries Origin; it must be this server, not a page elsewhere."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser form (curl, httpx, tests)
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _status_line(request: Request, keys: dict[str, str]) -> str:
    """What the last action did (from the redirect's query), else the key legend."""
    saved = request.query_params.get("saved")
    if saved in keys.values():
        return f"Saved: {saved}."
    if request.query_params.get("undone") is not None:
        return "Undone: the last one is back."
    return "Keys: " + ", ".join(f"{k} {v}" for k, v in keys.items()) + ", u undo."


@dataclass(frozen=True)
class _Labeling:
    """Labeling mode: this labeler's queue of unlabeled samples."""

    store: LabelStore
    labeler: str
    source: str | None
    keys: ClassVar[dict[str, str]] = KEYS

    def page(self) -> dict[str, Any]:
        done, total = self.store.progress(self.labeler, self.source)
        sample = self.store.next_unlabeled(self.labeler, self.source)
        return dict(
            title=f"Labeling as {self.labeler}",
            done=done,
            total=total,
            unit="labeled or skipped",
            item=sample.id if sample else None,
            text=sample.text if sample else None,
            reveal=None,
            finished=f"All {total} samples labeled. `dlc label export` writes them to JSONL.",
        )

    def save(self, item: int, value: str) -> None:
        # A resubmitted page (back button, double click) must not label a sample twice.
        if self.store.label_of(item, self.labeler) is None:
            self.store.record(item, value, self.labeler)

    def undo(self) -> None:
        self.store.undo(self.labeler)


@dataclass(frozen=True)
class _Rating:
    """Blind rating mode: one session's shuffled items; sources shown only when complete."""

    ratings: BlindRatings
    session: int
    keys: ClassVar[dict[str, str]] = {k: v for k, v in KEYS.items() if v != SKIP}  # no skips

    def page(self) -> dict[str, Any]:
        done, total = self.ratings.progress(self.session)
        nxt = self.ratings.next_item(self.session)
        return dict(
            title="Blind rating",
            done=done,
            total=total,
            unit="rated (sources hidden)",
            item=nxt[0] if nxt else None,
            text=nxt[1].text if nxt else None,
            reveal=sorted(self.ratings.reveal(self.session).items()) if nxt is None else None,
            finished="",
        )

    def save(self, item: int, value: str) -> None:
        self.ratings.rate(self.session, item, value)

    def undo(self) -> None:
        self.ratings.undo(self.session)


def create_app(
    db: Path,
    labeler: str,
    *,
    session: int | None = None,
    source: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The labeling app on the store at `db`.

    Args:
        db: the SQLite label store (created if missing).
        labeler: whose labels these are; progress and undo are per labeler.
        session: a blind-rating session id (from `BlindRatings.session`); None labels.
        source: in labeling mode, show only samples of this source.
        allowed_hosts: Host header names served; default loopback names only.
    """
    store = LabelStore(db)
    mode: _Labeling | _Rating = (
        _Labeling(store, labeler, source)
        if session is None
        else _Rating(BlindRatings(store), session)
    )

    def page(request: Request) -> Response:
        return _render(
            **mode.page(), buttons=list(mode.keys.items()), status=_status_line(request, mode.keys)
        )

    async def label(request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("Cross-origin form refused.", status_code=403)
        form = await _form(request)
        try:
            item = int(form.get("item", ""))
        except ValueError:
            return PlainTextResponse("The form needs an integer 'item'.", status_code=400)
        value = form.get("label", "")
        try:
            # The commit waits for fsync: keep it off the event loop.
            await run_in_threadpool(mode.save, item, value)
        except DlcError as e:
            return PlainTextResponse(str(e), status_code=400)
        # 303: the browser follows with a GET, so reloading the next page resubmits nothing.
        return RedirectResponse(f"/?saved={value}", status_code=303)

    async def undo(request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("Cross-origin form refused.", status_code=403)
        await run_in_threadpool(mode.undo)
        return RedirectResponse("/?undone=1", status_code=303)

    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOOPBACK_HOSTS)
    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/label", label, methods=["POST"]),
            Route("/undo", undo, methods=["POST"]),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)],
    )


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A listening socket (port 0 picks a free one); the URL is known before serving starts.

    Raises:
        DlcError: the address is taken or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise DlcError(f"Cannot listen on {host}:{port} ({e}): pick another --port.") from e
    # Listening before serving: a client that connects early waits in the backlog.
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    """The http URL a bound socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(app: Starlette, sock: socket.socket) -> None:
    """Serve the app on the socket until Ctrl-C (uvicorn, access log off)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
