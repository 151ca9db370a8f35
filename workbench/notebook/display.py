"""Showing a run in a notebook: the live widget, with a static summary beside it.

The output holds the widget view (what JupyterLab, Notebook 7 and VS Code render) and a
``text/html`` summary (what GitHub, nbviewer and a reopened notebook without its kernel
show). When the run ends, the output is updated once, so a saved notebook carries the
final summary rather than the one from when the run had just started.

That update goes out as output of whichever cell is executing when the run ends, not of the
cell that showed the run (long finished by then): nbclient (nbval, papermill, ``jupyter
execute``) reads only the executing cell's messages, and applies a display update to any cell.
JupyterLab and Notebook 7 apply it either way. A run shown before its first event says who it
is from the run itself, not "(no task)".
"""

from __future__ import annotations

import contextvars
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from workbench.core.loop import background_loop
from workbench.notebook.summary import summary_html

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["display_refreshed", "display_run", "mimebundle", "with_widget"]


def with_widget(bundle: dict[str, Any], view: Any | None) -> dict[str, Any]:
    """``bundle`` (text and HTML) with the widget ``view``'s own output added, when there is one."""
    if view is not None:
        widget_bundle = view._repr_mimebundle_()
        if isinstance(widget_bundle, tuple):  # (data, metadata) in some ipywidgets versions
            widget_bundle = widget_bundle[0]
        bundle.update({k: v for k, v in widget_bundle.items() if k != "text/plain"})
    return bundle


def mimebundle(run: "Run", view: Any | None = None) -> dict[str, Any]:
    """The run's output bundle: the widget view (when widgets are available), HTML and text."""
    state = run.state
    if not state.run_id:  # no event yet: the run's identity is known all the same
        state = dataclasses.replace(state, run_id=run.id, task=run.task, model=run.model, strategy=run.strategy)
    return with_widget({"text/plain": repr(run), "text/html": summary_html(state)}, view)


def _view_for(run: "Run") -> Any | None:
    try:
        from workbench.notebook.widget import RunView
    except ImportError:  # anywidget is an optional dependency of the notebook extra
        return None
    return RunView(run)


def display_run(run: "Run") -> None:
    """Display ``run`` in the current notebook cell; refresh the summary when it ends."""
    view = _view_for(run)
    display_refreshed(lambda: mimebundle(run, view), None if run.done else run.wait_async)


def display_refreshed(bundle: Callable[[], dict[str, Any]], end: Callable[[], Awaitable[object]] | None) -> None:
    """Display ``bundle()`` in the current notebook cell, and once more when ``end()`` has come
    (None: it has), so that a saved notebook carries the final summary."""
    from IPython.display import display, update_display

    display_id = uuid.uuid4().hex
    display(bundle(), raw=True, display_id=display_id)
    if end is None:
        return

    async def refresh_when_done() -> None:
        await end()
        update_display(bundle(), raw=True, display_id=display_id)

    # An empty context: the kernel's display publisher then finds no parent of this thread and
    # sends the update as output of the latest request (ipykernel's "global" parent), the cell
    # executing now, rather than of the finished cell whose context a copy would carry.
    loop = background_loop()
    loop.call_soon_threadsafe(lambda: loop.create_task(refresh_when_done(), context=contextvars.Context()))
