"""The web view's page and files, for the servers (:class:`workbench.serving.web_assets.WebAssets`).

The page (``static/index.html``) loads ``web/app.js`` and the modules it imports, each a plain ES
module served as it is, with three made here: ``run_view.js``, the widget's front end joined into
one module (``widget.bundle.front_end``), ``stand_in_model.js``, shared with the exported page, and
``follow_run.js``, the JavaScript client both servers hand out. The kernel's limits and the model
prices go into the page as JSON, as the exported page has them.

The widget's modules are imported on the first request for the page, not with the server.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from workbench.core.pricing import view_prices
from workbench.serving.client import client_source
from workbench.serving.web_assets import ASSET_TYPES, Mode

if TYPE_CHECKING:
    from workbench.core.events import Event

__all__ = ["WEB_VIEW", "WebView"]

STATIC = Path(__file__).resolve().parent / "static"


class WebView:
    """The web view's files, read once."""

    def page(self, mode: Mode) -> bytes:
        return _page(mode)

    def markdown(self, events: Sequence[Event]) -> dict[str, str]:
        from workbench.notebook.widget.messages import markdown_of

        return {str(event.id): html for event in events if (html := markdown_of(event)) is not None}

    def asset(self, name: str) -> bytes | None:
        files = _generated()
        if name in files:
            return files[name]
        path = STATIC / name
        if "/" in name or name.startswith(".") or path.suffix not in ASSET_TYPES or not path.is_file():
            return None
        return _read(path)


@functools.cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


@functools.cache
def _generated() -> dict[str, bytes]:
    from workbench.notebook.widget.bundle import STATIC as WIDGET_STATIC
    from workbench.notebook.widget.bundle import front_end

    return {
        "run_view.js": front_end().encode(),
        "run_view.css": (WIDGET_STATIC / "run_view.css").read_bytes(),
        "stand_in_model.js": (WIDGET_STATIC / "stand_in_model.js").read_bytes(),
        "follow_run.js": client_source(),
    }


@functools.cache
def _page(mode: Mode) -> bytes:
    from workbench.notebook.widget.messages import view_limits

    config = {"mode": mode, "limits": view_limits(), "prices": view_prices()}
    text = json.dumps(config, separators=(",", ":")).replace("<", "\\u003c")
    return (STATIC / "index.html").read_text("utf-8").replace("{{CONFIG}}", text).encode()


WEB_VIEW = WebView()
