"""A run store's SQLite file (WAL): its tables, and every statement the store runs on them.

:class:`~workbench.core.store.RunStore` decides what to write and when (its writer thread, the
gated logs, retries); this module only knows rows. One connection, shared by the store's
threads under :attr:`StoreDatabase.lock`.
"""

from __future__ import annotations

import json

import os
import sqlite3
import threading
from typing import Any, Sequence

from workbench.core import events as ev

__all__ = ["INTERRUPTED", "RunRow", "RunValues", "StoreDatabase", "run_values"]

INTERRUPTED = "interrupted"
"""The status (and error type) of a run that was going when its process stopped."""

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
    shared INTEGER NOT NULL DEFAULT 0,
    settings TEXT
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

RunRow = tuple[str, str | None, str, str, str, str]
"""A stored run's (id, owner, task, model, strategy, created_at)."""

RunValues = tuple[str, str | None, str, str, str, str, int, str | None]
"""A new run's row: (id, owner, task, model, strategy, created_at, shared, settings as JSON)."""

_INSERT_RUN = ("INSERT OR IGNORE INTO runs (id, owner, task, model, strategy, created_at, shared, settings) "
               "VALUES (?,?,?,?,?,?,?,?)")

_SUMMARY_COLUMNS = "id, task, model, strategy, status, created_at, ended_at, event_count, owner, shared, settings"


def _terminal_status(event: ev.Event) -> str:
    if isinstance(event.data, ev.ExecutionErrorData):
        return INTERRUPTED if event.data.error.type == INTERRUPTED else "error"
    return _STATUS_OF_TERMINAL[event.type]


