"""The live comparison in a notebook: a table of the runs (``CompareTable``, an anywidget) above the
view of the run or the diff a person opened from it (``CompareView``, the two in a box).

The table's rows are traits, so a reloaded page or a saved notebook shows the table as it last was.
A pump on the workbench's loop re-reads them when a run's log grows or a sweep starts a run, at
most ``interval`` apart. Clicking a row opens that run's :class:`~workbench.notebook.widget.RunView`
below; ticking two rows and "Diff" opens their diff (``workbench.notebook.diff``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import anywidget
import ipywidgets  # type: ignore[import-untyped]  # untyped; what it is used for here is typed below
import traitlets

from workbench.core.comparison import CompareRow, camel
from workbench.core.loop import background_loop
from workbench.notebook.diff import DiffView
from workbench.notebook.widget import RunView
from workbench.notebook.widget.bundle import STATIC, front_end

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["CompareTable", "CompareView", "Compared", "row_json"]



def row_json(row: CompareRow) -> dict[str, Any]:
    """A row as the table's front end reads it: camelCase, with ``tokens`` (input + output)."""
    fields = {camel(name): value for name, value in dataclasses.asdict(row).items()}
    return {**fields, "tokens": row.tokens}


class Compared(Protocol):
    """What the view reads of a comparison (:class:`~workbench.notebook.compare.Comparison`, which imports this module)."""

    @property
    def runs(self) -> list[Run]: ...

    @property
    def done(self) -> bool: ...

    def rows(self) -> list[CompareRow]: ...

    def progress(self) -> str: ...

    def run_for(self, run_id: str) -> Run | None: ...

    def add_listener(self, listener: Callable[[], object]) -> None: ...

    def remove_listener(self, listener: Callable[[], object]) -> None: ...


class CompareTable(anywidget.AnyWidget):
    """The table: one row per run, a progress line, a tick box per row and a "Diff" button."""

    _esm = front_end("compare_view.js")
    _css = STATIC / "compare_view.css"
    rows: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """Each run's row (:func:`row_json`)."""
    option_keys: traitlets.List[str] = traitlets.List().tag(sync=True)
    """The options that differ between the runs: a column each."""
    progress = traitlets.Unicode("").tag(sync=True)
    opened = traitlets.Unicode("").tag(sync=True)
    """The run whose view is open below the table."""
    diffed: traitlets.List[str] = traitlets.List().tag(sync=True)
    """The two runs whose diff is open below the table."""


class CompareView(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The table, and below it the run or diff opened from it."""

    interval = 0.25
    """Least time between two refreshes of the rows, in seconds (at most 4 a second)."""

    def __init__(self, comparison: Compared, **kwargs: Any) -> None:
        self.comparison = comparison
        self.table = CompareTable()
        self.detail = ipywidgets.VBox()
        self.refreshes = 0
        self._loop = background_loop()
        self._stopped = False
        self._wake: asyncio.Event | None = None
        self._idle = threading.Event()
        super().__init__(children=(self.table, self.detail), **kwargs)
        self._refresh()
        self.table.on_msg(self._on_msg)
        self._pump_future = asyncio.run_coroutine_threadsafe(self._pump(), self._loop)
        self._pump_future.add_done_callback(lambda _: self._idle.set())

    # --- the rows, kept live ------------------------------------------------------------------

    def _refresh(self) -> None:
        rows = self.comparison.rows()
        self.table.option_keys = list(rows[0].options) if rows else []
        self.table.rows = [row_json(row) for row in rows]
        self.table.progress = self.comparison.progress()
        self.refreshes += 1

    async def _pump(self) -> None:
        wake = self._wake = asyncio.Event()

        def listener() -> None:
            self._loop.call_soon_threadsafe(wake.set)

        self.comparison.add_listener(listener)
        try:
            while not self._stopped:
                self._refresh()
                if self.comparison.done:
                    return
                await self._wait_for_change(wake)
                await asyncio.sleep(self.interval)  # what else comes meanwhile goes out with it
        finally:
            self.comparison.remove_listener(listener)

    async def _wait_for_change(self, wake: asyncio.Event) -> None:
        going = [run for run in self.comparison.runs if not run.done]
        waits = [asyncio.ensure_future(run.log.wait_beyond(run.log.published, published=True)) for run in going]
        waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            wake.clear()

    # --- what the table asks for ----------------------------------------------------------------

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "open":
            self.open_run(str(content.get("runId") or ""))
        elif kind == "close":
            self._show(None)
        elif kind == "diff":
            ids = content.get("runIds")
            if isinstance(ids, list) and len(ids) == 2:
                self.open_diff(str(ids[0]), str(ids[1]))

    def open_run(self, run_id: str) -> RunView | None:
        """Show the view of run ``run_id`` below the table (again: close it); the view, or None."""
        run = self.comparison.run_for(run_id)
        if run is None or self.table.opened == run_id:
            self._show(None)
            return None
        view = RunView(run)
        self._show(view)
        self.table.opened = run_id
        return view

    def open_diff(self, first: str, second: str) -> Any:
        """Show the diff of runs ``first`` and ``second`` below the table; the widget shown."""
        a, b = self.comparison.run_for(first), self.comparison.run_for(second)
        if a is None or b is None:
            return None
        shown = DiffView(a, b)
        self._show(shown)
        self.table.diffed = [first, second]
        return shown

    def _show(self, widget: Any | None) -> None:
        for old in self.detail.children:
            old.close()
        self.detail.children = () if widget is None else (widget,)
        self.table.opened = ""
        self.table.diffed = []

    def close(self) -> None:
        """Stop the pump and close the table and what is open below it."""
        self._stopped = True
        wake = self._wake
        if wake is not None:
            self._loop.call_soon_threadsafe(wake.set)
        self._idle.wait(2)
        self._show(None)
        self.table.close()
        self.detail.close()
        super().close()
