"""Showing a run in a notebook: the live widget, with a static summary beside it.

The output holds the widget view (what JupyterLab, Notebook 7 and VS Code render) and a
``text/html`` summary (what GitHub, nbviewer and a reopened notebook without its kernel
show). When the run ends, the output is updated once, so a saved notebook carries the
final summary rather than the one from when the run had just started.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from workbench.core.loop import background_loop
from workbench.notebook.summary import summary_html

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["mimebundle", "display_run"]


def mimebundle(run: "Run", view: Any | None = None) -> dict[str, Any]:
    """The run's output bundle: the widget view (when widgets are available), HTML and text."""
    bundle: dict[str, Any] = {"text/plain": repr(run), "text/html": summary_html(run.state)}
    if view is not None:
        widget_bundle = view._repr_mimebundle_()
        if isinstance(widget_bundle, tuple):  # (data, metadata) in some ipywidgets versions
            widget_bundle = widget_bundle[0]
        bundle.update({k: v for k, v in widget_bundle.items() if k != "text/plain"})
    return bundle


def _view_for(run: "Run") -> Any | None:
    try:
        from workbench.notebook.widget import RunView
    except ImportError:  # anywidget is an optional dependency of the notebook extra
        return None
    return RunView(run)


def display_run(run: "Run") -> None:
    """Display ``run`` in the current notebook cell; refresh the summary when it ends."""
    from IPython.display import display, update_display

    view = _view_for(run)
    display_id = uuid.uuid4().hex
    display(mimebundle(run, view), raw=True, display_id=display_id)
    if run.done:
        return

    async def refresh_when_done() -> None:
        await run.wait_async()
        update_display(mimebundle(run, view), raw=True, display_id=display_id)

    asyncio.run_coroutine_threadsafe(refresh_when_done(), background_loop())