class StoreDatabase:
    """The connection to one store file, with the tables made if they are not there yet."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.executescript(_SCHEMA)
            columns = {row[1] for row in self.connection.execute("PRAGMA table_info(runs)")}
            if "settings" not in columns:  # a store written before forks: its runs' settings are unknown
                self.connection.execute("ALTER TABLE runs ADD COLUMN settings TEXT")
        except BaseException:
            self.connection.close()
            raise
        self.lock = threading.Lock()
        """Held for every statement: the writer thread and the readers share the connection."""

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    # --- writing -------------------------------------------------------------------------

    def add_run(self, run_id: str, owner: str | None, task: str, model: str, strategy: str, created_at: str,
                shared: bool, settings: dict[str, Any] | None = None) -> None:
        """The run's row (kept as it is if the run is there already). ``settings``: its options, tools
        and parent (what a fork of it needs), as JSON."""
        with self.lock:
            self.connection.execute(_INSERT_RUN, run_values(run_id, owner, task, model, strategy, created_at, shared,
                                                             settings))

    def set_shared(self, run_id: str, shared: bool) -> None:
        with self.lock:
            self.connection.execute("UPDATE runs SET shared = ? WHERE id = ?", (int(shared), run_id))

    def write(self, events: Sequence[ev.Event], *, row: RunValues | None = None) -> list[tuple[str, int]]:
        """Store ``events`` in one transaction (each run's event count and, at its end, its status with them).

        ``row``: a run's row (:func:`run_values`) added in the same transaction, before its events
        (an archive's whole run, which no reader may see half-written).
        Returns (run id, JSON bytes) of each event written. On failure nothing is stored and the
        error is raised.
        """
        rows = [(e.run_id, e.id, e.type, e.to_json()) for e in events]
        ends = [(_terminal_status(e), e.ts, e.run_id) for e in events if e.type in ev.TERMINAL_TYPES]
        counts: dict[str, int] = {}
        for e in events:
            counts[e.run_id] = max(counts.get(e.run_id, 0), e.id)
        db = self.connection
        with self.lock:
            db.execute("BEGIN")
            try:
                if row is not None:
                    db.execute(_INSERT_RUN, row)
                db.executemany("INSERT OR IGNORE INTO events (run_id, id, type, body) VALUES (?,?,?,?)", rows)
                db.executemany(
                    "UPDATE runs SET event_count = MAX(event_count, ?) WHERE id = ?", [(n, r) for r, n in counts.items()]
                )
                db.executemany("UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", ends)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (a full disk does)
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
        return [(run_id, len(body)) for run_id, _, _, body in rows]

    # --- reading -------------------------------------------------------------------------

    def summaries(self, owner: str | None = None, *, include_shared: bool = False, limit: int | None = None,
                  before: str | None = None) -> list[dict[str, Any]]:
        """Run summaries, newest first: ``owner``'s runs (every run when ``owner`` is None).

        ``limit`` caps how many; ``before`` (a run id) starts after that run, for the next page.
        """
        query = f"SELECT {_SUMMARY_COLUMNS} FROM runs"
        where: list[str] = []
        args: list[Any] = []
        if owner is not None:
            where.append("(owner = ?" + (" OR shared = 1)" if include_shared else ")"))
            args.append(owner)
        if before is not None:
            where.append("(created_at, rowid) < (SELECT created_at, rowid FROM runs WHERE id = ?)")
            args.append(before)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self.lock:
            rows = self.connection.execute(query, args).fetchall()
        return [_summary(r) for r in rows]

    def summaries_of(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The summaries (as :meth:`summaries` gives them) of those of ``run_ids`` the store has, by id."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(run_ids), 500):  # SQLite's limit on a statement's parameters is 999 or more
            chunk = list(run_ids[start : start + 500])
            query = f"SELECT {_SUMMARY_COLUMNS} FROM runs WHERE id IN ({','.join('?' * len(chunk))})"
            with self.lock:
                rows = self.connection.execute(query, chunk).fetchall()
            found.update((r[0], _summary(r)) for r in rows)
        return found

    def owner_of(self, run_id: str) -> tuple[str | None, bool] | None:
        """(owner, shared) of a stored run, or None if the store does not have it."""
        with self.lock:
            row = self.connection.execute("SELECT owner, shared FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else (row[0], bool(row[1]))

    def is_shared(self, run_id: str) -> bool:
        with self.lock:
            row = self.connection.execute("SELECT shared FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def run_row(self, run_id: str) -> tuple[RunRow, dict[str, Any]] | None:
        """A stored run's row and its settings (empty when the store did not keep them)."""
        with self.lock:
            row = self.connection.execute(
                "SELECT id, owner, task, model, strategy, created_at, settings FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return None if row is None else (row[:6], _settings(row[6]))

    def event_bodies(self, run_id: str, after: int = 0) -> list[str]:
        """The JSON of the run's events after event ``after``, in order."""
        with self.lock:
            rows = self.connection.execute(
                "SELECT body FROM events WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after)
            ).fetchall()
        return [body for (body,) in rows]

    def status_counts(self) -> dict[str, int]:
        """How many runs have each status."""
        with self.lock:
            return dict(self.connection.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())

    def running(self) -> list[str]:
        """The ids of runs whose status is still ``running``."""
        with self.lock:
            return [r[0] for r in self.connection.execute("SELECT id FROM runs WHERE status = 'running'")]


def run_values(run_id: str, owner: str | None, task: str, model: str, strategy: str, created_at: str, shared: bool,
               settings: dict[str, Any] | None = None) -> RunValues:
    """A run's row as :data:`_INSERT_RUN` takes it."""
    return (run_id, owner, task, model, strategy, created_at, int(shared),
            json.dumps(settings, ensure_ascii=False) if settings is not None else None)


def _summary(r: Sequence[Any]) -> dict[str, Any]:
    """A row of :data:`_SUMMARY_COLUMNS` as a summary."""
    return {"id": r[0], "task": r[1], "model": r[2], "strategy": r[3], "status": r[4], "createdAt": r[5],
            "endedAt": r[6], "eventCount": r[7], "owner": r[8], "shared": bool(r[9]), "settings": _settings(r[10])}


def _settings(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:  # a row written by hand: its settings are as good as unknown
        return {}
    return value if isinstance(value, dict) else {}
