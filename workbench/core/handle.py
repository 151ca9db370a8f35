"""A run as the user holds it: its log, its live state, and its controls."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Generator, Protocol, Sequence, TypeVar, overload

from workbench.core import events as ev
from workbench.core.log import RunLog
from workbench.core.loop import running_loop
from workbench.core.agent_hooks import forker
from workbench.core.presenting import Presenter, presenter, register_presenter
from workbench.core.redact import scrub
from workbench.core.reducer import RunState, _apply, initial_state
from workbench.core.runfile import RunHeader, read_run_file, write_run_file
from workbench.errors import NotWaiting, RunFailed, UserError

if TYPE_CHECKING:
    import pandas
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["Presenter", "Run", "new_run_id", "register_presenter"]


class Canceller(Protocol):
    """Stops whatever feeds a run's log; what it returns (a loop's handle, say) goes unused."""

    def __call__(self, reason: str, interrupted: bool = False) -> object: ...


class Controller(Protocol):
    """The person's side of a running agent (``workbench.agent.controls.RunControls``).

    Its methods run on the run's loop and raise :class:`~workbench.errors.UserError` subclasses
    that say why a control does not fit where the run is.
    """

    def pause(self) -> None: ...

    def resume(self, *, step: bool = False, by: str | None = None) -> None: ...

    def decide(self, tool_use_id: str, decision: Any, params: Any = None, note: Any = None, *,
               by: str | None = None) -> None: ...

    def say(self, text: Any, *, by: str | None = None) -> None: ...


_T = TypeVar("_T")

CONTROL_TIMEOUT = 10.0
"""Seconds a control waits for the run's loop to take it (the loop answers in microseconds)."""


def new_run_id() -> str:
    """A fresh, URL-safe, unguessable run id."""
    return "r_" + secrets.token_hex(8)


