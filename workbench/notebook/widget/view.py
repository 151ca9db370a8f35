"""The notebook widget of a run: the kernel side of ``RunView``.

The log is the source of truth, so widget state holds only the run's identity. Events go
to the browser as custom messages, merged and rate-limited by a pump on the run's loop;
views that appear later (another view, a page reload) ask for the backlog with ``ready``.
A run started in this kernel also takes the view's controls (``controls.py``): Pause, Resume,
Step, decisions on its tool calls and messages to the agent.

"Fork from here" in the inspector forks the run (``fork_control.py``); the view then shows the
fork, and a tab strip above it switches between the runs forked from this view and the one it
was made for. Switching re-targets the view: the kernel says ``{kind: "target", …}`` (the run's
identity), then sends the new run's events from the first, tagged with its ``runId``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anywidget
import traitlets

from workbench.core.loop import background_loop
from workbench.core.pricing import view_prices
from workbench.notebook.files import file_content, files_note
from workbench.notebook.widget.bundle import STATIC, front_end
from workbench.notebook.widget.controls import CONTROL_KINDS, control
from workbench.notebook.widget.fork_control import fork_from_view, forkable
from workbench.notebook.widget.messages import chunked, merged_items, raw_envelopes

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["RunView"]


class RunView(anywidget.AnyWidget):
    """A live view of ``run``: header, plan, steps and an inspector to step through its events."""

    _esm = front_end()  # static/run_view.js and the files it imports, as one module (see bundle.py)
    _css = STATIC / "run_view.css"
    run_id = traitlets.Unicode("").tag(sync=True)
    task = traitlets.Unicode("").tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    strategy = traitlets.Unicode("").tag(sync=True)
    prices = traitlets.Dict().tag(sync=True)
    """The price table in force (core/pricing.py), for the view's cost estimate while the run goes on."""
    server = traitlets.Unicode("").tag(sync=True)
    """Where the run goes on: ``""`` (this kernel), ``"jupyter"`` or ``"standalone"``."""
    server_path = traitlets.Unicode("").tag(sync=True)
    """The path of that server's API (``/workbench/api``): the browser follows the run from it once
    the kernel is gone, when it is its own page's server. A path only, never a token: widget state
    is saved into the notebook."""
    controls = traitlets.Bool(False).tag(sync=True)
    """Whether the run takes the view's controls: one started in this kernel, still going (not a
    loaded, replayed or finished run). It turns false when the run ends."""
    forkable = traitlets.Bool(False).tag(sync=True)
    """Whether the inspector offers "Fork from here": a run of an agent (plan or react), not a recording."""
    runs: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """The view's tabs, once it has forked: ``{id, parentId, at}`` of the run it was made for and of
    each fork made from it, in the order they were made; empty before the first fork."""

    interval = 0.05
    """Least time between two ``events`` messages, in seconds (at most 20 a second)."""

    def __init__(self, run: "Run", **kwargs: Any) -> None:
        connection = getattr(run, "connection", None)  # a RemoteRun's (not imported here: it brings aiohttp)
        kind, api = str(getattr(connection, "kind", "")), str(getattr(connection, "api", ""))
        super().__init__(run_id=run.id, task=run.task, model=run.model, strategy=run.strategy,
                         prices=view_prices(), controls=run.takes_controls, forkable=forkable(run),
                         server=kind, server_path=urlsplit(api).path if kind else "", **kwargs)
        self.run = run
        self.family: dict[str, Run] = {run.id: run}
        """The runs this view can show: the one it was made for and the forks made from it."""
        self._generation = 0  # bumped when the view re-targets: what the pump was sending is dropped
        self.messages_sent = 0
        self.bytes_sent = 0
        self._sent = 0  # events broadcast by the pump so far; every view has seen them or will ask
        self._last_send = float("-inf")
        self._backlog_wanted = False
        self._pumping = True
        self._closing = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = threading.Event()  # set once no task of this view is left on the loop
        loop = run._loop
        self._loop = loop if loop is not None and not loop.is_closed() else background_loop()
        self.on_msg(self._on_msg)
        self._loop.call_soon_threadsafe(self._spawn, self._pump)

    # --- kernel side: on the run's loop ---------------------------------------------------

    def _spawn(self, factory: Any) -> None:
        if self._closing:
            if factory == self._pump:
                self._pumping = False
            if not self._tasks:
                self._idle.set()
            return
        self._idle.clear()
        task = self._loop.create_task(factory())
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def _pump(self) -> None:
        try:
            while True:
                log, generation = self.run.log, self._generation  # both change when the view re-targets
                if self._backlog_wanted:
                    self._backlog_wanted = False
                    await self._send_items(merged_items(log.events[: self._sent]))
                if self._sent < len(log.events):
                    await self._pace()
                    end = len(log.events)  # everything new, taken after the pause
                    await self._send_items(merged_items(log.events[self._sent:end]), generation)
                    if generation == self._generation:
                        self._sent = end
                elif log.closed:
                    self.controls = False
                    self._emit_files()
                    return
                else:
                    await self._wait(log)
        finally:
            self._pumping = False

    async def _wait(self, log: Any) -> None:
        waits = [asyncio.ensure_future(log.wait_beyond(self._sent)), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            self._wake.clear()

    async def _pace(self) -> None:
        delay = self._last_send + self.interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _send_items(self, items: list[dict[str, Any]], generation: int | None = None) -> None:
        generation = self._generation if generation is None else generation
        run_id = self.run.id
        async with self._lock:
            for chunk in chunked(items):
                await self._pace()
                if generation != self._generation:
                    return  # the view shows another run now
                self._emit({"kind": "events", "runId": run_id, "events": chunk})
                self._last_send = time.monotonic()

    async def _send_backlog(self) -> None:
        await self._send_items(merged_items(self.run.log.events[: self._sent]))
        if self.run.log.closed:
            self._emit_files()

    def _emit_files(self) -> None:
        """The workspace and the files the run wrote, once it has ended (see notebook/files.py)."""
        self._emit({"kind": "files", "runId": self.run.id, **files_note(self.run)})

    def _on_ready(self) -> None:
        if self._pumping:
            self._backlog_wanted = True
            self._wake.set()
        else:
            self._spawn(self._send_backlog)

    def _retarget(self, run: Run) -> None:
        """Show ``run`` from its first event: every view of this widget switches to it."""
        self._generation += 1
        self.run = run
        self._sent = 0
        self._backlog_wanted = False
        target = self._target(run)
        self.set_trait("run_id", run.id)
        for name in ("task", "model", "strategy", "controls", "forkable", "runs"):
            self.set_trait(name, target[name])
        self._emit({"kind": "target", **target})
        if self._pumping:
            self._wake.set()
        else:
            self._pumping = True
            self._spawn(self._pump)

    def _target(self, run: Run) -> dict[str, Any]:
        tabs = [{"id": r.id, "parentId": r.parent_id, "at": r.forked_at} for r in self.family.values()]
        return {"runId": run.id, "task": run.task, "model": run.model, "strategy": run.strategy,
                "controls": run.takes_controls, "forkable": forkable(run), "runs": tabs if len(tabs) > 1 else []}

    def _fork(self, content: dict[str, Any]) -> None:
        """Fork the run shown (on the kernel's main thread, as the fork may ask a server), then show the fork."""
        fork, reply = fork_from_view(self._named(content), content)
        if fork is not None:
            self.family[fork.id] = fork
        self._loop.call_soon_threadsafe(self._emit, reply)
        if fork is not None:
            self._loop.call_soon_threadsafe(self._retarget, fork)

    def _named(self, content: dict[str, Any]) -> Run:
        """The run a message is about: the one it names, if this view shows it or has shown it, else the one shown."""
        return self.family.get(str(content.get("runId")), self.run)

    def _emit(self, content: dict[str, Any]) -> None:
        if self._closing:
            return
        self.messages_sent += 1
        self.bytes_sent += len(json.dumps(content, ensure_ascii=False).encode())
        self.send(content)

    # --- browser side: messages arrive on the kernel's main thread --------------------------

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "ready":
            self._loop.call_soon_threadsafe(self._on_ready)
        elif kind == "cancel":
            self._named(content).cancel("stopped from the notebook")
        elif kind in CONTROL_KINDS:
            reply = control(self._named(content), content)
            self._loop.call_soon_threadsafe(self._emit, reply)
        elif kind == "envelopes":
            events = raw_envelopes(self._named(content).log.events, content.get("from"), content.get("to"))
            reply = {"kind": "envelopes", "requestId": content.get("requestId"), "events": events}
            self._loop.call_soon_threadsafe(self._emit, reply)
        elif kind == "file":
            reply = {"kind": "file", "requestId": content.get("requestId"), **file_content(self._named(content), content.get("path"))}
            self._loop.call_soon_threadsafe(self._emit, reply)
        elif kind == "fork":
            self._fork(content)
        elif kind == "show":
            shown = self.family.get(str(content.get("runId")))
            if shown is not None:
                self._loop.call_soon_threadsafe(self._retarget, shown)

    def close(self) -> None:
        """Stop the pump and close the widget; no task or listener of it is left behind."""
        if self.comm is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop)
            try:
                on_loop = asyncio.get_running_loop() is self._loop
            except RuntimeError:
                on_loop = False
            if not on_loop:
                self._idle.wait(2)
        super().close()

    def _stop(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if not self._tasks:
            self._idle.set()
