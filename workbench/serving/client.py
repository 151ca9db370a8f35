"""The JavaScript client both servers hand out: ``static/follow_run.js``, one ES module that
follows a run's event stream from a browser or from Node (see the README's "Following a run
from JavaScript").

It is a static file of the package with no data in it, so both servers serve it without
authentication: a page (or a Node script) needs it before it has anything to authenticate with.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["CLIENT_FILE", "CLIENT_HEADERS", "CLIENT_PATH", "client_source"]

CLIENT_FILE = Path(__file__).resolve().parent / "static" / "follow_run.js"

CLIENT_PATH = "client/follow_run.js"
"""Where each server serves it: ``/client/follow_run.js``, or ``{base_url}workbench/client/follow_run.js``."""

CLIENT_HEADERS = {
    "Content-Type": "text/javascript; charset=utf-8",
    # A new version of the package must not be hidden behind an old cached copy.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # Module scripts load in CORS mode: any page may import this public file (never with credentials).
    "Access-Control-Allow-Origin": "*",
}


@cache
def client_source() -> bytes:
    """The module's bytes, read once."""
    return CLIENT_FILE.read_bytes()
