"""`dlc site serve`: the built site over HTTP on this machine only (127.0.0.1)."""

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dlcurriculum.core.errors import DlcError

HOST = "127.0.0.1"
"""Loopback only: the site shows local paths and run details, not meant for the network."""


def make_server(site: Path, port: int) -> ThreadingHTTPServer:
    """An HTTP server for the site folder on 127.0.0.1 (port 0 picks a free port)."""
    if not (site / "index.html").is_file():
        raise DlcError(f"{site} holds no site: build it first with `dlc site build --out {site}`")
    handler = functools.partial(_QuietHandler, directory=str(site))
    try:
        return ThreadingHTTPServer((HOST, port), handler)
    except OSError as e:
        raise DlcError(
            f"cannot listen on {HOST}:{port} ({e.strerror}): pass another --port"
        ) from None


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without a log line per request (the terminal stays readable)."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(site: Path, port: int) -> None:
    """Serve the site until Ctrl-C."""
    server = make_server(site, port)
    print(f"Serving {site} at http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
