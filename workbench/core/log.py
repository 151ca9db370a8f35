"""The append-only log of one run: the single source of truth for everything shown.

Events get ids 1..n in append order. Subscribers do not get queues: each one reads the
log itself from its own position, so a slow subscriber costs the writer nothing and can
never lose an event — it simply catches up. Appending only wakes subscribers that are
waiting, once per wake-up, and works across event loops in different threads (the
orchestrator may run on the workbench's background loop while a notebook reads on the
kernel's).

A log that a store follows is *gated* (:meth:`RunLog.gate`): its events reach clients only
once the store has committed them (:attr:`RunLog.published`), so an event a client has seen
is never lost, nor its id reused, when the process dies.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import AsyncIterator, Callable, Iterable, Sequence

from workbench.core import events as ev
from workbench.core.loop import gc_untrack, running_loop
from workbench.core.redact import refresh_secrets, scrub
from workbench.errors import UserError

__all__ = ["RunLog", "LogClosed"]


class LogClosed(UserError):
    """An event was appended after the run's terminal event."""


class RunLog:
    """The events of one run, in order, with live subscription."""

    def __init__(self, run_id: str, *, on_append: Callable[[ev.Event], None] | None = None) -> None:
        self.run_id = run_id
        self._events: list[ev.Event] = []
        # Waiters by future, so that one leaving (a client gone, a stream's keep-alive) costs O(1):
        # with a list, a thousand streams' keep-alives rebuilt it a thousand times each.
        self._waiters: dict[asyncio.Future[None], asyncio.AbstractEventLoop] = {}
        self._published: int | None = None
        """Events clients may see, for a gated log; None when every appended event may be seen."""
        self._publish_waiters: dict[asyncio.Future[None], asyncio.AbstractEventLoop] = {}
        # Reentrant: a listener may add or remove listeners while it is being called.
        self._lock = threading.RLock()
        self._closed = False
        self._ended = threading.Event()  # set with _closed, for waiters outside any event loop
        self.frames: list[bytes] = []
        """Each event's SSE frame, filled by :mod:`workbench.serving.sse` so an event is encoded once per
        run, however many streams send it."""
        # Replaced, never mutated, so _push can iterate while a listener changes it.
        self._listeners: tuple[Callable[[ev.Event], None], ...] = (on_append,) if on_append else ()
        refresh_secrets()  # a key set in the environment since the last run is scrubbed from this one

    # --- writing -----------------------------------------------------------------------

    def append(self, data: ev.EventData, *, ts: str | None = None) -> ev.Event:
        """Wrap ``data`` in the next envelope, store it and wake subscribers.

        Every string in ``data`` is scrubbed first (:func:`workbench.core.redact.scrub`): no credential
        the process knows reaches a subscriber, a stream, a file or a store, and no event fails
        to encode. The envelope is not validated again (:func:`workbench.events.trusted_event`):
        ``data`` is a payload already, and its id, run id and timestamp are the log's own.
        """
        data = scrub(data)
        with self._lock:
            if self._closed:
                raise LogClosed(f"run {self.run_id} has ended; no event can follow its terminal event")
            event = ev.trusted_event(data, id=len(self._events) + 1, run_id=self.run_id, ts=ts)
            self._push(event)
        return event

    def append_all(self, datas: Sequence[ev.EventData]) -> None:
        """:meth:`append` for several payloads at once, in order: with one lock, one timestamp and
        one wake-up for them all (the pieces a stream delivered in one turn of the event loop)."""
        if not datas:
            return
        datas = [scrub(data) for data in datas]
        ts = ev.utc_timestamp()
        with self._lock:
            for data in datas:
                if self._closed:
                    raise LogClosed(f"run {self.run_id} has ended; no event can follow its terminal event")
                self._push(ev.trusted_event(data, id=len(self._events) + 1, run_id=self.run_id, ts=ts))

    def extend(self, events: Iterable[ev.Event]) -> None:
        """Add already-built events (from a run file or a store); their ids must continue the log.

        They are scrubbed as :meth:`append` scrubs: a file from elsewhere may carry a credential.
        """
        with self._lock:
            for event in events:
                event = scrub(event)
                if self._closed:
                    raise LogClosed(f"run {self.run_id}: event {event.id} follows the terminal event")
                if event.id != len(self._events) + 1:
                    raise UserError(
                        f"run {self.run_id}: expected event id {len(self._events) + 1}, got {event.id}"
                    )
                self._push(event)

    def _push(self, event: ev.Event) -> None:
        # Called with the lock held.
        _leave_out_of_collection(event)
        self._events.append(event)
        if event.type in ev.TERMINAL_TYPES:
            self._closed = True
            if self._published is None:
                self._ended.set()
        for listener in self._listeners:
            listener(event)
        if self._waiters:
            waiters, self._waiters = self._waiters, {}
            _wake_all(waiters)
        if self._published is None and self._publish_waiters:
            waiters, self._publish_waiters = self._publish_waiters, {}
            _wake_all(waiters)

    # --- publishing (gated logs) -------------------------------------------------------

    def gate(self, published: int = 0) -> None:
        """From now on, readers of :attr:`published` see only the first ``published`` events and
        those :meth:`publish` releases (a store releases them once they are on disk)."""
        with self._lock:
            self._published = min(max(published, 0), len(self._events))

    def publish(self, count: int) -> None:
        """Let clients see the first ``count`` events (never fewer than already published)."""
        with self._lock:
            if self._published is None or count <= self._published:
                return
            self._published = min(count, len(self._events))
            if self._closed and self._published == len(self._events):
                self._ended.set()
            waiters, self._publish_waiters = self._publish_waiters, {}
        _wake_all(waiters)

    @property
    def published(self) -> int:
        """How many events clients may see: all of them, unless a store gates the log."""
        published = self._published
        return len(self._events) if published is None else published

    def add_listener(self, listener: Callable[[ev.Event], None]) -> None:
        """Call ``listener(event)`` synchronously for every event appended from now on."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[ev.Event], None]) -> None:
        """Stop calling ``listener``; a listener that is not there is ignored."""
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    def close(self) -> None:
        """End the log without a terminal event (e.g. a run file cut short); subscribers finish."""
        with self._lock:
            self._closed = True
            if self.published == len(self._events):
                self._ended.set()
            waiters, self._waiters = self._waiters, {}
            waiters.update(self._publish_waiters)
            self._publish_waiters = {}
        _wake_all(waiters)

    # --- reading -----------------------------------------------------------------------

    @property
    def events(self) -> Sequence[ev.Event]:
        """All events so far (a live view; do not modify)."""
        return self._events

    @property
    def closed(self) -> bool:
        """Whether the terminal event is in (no more events will come)."""
        return self._closed

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block (outside async code) until the log is closed and clients may see all of it;
        False if ``timeout`` passed first."""
        return self._ended.wait(timeout)

    async def wait_settled(self) -> None:
        """Wait until the log is closed and clients may see all of it (for a gated log: stored)."""
        position = self.published
        while await self.wait_beyond(position, published=True):
            position = self.published

    def __len__(self) -> int:
        return len(self._events)

    @property
    def waiting(self) -> int:
        """How many readers are waiting for the next event (streams, views): for tests and benchmarks."""
        return len(self._waiters) + len(self._publish_waiters)

    async def subscribe(self, after: int = 0) -> AsyncIterator[ev.Event]:
        """The events with id > ``after``: first the backlog, then live ones, each exactly once.

        Ends after the terminal event (or when the log is closed).
        """
        if after < 0:
            raise UserError(f"'after' must be 0 or a positive event id, not {after}")
        position, events = after, self._events
        while True:
            while position < len(events):
                event = events[position]
                position += 1
                yield event
            if not await self.wait_beyond(position):
                return

    async def wait_beyond(self, position: int, *, published: bool = False) -> bool:
        """Wait until the log holds more than ``position`` events (with ``published``: more than
        ``position`` events clients may see); False when it never will."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if (self.published if published else len(self._events)) > position:
                return True
            if self._closed and (not published or self.published == len(self._events)):
                return False
            future: asyncio.Future[None] = loop.create_future()
            # No local name for the table: a waiter would hold it, and with it every other waiter
            # there, after the log has moved on to a new one.
            (self._publish_waiters if published else self._waiters)[future] = loop
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                self._waiters.pop(future, None)
                self._publish_waiters.pop(future, None)
            raise
        return True


def _leave_out_of_collection(event: ev.Event) -> None:
    """Take the event's own objects off the garbage collector's lists: it never walks them again.

    A log holds its events for as long as it lives, and every collection walked all of them, more
    as the run grew. An event can never be in a reference cycle: it is immutable, and nothing it
    holds was made after it, so nothing it holds can refer to it. What it holds beyond its own
    envelope and payload (a tool's params, say) stays tracked.
    """
    if gc_untrack is None:
        return
    data = event.data
    gc_untrack(event)
    gc_untrack(event.__dict__)
    gc_untrack(data)  # its __dict__ is left to CPython, which untracks a dict holding no containers
    for fields_set in (event.__pydantic_fields_set__, getattr(data, "__pydantic_fields_set__", None)):
        if gc.is_tracked(fields_set):  # a validated event's own; a trusted one's is shared, untracked once
            gc_untrack(fields_set)


def _wake_all(waiters: dict[asyncio.Future[None], asyncio.AbstractEventLoop]) -> None:
    here = running_loop()  # once, not per waiter: a run may have a thousand streams waiting
    elsewhere: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for future, loop in waiters.items():
        if loop is here:
            if not future.done():
                future.set_result(None)
        elif not loop.is_closed():
            elsewhere.setdefault(loop, []).append(future)
    for loop, futures in elsewhere.items():
        # One hand-over per loop, not per waiter: a store's thread publishing to a thousand
        # streams would otherwise wake their loop a thousand times.
        loop.call_soon_threadsafe(_resolve_all, futures)


def _resolve_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
