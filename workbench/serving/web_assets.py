"""The web view of runs, as the servers see it: a page and the static files it loads.

The page and its modules belong to the front end (``workbench.notebook.web``, above this layer),
so the servers do not import them: whoever builds a server hands it a :class:`WebAssets`
(``workbench serve`` and the Jupyter extension do). None of it holds data or credentials,
so both servers serve it without authentication; every request the page makes for data
carries the token (or, in Jupyter, the login cookie) like any other client's. One route is the
web view's own: ``GET …/runs/{id}/markdown?from=&to=``, the HTML of a run's Markdown, rendered and
sanitized by the server as the kernel does for the notebook (the page never makes HTML of model text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, Sequence

if TYPE_CHECKING:
    from workbench.core.events import Event

__all__ = ["Mode", "WebAssets", "WEB_PATH", "ASSET_TYPES", "PAGE_HEADERS", "asset_headers"]

Mode = Literal["token", "jupyter"]
"""How the page authenticates: a token it asks for (standalone), or Jupyter's login cookie."""

WEB_PATH = "web"
"""Where the page's files are, beside the page: ``/web/…``, or ``{base_url}workbench/web/…``."""

ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Only this server's own scripts and requests; model text is never markup the page runs.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
                               "form-action 'none'; frame-ancestors 'self'",
}


def asset_headers(name: str) -> dict[str, str]:
    return {"Content-Type": ASSET_TYPES[name[name.rindex("."):]], "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff"}


class WebAssets(Protocol):
    """What a server needs to serve the web view."""

    def page(self, mode: Mode) -> bytes:
        """The HTML page (``/``, or ``{base_url}workbench/``)."""
        ...

    def asset(self, name: str) -> bytes | None:
        """The file ``web/<name>`` the page loads (a module, a style sheet), or None if there is none."""
        ...

    def markdown(self, events: Sequence[Event]) -> dict[str, str]:
        """The sanitized HTML of the whole messages and results among ``events``, by event id, as the
        kernel attaches it for the notebook's view (``GET …/runs/{id}/markdown``)."""
        ...
