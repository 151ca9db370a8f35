"""``wb.compare(runs)`` and ``wb.sweep(...)``: runs side by side, as a live table and a DataFrame.

A :class:`Comparison` holds runs given to it, or the slots of a sweep that starts them (see
:mod:`workbench.core.sweep`); its rows are read from the runs' states when asked
(:mod:`workbench.core.comparison`), so they are always those of now. In a notebook it shows
itself as :class:`~workbench.notebook.compare.view.CompareView`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from workbench.core.comparison import COLUMNS, CompareRow, Entry, camel_options, comparison_rows, progress_line
from workbench.core.handle import Run
from workbench.core.loop import running_loop
from workbench.core.sweep import Setting, Slot, Sweeper, check_concurrency, sweep_settings
from workbench.errors import UserError

if TYPE_CHECKING:
    import pandas

    from workbench.notebook.compare.view import CompareView

__all__ = ["Comparison", "compare", "sweep"]

DEFAULT_MODEL = "default"
"""The model of a run not yet started with none named (``wb.run``'s default: known once it starts)."""

Starter = Callable[..., Run]
"""``wb.run``: ``start(task, model=..., strategy=..., tools=..., options=...)``."""


class Comparison:
    """Runs side by side: one row per run, filled in live while they go on.

    ``rows()`` and ``to_pandas()`` give the table now; ``wait()`` waits for every run to end
    (and, for a sweep, every run to start). Shown in a notebook it is a live table where a row
    opens its run's view and two ticked rows their diff.
    """

    def __init__(self, runs: Sequence[Run] = (), *, sweeper: Sweeper | None = None) -> None:
        self._given = list(runs)
        self._sweeper = sweeper
        self._listeners: list[Callable[[], object]] = []

    # --- what it holds ----------------------------------------------------------------------

    @property
    def runs(self) -> list[Run]:
        """The runs started so far, in the table's order (a sweep's queued or refused ones are not runs)."""
        if self._sweeper is None:
            return list(self._given)
        return [slot.run for slot in self._sweeper.slots if slot.run is not None]

    @property
    def sweeper(self) -> Sweeper | None:
        """What starts a sweep's runs (None for ``wb.compare``)."""
        return self._sweeper

    def entries(self) -> list[Entry]:
        """What each row is read from, as of now."""
        return [entry for entry, _ in self._entries()]

    def _entries(self) -> list[tuple[Entry, Run | None]]:
        if self._sweeper is None:
            return [(_run_entry(run, run.options), run) for run in self._given]
        return [_slot_entry(slot) for slot in self._sweeper.slots]

    def rows(self) -> list[CompareRow]:
        """One row per run, as of now."""
        entries = self._entries()  # once: a sweep may start a run meanwhile
        return comparison_rows([entry for entry, _ in entries], [_last_ts(run) for _, run in entries])

    def run_for(self, run_id: str) -> Run | None:
        """The run with id ``run_id`` among these, or None."""
        return next((run for run in self.runs if run.id == run_id), None)

    def progress(self) -> str:
        """``4 of 6 done, 2 running, 0 queued``."""
        return progress_line(self.rows())

    @property
    def done(self) -> bool:
        """Whether every run has ended (and a sweep has started or given up on each)."""
        if self._sweeper is not None and not self._sweeper.finished:
            return False
        return all(run.done for run in self.runs)

    # --- waiting and stopping -----------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until :attr:`done` (outside async code); returns the comparison, for ``.wait().to_pandas()``."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if self._sweeper is not None and not self._sweeper.wait(left()):
            raise TimeoutError(f"the sweep did not end within {timeout} s ({self.progress()})")
        for run in self.runs:
            if run._loop is not None and running_loop() is run._loop:
                raise UserError("comparison.wait() would block the loop its runs execute on; use 'await comparison'")
            if not run.log.wait_closed(left()):
                raise TimeoutError(f"the runs did not all end within {timeout} s ({self.progress()})")
        return self

    async def wait_async(self) -> Comparison:
        if self._sweeper is not None:
            await self._sweeper.wait_async()
        for run in self.runs:
            await run.wait_async()
        return self

    def __await__(self) -> Generator[Any, None, Comparison]:
        return self.wait_async().__await__()

    def cancel(self, reason: str = "the comparison was cancelled") -> int:
        """Start no more of a sweep's runs and cancel those going; how many were cancelled."""
        if self._sweeper is not None:
            self._sweeper.stop()
        return sum(1 for run in self.runs if run.cancel(reason))

    # --- listening (the live view) --------------------------------------------------------------

    def add_listener(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` (on the workbench's loop) when a sweep starts a run, is refused one, or one ends."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], object]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # --- views ------------------------------------------------------------------------------

    def to_pandas(self) -> pandas.DataFrame:
        """The table: run_id, status, model, the options that differ between the runs, phases_done,
        phases_total, tool_calls, tool_errors, tokens (input + output), input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, cost_usd, duration_ms and result (its first line)."""
        try:
            import pandas
        except ImportError:
            raise UserError("to_pandas() needs pandas: pip install pandas") from None
        rows = self.rows()
        option_keys = list(rows[0].options) if rows else []
        columns = [*COLUMNS[:3], *option_keys, *COLUMNS[3:]]
        return pandas.DataFrame([row.to_dict() for row in rows], columns=columns)

    def view(self) -> CompareView:
        """The live table widget (what a notebook shows when the comparison is a cell's value)."""
        from workbench.notebook.compare.view import CompareView

        return CompareView(self)

    def _ipython_display_(self) -> None:
        """The live table, with the plain table as HTML beside it (what a notebook saved without its
        widgets shows), shown again once every run has ended."""
        from workbench.notebook.display import display_refreshed, with_widget

        try:
            view: CompareView | None = self.view()
        except ImportError:  # anywidget is an optional dependency of the notebook extra
            view = None
        display_refreshed(lambda: with_widget({"text/plain": repr(self), "text/html": self._repr_html_()}, view),
                          None if self.done else self.wait_async)

    def _repr_html_(self) -> str:
        from workbench.notebook.compare.table_html import comparison_html

        return comparison_html(self.rows(), self.progress())

    def __len__(self) -> int:
        return len(self.entries())

    def __repr__(self) -> str:
        kind = "sweep" if self._sweeper is not None else "comparison"
        return f"<{kind} of {len(self)} runs: {self.progress()}>"


def _run_entry(run: Run, options: dict[str, Any], model: str | None = None) -> Entry:
    return Entry(model=model or run.model, options=options, state=run.state, run_id=run.id)


def _slot_entry(slot: Slot) -> tuple[Entry, Run | None]:
    """A slot's entry, and its run as that entry read it (the sweep may start it meanwhile)."""
    asked = camel_options(slot.setting.options)
    run, error = slot.run, slot.error
    if run is not None:
        # What was asked wins: a run's own options leave out defaults (seed 0), and a run on a server has none.
        return _run_entry(run, {**run.options, **asked}, slot.setting.model), run
    return Entry(model=slot.setting.model or DEFAULT_MODEL, options=asked, error=error), None


def _last_ts(run: Run | None) -> str | None:
    if run is None:
        return None
    last = run.state.last_event_id
    return run.log.events[last - 1].ts if last else None


def compare(runs: Sequence[Run]) -> Comparison:
    """Runs side by side: a live table, one row per run (see :class:`Comparison`)."""
    if isinstance(runs, Run) or not isinstance(runs, Sequence) or isinstance(runs, str):
        raise UserError("compare() takes a list of runs, e.g. wb.compare([run_a, run_b])")
    if not runs:
        raise UserError("compare() needs at least one run")
    strays = [item for item in runs if not isinstance(item, Run)]
    if strays:
        raise UserError(f"compare() takes runs (from wb.run, wb.load or wb.attach), not {type(strays[0]).__name__}")
    return Comparison(runs)


def sweep(start: Starter, task: str, *, models: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
          options: Sequence[dict[str, Any]] | None = None, strategy: str = "plan", tools: Sequence[Any] | None = None,
          concurrency: int = 4) -> Comparison:
    """Start ``task`` with every combination of ``models × seeds × options`` through ``start`` (``wb.run``),
    at most ``concurrency`` at once; the comparison, at once, fills in as they go."""
    if not isinstance(task, str) or not task.strip():
        raise UserError("the task must be a non-empty string, e.g. wb.sweep('Write a haiku', seeds=[1, 2, 3])")
    # The strategy is checked where each run starts (here, or by the server): checking it here would load
    # the agent, and the SDK with it, into a kernel whose runs all go to a server.
    settings = sweep_settings(models, seeds, options)
    concurrency = check_concurrency(concurrency)
    tool_list = list(tools) if tools is not None else None

    def start_one(setting: Setting) -> Run:
        return start(task, model=setting.model, strategy=strategy, tools=tool_list, options=setting.options)

    comparison = Comparison()
    comparison._sweeper = Sweeper(settings, start_one, concurrency, on_change=comparison._changed)
    return comparison
