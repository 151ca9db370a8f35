"""A run as one self-contained HTML page: the widget's own module and CSS, and every event.

The page needs no Jupyter and no network. Its module is the widget's own (``bundle.front_end``),
loaded from a Blob URL, and it talks to a stand-in for the widget model that answers ``ready`` and
``envelopes`` from the events embedded in the page, just as the kernel would: that stand-in is
``static/export_bootstrap.js`` (joined with ``stand_in_model.js``, which the web view of runs shares),
given the kernel's limits and delta types (``messages.view_limits``)
and the HTML the kernel would attach to messages and the result (``messages.markdown_of``), by event id.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.pricing import view_prices
from workbench.notebook.files import MAX_INLINE_BYTES, file_content, files_note
from workbench.notebook.widget.bundle import STATIC, front_end, join_modules
from workbench.notebook.widget.messages import markdown_of, view_limits

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["export_html", "inline_script", "page_html", "script_json"]

PAGE_CSS = """
html { color-scheme: light dark; }
body { margin: 0; padding: 16px; background: #f6f7f9; }
@media (prefers-color-scheme: dark) { body { background: #010409; } }
#wb-app { max-width: 1100px; margin: 0 auto; }
.wb-footer { max-width: 1100px; margin: 8px auto 0; font: 12px system-ui, sans-serif; color: #8b949e; }
"""


def script_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<`` (so no ``</script>`` or ``<!--``)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def inline_script(source: str) -> str:
    """``source`` for a ``<script>`` element; our own code, so anything that would end it early is a bug."""
    if re.search(r"</script|<!--", source, re.IGNORECASE):
        raise ValueError("a script inlined in the exported page must not contain '</script' or '<!--'")
    return source


BOOTSTRAP = "export_bootstrap.js"

MAX_EMBEDDED_BYTES = 10 * MAX_INLINE_BYTES
"""Most bytes of the run's files embedded in one page; files past that show a note instead."""


def _files(run: "Run") -> dict[str, Any]:
    """The view's file list and, while they fit, the files' contents, for the page's stand-in kernel."""
    note = files_note(run) if run.done else None
    contents: dict[str, Any] = {}
    budget = MAX_EMBEDDED_BYTES
    for entry in (note or {}).get("files", []):
        content = file_content(run, entry["path"])
        shown = len(content.get("html") or content.get("text") or "")
        if shown > budget:
            content = {"path": entry["path"], "error": "not embedded in this page: open it in the workspace"}
        budget -= shown
        contents[entry["path"]] = content
    return {"files": note, "fileContents": contents}


@functools.cache
def bootstrap_module() -> str:
    """``static/export_bootstrap.js`` joined with the stand-in model it imports (``stand_in_model.js``)."""
    sources = {name: (STATIC / name).read_text("utf-8") for name in (BOOTSTRAP, "stand_in_model.js")}
    return join_modules(sources, BOOTSTRAP)


def page_html(*, title: str, css: str, payload: Any, bootstrap: str, footer: str, shows: str) -> str:
    """A self-contained page: ``css``, ``payload`` as the JSON of ``#wb-data``, and ``bootstrap``
    (already checked by :func:`inline_script`), which renders into ``#wb-app``. ``footer`` is HTML."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Agent Workbench">
<title>{html.escape(title, quote=False)}</title>
<style>{css}</style>
<style>{PAGE_CSS}</style>
</head>
<body>
<div id="wb-app"><noscript>This page needs JavaScript to show {shows}.</noscript></div>
<div class="wb-footer">{footer}</div>
<script type="application/json" id="wb-data">{script_json(payload)}</script>
<script type="module">{bootstrap}</script>
</body>
</html>
"""


def export_html(run: "Run", path: str | os.PathLike[str] | None = None) -> str:
    """One self-contained HTML page of the whole run, viewable offline without Jupyter.

    Writes it to ``path`` when given; returns the HTML either way.
    """
    events = [event.to_dict() for event in run.events]
    meta = {"runId": run.id, "task": run.task, "model": run.model, "strategy": run.strategy}
    rendered = {str(event.id): text for event in run.events if (text := markdown_of(event)) is not None}
    payload = {"meta": meta, "limits": view_limits(), "prices": view_prices(), "events": events, "html": rendered, "module": front_end(),
               **_files(run)}
    bootstrap = inline_script(bootstrap_module())
    css = (STATIC / "run_view.css").read_text("utf-8")
    footer = f"Run {html.escape(run.id)} · {len(events):,} events · exported from Agent Workbench"
    page = page_html(title=f"{run.task} · Agent Workbench", css=css, payload=payload, bootstrap=bootstrap,
                     footer=footer, shows="the run")
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page
