"""Persisting runs and their events in SQLite (WAL).

A store follows a run's log: every appended event is queued and written by the store's
own thread in batches, so the orchestrator never waits on the disk. Reopening a store
brings every run back; a run that was going when the process stopped is closed with an
``execution:error`` of type ``interrupted`` so no reader waits for it forever.

One process owns a store at a time (a lock file beside it): a second server on the same
file would take the first one's live runs for interrupted ones, and could never stream them.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

from . import events as ev
from .errors import UserError
from .log import RunLog
from .redact import get_logger
from .run import Run

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per store is then up to the user
    fcntl = None  # type: ignore[assignment]

__all__ = ["RunStore", "StoreInUse", "INTERRUPTED"]

log = get_logger("workbench.store")

INTERRUPTED = "interrupted"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    owner TEXT,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    strategy TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    ended_at TEXT,
    event_count INTEGER NOT NULL DEFAULT 0,
    shared INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
"""

_STATUS_OF_TERMINAL = {"execution:complete": "complete", "execution:cancelled": "cancelled"}
_STOP = object()


def _terminal_status(event: ev.Event) -> str:
    if isinstance(event.data, ev.ExecutionErrorData):
        return INTERRUPTED if event.data.error.type == INTERRUPTED else "error"
    return _STATUS_OF_TERMINAL[event.type]


class StoreInUse(UserError):
    """Another process has the store open."""


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
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except BaseException:  # e.g. not a database: let the file go for whoever comes next
            self._unlock()
            raise
        self._db_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._writer = threading.Thread(target=self._write_loop, name="workbench-store", daemon=True)
        self._writer.start()

    # --- writing -------------------------------------------------------------------------

    def add(self, run: Run, *, shared: bool = False) -> None:
        """Persist ``run`` and, from now on, every event its log gets."""
        with self._db_lock:
            self._db.execute(
                "INSERT OR IGNORE INTO runs (id, owner, task, model, strategy, created_at, shared) VALUES (?,?,?,?,?,?,?)",
                (run.id, run.owner, run.task, run.model, run.strategy, run.created_at, int(shared)),
            )
        for event in list(run.log.events):  # anything appended before the store followed the log
            self._enqueue(event)
        run.log.add_listener(self._enqueue)

    def set_shared(self, run_id: str, shared: bool) -> None:
        with self._db_lock:
            self._db.execute("UPDATE runs SET shared = ? WHERE id = ?", (int(shared), run_id))

    def _enqueue(self, event: ev.Event) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # take whatever else is waiting: one transaction per batch
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            events = [item for item in batch if item is not _STOP]
            if events:
                self._write(events)
            with self._idle:
                self._pending -= len(events)
                self._idle.notify_all()
            if stop:
                return

    def _write(self, events: list[ev.Event]) -> None:
        rows = [(e.run_id, e.id, e.type, e.to_json()) for e in events]
        ends = [(_terminal_status(e), e.ts, e.run_id) for e in events if e.type in ev.TERMINAL_TYPES]
        counts: dict[str, int] = {}
        for e in events:
            counts[e.run_id] = max(counts.get(e.run_id, 0), e.id)
        with self._db_lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO events (run_id, id, type, body) VALUES (?,?,?,?)", rows)
            self._db.executemany(
                "UPDATE runs SET event_count = MAX(event_count, ?) WHERE id = ?", [(n, r) for r, n in counts.items()]
            )
            self._db.executemany("UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", ends)
            self._db.execute("COMMIT")

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every queued event is on disk; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Write what is queued and close the database."""
        if self._writer.is_alive():
            self._queue.put(_STOP)
            self._writer.join()
        with self._db_lock:
            self._db.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # and with it the lock
            self._lock_fd = None

    # --- reading -------------------------------------------------------------------------

    def summaries(self, owner: str | None = None, *, include_shared: bool = False) -> list[dict[str, Any]]:
        """Run summaries, newest first: ``owner``'s runs (every run when ``owner`` is None)."""
        query = "SELECT id, task, model, strategy, status, created_at, ended_at, event_count, owner, shared FROM runs"
        args: tuple[Any, ...] = ()
        if owner is not None:
            query += " WHERE owner = ?" + (" OR shared = 1" if include_shared else "")
            args = (owner,)
        query += " ORDER BY created_at DESC, rowid DESC"
        with self._db_lock:
            rows = self._db.execute(query, args).fetchall()
        return [
            {"id": r[0], "task": r[1], "model": r[2], "strategy": r[3], "status": r[4], "createdAt": r[5],
             "endedAt": r[6], "eventCount": r[7], "owner": r[8], "shared": bool(r[9])}
            for r in rows
        ]

    def is_shared(self, run_id: str) -> bool:
        with self._db_lock:
            row = self._db.execute("SELECT shared FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def iter_events(self, run_id: str, after: int = 0) -> Iterator[ev.Event]:
        with self._db_lock:
            rows = self._db.execute(
                "SELECT body FROM events WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after)
            ).fetchall()
        for (body,) in rows:
            event = ev.parse_event(body, keep_unknown=True)
            assert event is not None
            yield event

    def load(self, run_id: str) -> Run | None:
        """The run with its events, or None if the store does not have it."""
        with self._db_lock:
            row = self._db.execute(
                "SELECT id, owner, task, model, strategy, created_at FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        if row is None:
            return None
        run = Run(run_id=row[0], owner=row[1], task=row[2], model=row[3], strategy=row[4], created_at=row[5],
                  log=RunLog(row[0]))
        run.log.extend(self.iter_events(run_id))
        return run

    def recover(self, message: str = "the server stopped while this run was going") -> list[str]:
        """Close every run left ``running`` by a stopped process with an ``interrupted`` error event."""
        with self._db_lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM runs WHERE status = 'running'")]
        for run_id in ids:
            run = self.load(run_id)
            assert run is not None
            if not run.log.closed:
                event = run.log.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type=INTERRUPTED, message=message)))
                self._write([event])
            else:  # the terminal event was written but not the status (a crash in between)
                self._write([run.log.events[-1]])
        return ids
