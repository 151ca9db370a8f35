"""Persisting runs and their events in SQLite (WAL).

A store follows a run's log: every appended event is queued and written by the store's
own thread in batches, so the orchestrator never waits on the disk. The store gates the log
(:meth:`RunLog.gate`): clients see an event only once it is committed, so nothing a client
received is lost when the process dies. Reopening a store brings every run back; a run that
was going when the process stopped is closed with an ``execution:error`` of type
``interrupted`` so no reader waits for it forever.

A write that fails (a full disk) loses nothing: the events stay queued and are tried again
until they go in. Meanwhile :attr:`RunStore.problem` says why, the gated logs are opened so
running runs keep streaming from memory, and the service refuses new runs.

One process owns a store at a time (a lock file beside it): a second server on the same
file would take the first one's live runs for interrupted ones, and could never stream them.
The file's tables and statements are :mod:`~workbench.core.store_db`'s.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from workbench.core import events as ev
from workbench.core.handle import Run
from workbench.core.log import RunLog
from workbench.core.redact import get_logger
from workbench.core.store_db import INTERRUPTED, StoreDatabase
from workbench.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per store is then up to the user
    fcntl = None  # type: ignore[assignment]  # checked for None before each use

__all__ = ["RunStore", "StoreInUse", "StoreUnavailable", "DEFAULT_PAGE", "MAX_PAGE"]

log = get_logger("workbench.store")

_STOP = object()


def _parsed(body: str) -> ev.Event:
    event = ev.parse_event(body, keep_unknown=True)
    assert event is not None
    return event


RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
"""Seconds between attempts to write events the disk refused; the last one repeats."""

DEFAULT_PAGE, MAX_PAGE = 100, 1000
"""Run summaries listed at once by default, and at most."""


class StoreInUse(UserError):
    """Another process has the store open."""


class StoreUnavailable(UserError):
    """The store cannot write right now (a full disk): no run may start until it can."""


def describe(exc: BaseException) -> str:
    """A store failure in a few words, e.g. ``database or disk is full``."""
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _own(path: Path) -> int | None:
    """Lock ``path`` for this process (the lock goes with the returned descriptor)."""
    if fcntl is None:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # held: by another process, or by another store in this one
        holder = os.read(fd, 20).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        store = path.with_suffix("")
        raise StoreInUse(
            f"the run store {store} is in use by another process (pid {holder}): another Jupyter server or "
            "`workbench serve`. Give this one a store of its own: --WorkbenchApp.store_path=PATH in Jupyter, "
            "--store PATH for workbench serve") from None
    except OSError as exc:  # no locks on this file system (some network homes): go on as without fcntl
        os.close(fd)
        log.warning("cannot lock %s (%s); make sure no other server uses this store", path, exc.strerror)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


class RunStore:
    """Runs and events in one SQLite file, owned by one process at a time.

    Raises :class:`StoreInUse` when another process (or another open store) has the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _own(self.path.with_name(self.path.name + ".lock"))
        try:
            self._database = StoreDatabase(self.path)
        except BaseException:  # e.g. not a database: let the file go for whoever comes next
            self._unlock()
            raise
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._problem: str | None = None
        self._followed: dict[str, RunLog] = {}
        """Gated logs of runs whose terminal event is not on disk yet, by run id."""
        self._stored: dict[str, int] = {}
        """Events on disk of each followed run."""
        self._sizes: dict[str, int] = {}
        """JSON bytes of the events of runs written or read here (the service's cache counts them)."""
        self._give_up_at: float | None = None
        self._writer = threading.Thread(target=self._write_loop, name="workbench-store", daemon=True)
        self._writer.start()

    # --- writing -------------------------------------------------------------------------

    @property
    def problem(self) -> str | None:
        """Why the store cannot write right now (e.g. ``database or disk is full``); None when it can."""
        return self._problem

    def add(self, run: Run, *, shared: bool = False) -> None:
        """Persist ``run`` and, from now on, every event its log gets (which clients then see once stored).

        The run's row is written before this returns: raises :class:`StoreUnavailable` when it
        cannot be, so that no run goes on that the store does not know.
        """
        if self._problem is not None:
            raise StoreUnavailable(f"the run store cannot write: {self._problem}")
        try:
            self._database.add_run(run.id, run.owner, run.task, run.model, run.strategy, run.created_at, shared,
                                   run_settings(run))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the run store cannot write: {describe(exc)}") from None
        self._follow(run.log, stored=0)
        for event in list(run.log.events):  # anything appended before the store followed the log
            self._enqueue(event)
        run.log.add_listener(self._enqueue)

    def _follow(self, run_log: RunLog, *, stored: int) -> None:
        with self._idle:
            self._followed[run_log.run_id] = run_log
            self._stored[run_log.run_id] = stored
        run_log.gate(stored)

    def unstored(self, run_id: str, total: int) -> int:
        """How many of a run's ``total`` events are not on disk yet (0 for a run it does not follow)."""
        with self._idle:
            stored = self._stored.get(run_id)
        return 0 if stored is None else max(total - stored, 0)

    def size(self, run_id: str) -> int:
        """JSON bytes of the run's events written or read here so far (0 if none)."""
        return self._sizes.get(run_id, 0)

    def forget_size(self, run_id: str) -> None:
        self._sizes.pop(run_id, None)

    def set_shared(self, run_id: str, shared: bool) -> None:
        self._database.set_shared(run_id, shared)

    def _enqueue(self, event: ev.Event) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(event)
        if self._problem is not None:  # cannot store it now: clients get it from memory meanwhile
            run_log = self._followed.get(event.run_id)
            if run_log is not None:
                run_log.publish(event.id)

    def _write_loop(self) -> None:
        backlog: list[ev.Event] = []
        stopping = False
        failures = 0
        while True:
            items: list[Any] = []
            try:
                wait = RETRY_DELAYS[min(max(failures, 1), len(RETRY_DELAYS)) - 1] if backlog else None
                items.append(self._queue.get(timeout=wait))
                while True:  # take whatever else is waiting: one transaction per batch
                    items.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            stopping = stopping or any(item is _STOP for item in items)
            backlog += [item for item in items if item is not _STOP]
            if backlog:
                try:
                    self._write(backlog)
                except Exception as exc:  # a full disk, most likely: keep everything and try again
                    failures += 1
                    self._failed(exc, len(backlog))
                    if stopping and self._give_up_at is not None and time.monotonic() > self._give_up_at:
                        self._abandon(backlog)
                        backlog = []
                    else:
                        continue
                else:
                    if failures:
                        log.warning("the run store %s writes again; %d waiting events stored", self.path, len(backlog))
                        failures, self._problem = 0, None
                    self._written(backlog)
                    backlog = []
            if stopping and not backlog:
                return

    def _failed(self, exc: BaseException, waiting: int) -> None:
        problem = describe(exc)
        if self._problem is None:
            log.error("the run store %s cannot write (%s); %d events wait in memory and are tried again. "
                      "New runs are refused until it writes again", self.path, problem, waiting)
        self._problem = problem
        with self._idle:
            followed = list(self._followed.values())
        for run_log in followed:  # streams go on from memory while the disk refuses
            run_log.publish(len(run_log))

    def _written(self, events: list[ev.Event]) -> None:
        finished: list[RunLog] = []
        with self._idle:
            for e in events:
                self._stored[e.run_id] = max(self._stored.get(e.run_id, 0), e.id)
            for run_id in {e.run_id for e in events}:
                run_log = self._followed.get(run_id)
                if run_log is None:
                    continue
                finished.append(run_log)
            self._pending -= len(events)
            self._idle.notify_all()
        for run_log in finished:
            stored = self._stored[run_log.run_id]
            run_log.publish(stored)
            if run_log.closed and stored >= len(run_log):
                with self._idle:
                    self._followed.pop(run_log.run_id, None)
                    self._stored.pop(run_log.run_id, None)

    def _abandon(self, events: list[ev.Event]) -> None:
        runs = sorted({e.run_id for e in events})
        log.error("the run store %s still cannot write (%s) as it closes: %d events of %s are not stored",
                  self.path, self._problem, len(events), ", ".join(runs))
        with self._idle:
            self._pending -= len(events)
            self._idle.notify_all()

    def _write(self, events: list[ev.Event]) -> None:
        for run_id, size in self._database.write(events):
            self._sizes[run_id] = self._sizes.get(run_id, 0) + size

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every queued event is on disk; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and close the database.

        If the disk still refuses writes after ``timeout`` seconds, what could not be written is
        logged (how many events of which runs) and dropped: the process is going away.
        """
        if self._writer.is_alive():
            self._give_up_at = time.monotonic() + timeout
            self._queue.put(_STOP)
            self._writer.join()
        with self._idle:
            followed, self._followed = list(self._followed.values()), {}
        for run_log in followed:  # no stream may wait for a store that is gone
            run_log.publish(len(run_log))
        self._database.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # and with it the lock
            self._lock_fd = None

    # --- reading -------------------------------------------------------------------------

    def summaries(self, owner: str | None = None, *, include_shared: bool = False, limit: int | None = None,
                  before: str | None = None) -> list[dict[str, Any]]:
        """Run summaries, newest first: ``owner``'s runs (every run when ``owner`` is None).

        ``limit`` caps how many; ``before`` (a run id) starts after that run, for the next page.
        """
        return self._database.summaries(owner, include_shared=include_shared, limit=limit, before=before)

    def owner_of(self, run_id: str) -> tuple[str | None, bool] | None:
        """(owner, shared) of a stored run, or None if the store does not have it."""
        return self._database.owner_of(run_id)

    def status_counts(self) -> dict[str, int]:
        """How many stored runs have each status (a run is ``running`` until its end is stored)."""
        return self._database.status_counts()

    def is_shared(self, run_id: str) -> bool:
        return self._database.is_shared(run_id)

    def iter_events(self, run_id: str, after: int = 0) -> Iterator[ev.Event]:
        for body in self._database.event_bodies(run_id, after):
            yield _parsed(body)

    def load(self, run_id: str) -> Run | None:
        """The run with its events, or None if the store does not have it."""
        found = read_run(self._database, run_id)
        if found is None:
            return None
        run, size = found
        self._sizes[run_id] = size
        return run

    def recover(self, message: str = "the server stopped while this run was going") -> list[Run]:
        """Close every run left ``running`` by a stopped process with an ``interrupted`` error event.

        Returns those runs. Their new events are written like any other: if the disk refuses
        them now, they are kept (the caller should hold the runs) and tried again until they go in.
        """
        runs = []
        for run_id in self._database.running():
            run = self.load(run_id)
            assert run is not None
            self._follow(run.log, stored=len(run.log))
            if not run.log.events:  # stopped before its first event was stored: give it one, as the contract asks
                self._enqueue(run.log.append(ev.ExecutionStartedData(
                    task=run.task, started_at=run.created_at, model=run.model, strategy=run.strategy)))
            if not run.log.closed:
                self._enqueue(run.log.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type=INTERRUPTED, message=message))))
            elif run.log.events:  # the terminal event was written but not the status (a crash in between)
                self._enqueue(run.log.events[-1])
            runs.append(run)
        return runs


def read_run(database: StoreDatabase, run_id: str) -> tuple[Run, int] | None:
    """The run a store file has under ``run_id``, with its events, and their JSON bytes; None if it has none."""
    found = database.run_row(run_id)
    if found is None:
        return None
    row, settings = found
    options, tools, parent, forked_at = (settings.get(k) for k in ("options", "tools", "parentId", "forkedAt"))
    run = Run(run_id=row[0], owner=row[1], task=row[2], model=row[3], strategy=row[4], created_at=row[5],
              log=RunLog(row[0]), options=options if isinstance(options, dict) else None,
              tools=[str(t) for t in tools] if isinstance(tools, list) else None,
              parent_id=parent if isinstance(parent, str) else None,
              forked_at=forked_at if isinstance(forked_at, int) else None)
    bodies = database.event_bodies(run_id)
    run.log.extend(_parsed(body) for body in bodies)
    return run, sum(len(body) for body in bodies)


def run_settings(run: Run) -> dict[str, Any]:
    """What the store keeps of a run beside its row: what a fork of it needs, and its parent."""
    settings: dict[str, Any] = {"options": run.options, "tools": run.tools}
    if run.parent_id is not None:
        settings.update(parentId=run.parent_id, forkedAt=run.forked_at)
    return settings