class Run:
    """One run of an agent: an append-only event log, folded into :attr:`state` on demand.

    Start one with :func:`workbench.run`, or open a saved one with :func:`workbench.load`.
    ``await run`` (or ``run.wait()`` outside async code) waits for its end and returns the
    final state.
    """

    def __init__(
        self,
        *,
        run_id: str,
        task: str,
        model: str,
        strategy: str,
        created_at: str,
        log: RunLog | None = None,
        workspace: Path | None = None,
        owner: str | None = None,
        options: dict[str, Any] | None = None,
        tools: Sequence[str] | None = None,
        parent_id: str | None = None,
        forked_at: int | None = None,
    ) -> None:
        self.id = run_id
        self.task = scrub(task)  # as its events show it (summaries, stores, run file headers)
        self.model = model
        self.strategy = strategy
        self.created_at = created_at
        self.workspace = workspace
        self.owner = owner
        self.options: dict[str, Any] = dict(options or {})
        """The options the run was started with, camelCase, only those set (none naming a server path)."""
        self.tools: list[str] | None = list(tools) if tools is not None else None
        """The names of the run's tools; ``None`` when not known (a run file of an older workbench)."""
        self.parent_id = parent_id
        """The run this one was forked from (:meth:`fork`), or ``None``."""
        self.forked_at = forked_at
        """The last event copied from the parent: the fork point."""
        self.log = log if log is not None else RunLog(run_id)
        self._state = initial_state()
        self._folded = 0
        self._fold_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop the run executes on; None for a finished run read from a file or store."""
        self._task: object | None = None  # keeps the running task referenced
        self._canceller: Canceller | None = None
        """Stops whatever feeds the log (an orchestrator, a replay); set by whoever starts it."""
        self._controller: Controller | None = None
        """Pause, step, decisions and messages; set by whoever starts a run that takes them."""
        self._tool_objects: Sequence[Any] | None = None
        """The run's tools themselves, when it was started here (a fork takes them, functions and all)."""
        self._parent: Run | None = None
        """The run this one was forked from, when that happened here."""

    # --- reading -------------------------------------------------------------------------

    @property
    def events(self) -> Sequence[ev.Event]:
        """Every event so far, in order."""
        return self.log.events

    @property
    def state(self) -> RunState:
        """The run folded up to its latest event clients may see (the same object, brought up to date).

        On a server that is the latest stored event: what a stream of the run has sent.
        """
        with self._fold_lock:
            events, published = self.log.events, self.log.published
            while self._folded < published:
                _apply(self._state, events[self._folded])
                self._folded += 1
            return self._state

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def done(self) -> bool:
        """Whether the run has ended (its terminal event is in the log)."""
        return self.log.closed

    @property
    def result(self) -> str | None:
        """The final answer, once the run has completed."""
        return self.state.result

    def subscribe(self, after: int = 0) -> AsyncIterator[ev.Event]:
        """The events after id ``after``: the backlog, then live ones until the run ends."""
        return self.log.subscribe(after)

    def summary(self) -> dict[str, Any]:
        """The run summary of the HTTP contract."""
        state = self.state
        return {
            "id": self.id,
            "task": self.task,
            "model": self.model,
            "strategy": self.strategy,
            "status": "running" if state.status == "pending" else state.status,
            "createdAt": self.created_at,
            "endedAt": state.ended_at,
            "eventCount": self.log.published,
            "waiting": list(state.waiting),
            **({"parentId": self.parent_id, "forkedAt": self.forked_at} if self.parent_id is not None else {}),
        }

    def header(self) -> RunHeader:
        settings: dict[str, Any] = {"strategy": self.strategy, "options": self.options}
        if self.tools is not None:
            settings["tools"] = self.tools
        return RunHeader(run_id=self.id, task=self.task, model=self.model, created_at=self.created_at,
                         parent_id=self.parent_id, forked_at=self.forked_at, extra=settings)

    # --- controls ------------------------------------------------------------------------

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Stop the run promptly with ``execution:cancelled``; False if it had already ended."""
        if self.done or self._canceller is None:
            return False
        self._canceller(reason)
        return True

    def interrupt(self, reason: str = "the server stopped while this run was going") -> bool:
        """End the run now with ``execution:error`` of type ``interrupted`` (its host is going away)."""
        if self.done or self._canceller is None:
            return False
        self._canceller(reason, interrupted=True)
        return True

    def pause(self) -> None:
        """Hold the run at its next turn boundary (before a model call or a tool call).

        It emits ``execution:paused`` there and waits, calling no model, until :meth:`resume`,
        :meth:`step`, :meth:`cancel` or its ``timeout``.
        """
        self._control(lambda c: c.pause())

    def resume(self, step: bool = False, *, by: str | None = None) -> None:
        """Let a paused run go on; ``step=True`` pauses it again at the next boundary."""
        self._control(lambda c: c.resume(step=step, by=by))

    def step(self, *, by: str | None = None) -> None:
        """Go on to the next turn boundary and pause there (``resume(step=True)``)."""
        self.resume(step=True, by=by)

    def decide(self, tool_use_id: str, decision: str, params: dict[str, Any] | None = None,
               note: str | None = None, *, by: str | None = None) -> None:
        """Decide a tool call waiting for approval: ``"approve"``, ``"edit"`` (run it with
        ``params``, checked against the tool's schema) or ``"deny"`` (it does not run; the model
        reads a denial that quotes ``note``)."""
        self._control(lambda c: c.decide(tool_use_id, decision, params, note, by=by))

    def say(self, text: str, *, by: str | None = None) -> None:
        """Tell the agent something: the model reads it as a user turn at its next call."""
        self._control(lambda c: c.say(text, by=by))

    @property
    def takes_controls(self) -> bool:
        """Whether :meth:`pause`, :meth:`resume`, :meth:`step`, :meth:`decide` and :meth:`say` reach
        this run from here: it goes on and was started here, not loaded or replayed."""
        return self._controller is not None and not self.done

    @property
    def waiting(self) -> list[str]:
        """The ``toolUseId`` of each tool call waiting for a decision."""
        return list(self.state.waiting)

    def _control(self, act: Callable[[Controller], _T]) -> _T:
        """Run ``act`` on the run's loop and hand back what it returns or raises."""
        controller, loop = self._controller, self._loop
        if self.done:
            raise NotWaiting(f"run {self.id} has ended ({self.status}); there is nothing to control")
        if controller is None:
            raise UserError(f"run {self.id} takes no controls here: it was loaded or replayed, not started "
                            "in this process (attach to the server that runs it)")
        if loop is None or running_loop() is loop:  # no loop: a recorder's controls, safe from any thread
            return act(controller)
        answer: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def on_loop() -> None:
            try:
                answer.set_result(act(controller))
            except BaseException as exc:  # handed back to the caller's thread
                answer.set_exception(exc)

        loop.call_soon_threadsafe(on_loop)
        return answer.result(CONTROL_TIMEOUT)

    # --- forks -------------------------------------------------------------------------

    def fork(self, at: int | None = None, *, model: str | None = None, options: dict[str, Any] | None = None,
             tool_result: dict[str, Any] | None = None, message: str | None = None, tools: Any = None) -> "Run":
        """A new run that shares this one's events up to event ``at`` (default: the last) and goes
        on from there, without asking the model again for what they share.

        The fork copies the events up to the last model turn that had fully ended at event ``at``
        (its answer and the results of its tool calls), then goes on live. From there on it asks
        ``model`` with ``options`` (merged over this run's), when given. ``tool_result={"toolUseId":
        …, "result": …}`` changes what the model saw of one tool call of the copied part;
        ``message`` tells the agent something at the fork point. ``tools`` default to this run's.
        """
        if at is None:
            at = self.log.published
        fork: Run = forker()(self, at, model=model, options=options, tool_result=tool_result, message=message, tools=tools)
        return fork

    def lineage(self) -> list["Run"]:
        """This run, its parent, its parent's parent, … as far as they are known here."""
        chain: list[Run] = [self]
        while chain[-1].parent_id is not None:
            parent = chain[-1]._lookup_parent()
            if parent is None or parent in chain:
                break
            chain.append(parent)
        return chain

    def _lookup_parent(self) -> "Run | None":
        """The parent run, if this process holds it (a remote run asks its server)."""
        return self._parent

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the run as a run file (JSON Lines) and return its path. Works mid-run too."""
        return write_run_file(path, self.header(), list(self.log.events))

    async def wait_async(self, *, raise_on_error: bool = False) -> RunState:
        """Wait for the run's end and return its final state."""
        await self.log.wait_settled()
        return self._final(raise_on_error)

    def wait(self, timeout: float | None = None, *, raise_on_error: bool = False) -> RunState:
        """Block until the run ends (outside async code) and return its final state."""
        if self._loop is not None and running_loop() is self._loop:
            raise UserError("run.wait() would block the loop the run executes on; use 'await run' instead")
        if not self.log.wait_closed(timeout):
            raise TimeoutError(f"run {self.id} did not end within {timeout} s")
        return self._final(raise_on_error)

    def _final(self, raise_on_error: bool) -> RunState:
        state = self.state
        if raise_on_error and state.status == "error" and state.error is not None:
            raise RunFailed(state.error.type, state.error.message)
        return state

    def __await__(self) -> Generator[Any, None, RunState]:
        return self.wait_async().__await__()

    # --- construction --------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "Run":
        """A finished run read from a run file."""
        header, events = read_run_file(path)
        extra = header.extra or {}
        options, tools = extra.get("options"), extra.get("tools")
        run = cls(
            run_id=header.run_id,
            task=header.task,
            model=header.model,
            strategy=str(extra.get("strategy", "")),
            created_at=header.created_at,
            options=options if isinstance(options, dict) else None,
            tools=[str(t) for t in tools] if isinstance(tools, list) else None,
            parent_id=header.parent_id,
            forked_at=header.forked_at,
        )
        run.log.extend(events)
        run.log.close()
        return run

    # --- other views of the log -----------------------------------------------------------

    def replay(self, speed: float = 1.0, *, max_gap: float = 2.0) -> "Run":
        """A new :class:`Run` that re-streams these events with their original timing, ``speed`` times faster.

        Display it in a notebook to watch the run again in a live widget; ``cancel()`` stops it.
        """
        from workbench.core.loop import background_loop
        from workbench.core.replay import check_speed, replay_events

        clone = Run(run_id=self.id, task=self.task, model=self.model, strategy=self.strategy,
                    created_at=self.created_at, workspace=self.workspace, owner=self.owner,
                    options=self.options, tools=self.tools, parent_id=self.parent_id, forked_at=self.forked_at)
        source = list(self.log.events)
        check_speed(speed)  # now, not later in the background

        async def feed() -> None:
            try:
                async for event in replay_events(source, speed=speed, max_gap=max_gap):
                    clone.log.extend([event])
            finally:
                clone.log.close()

        loop = background_loop()
        future = asyncio.run_coroutine_threadsafe(feed(), loop)
        clone._loop, clone._task = loop, future
        clone._canceller = lambda reason, interrupted=False: loop.call_soon_threadsafe(future.cancel)
        return clone

    def files(self) -> list[Path]:
        """The files this run wrote (with ``write_file``), each once, in the order first written.

        Paths in :attr:`workspace`; for a run whose workspace is not on this machine (a run on a
        server, or one read from a file), the paths relative to the workspace it had.
        """
        from workbench.core.outputs import written_paths

        names = written_paths(self.events)
        if self.workspace is None:
            return [Path(name) for name in names]
        root = Path(os.path.abspath(self.workspace))
        return [root / name for name in names]

    def to_pandas(self, table: str = "events") -> "pandas.DataFrame":
        """The run as a table.

        ``"events"`` (the default): one row per event: id, type, ts, phase, step, tool, duration,
        error flag, text and the raw data. ``"phases"``: one row per phase, with its start, end,
        duration (ms), model and tool calls and tokens. ``"calls"``: one row per model call, with
        its phase, start, time to first token and duration (ms) and tokens.
        """
        if table not in ("events", "phases", "calls"):
            raise UserError(f"to_pandas() makes the tables 'events', 'phases' and 'calls', not {table!r}")
        try:
            import pandas
        except ImportError:
            raise UserError("to_pandas() needs pandas: pip install pandas") from None
        from workbench.core import tabular

        if table == "events":
            frame = pandas.DataFrame(tabular.event_rows(self.events), columns=list(tabular.COLUMNS))
            frame["ts"] = pandas.to_datetime(frame["ts"], utc=True)
            return frame
        rows, columns = ((tabular.phase_rows(self.state), tabular.PHASE_COLUMNS) if table == "phases"
                         else (tabular.call_rows(self.state), tabular.CALL_COLUMNS))
        frame = pandas.DataFrame(rows, columns=list(columns))
        for column in ("started_at", "ended_at"):
            if column in frame:
                frame[column] = pandas.to_datetime(frame[column], utc=True)
        return frame

    def to_otel(self, exporter: SpanExporter | None = None, *, capture_content: bool | None = None,
                trace_id_from_run: bool = False) -> str:
        """Send the run as one OpenTelemetry trace, by the GenAI semantic conventions; returns its trace id (hex).

        ``exporter``: any OpenTelemetry SDK ``SpanExporter``; by default the OTLP/HTTP exporter, set up
        from the standard environment (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
        ``OTEL_SERVICE_NAME``). ``capture_content``: include messages, thinking and tool arguments and
        results (default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, off unless set).
        ``trace_id_from_run``: derive the trace and span ids from the run, so that exporting it twice
        gives the same trace (default: random ids). Needs ``pip install 'agent-workbench[otel]'``.
        """
        from workbench.core.agent_hooks import conversation
        from workbench.core.otel import export_events

        rebuild = conversation()
        return export_events(list(self.log.events), exporter=exporter, capture_content=capture_content,
                             trace_id_from_run=trace_id_from_run,
                             requests=(lambda: rebuild(self)) if rebuild is not None else None)

    @overload
    def to_html(self, path: None = None) -> str: ...

    @overload
    def to_html(self, path: str | os.PathLike[str]) -> Path: ...

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str | Path:
        """One self-contained HTML page of the whole run, viewable offline without Jupyter.

        With ``path``, writes it there and returns the path (as :meth:`save` does), so a cell
        ending in ``run.to_html("run.html")`` shows a short path, not the page; without, returns the HTML.
        """
        page = presenter().export_html(self, path)
        return page if path is None else Path(path)

    def view(self) -> Any:
        """The live widget for this run (what a notebook shows when the run is a cell's value)."""
        return presenter().view(self)

    def _ipython_display_(self) -> None:
        presenter().display(self)

    def __repr__(self) -> str:
        state = self.state
        return f"<Run {self.id} {state.status} model={self.model!r} events={len(self.log)} task={self.task!r}>"
