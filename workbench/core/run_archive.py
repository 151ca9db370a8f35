"""The durable archive of ended runs: a SQLite file of the run store's schema, shared by processes.

Runs shared through Redis (``workbench serve --redis``, ``workbench worker``) may expire from it
(``--ended-ttl``); with ``--archive PATH`` each ended run is also kept here, whole: the worker
that ran it writes its row and every event in one transaction once its terminal event is in
Redis, and replicas read from here whatever Redis no longer has.

Unlike :class:`~workbench.core.store.RunStore`, which one process owns (a lock file) and which
writes the events of the runs it hosts as they come, an archive takes only whole, ended runs,
from any number of processes at once (SQLite's WAL lets readers and writers share the file).
The tables and statements are :mod:`~workbench.core.store_db`'s; a store file serves as an archive.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from workbench.core.handle import Run
from workbench.core.store import describe, read_run, run_settings
from workbench.core.store_db import StoreDatabase, run_values
from workbench.errors import UserError

__all__ = ["RunArchive"]


class RunArchive:
    """Ended runs in one SQLite file; raises :class:`UserError` when the file cannot be opened as one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._database = StoreDatabase(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the run archive {self.path}: {describe(exc)}; give --archive (or "
                            "$WORKBENCH_ARCHIVE) a SQLite file this process may create or write") from None

    def put(self, run: Run, *, shared: bool = False) -> None:
        """Keep ``run`` (ended) with all its events, in one transaction; a run kept already stays as it is."""
        row = run_values(run.id, run.owner, run.task, run.model, run.strategy, run.created_at, shared, run_settings(run))
        self._database.write(list(run.log.events), row=row)

    def load(self, run_id: str) -> Run | None:
        found = read_run(self._database, run_id)
        return None if found is None else found[0]

    def owner_of(self, run_id: str) -> tuple[str | None, bool] | None:
        return self._database.owner_of(run_id)

    def summaries_of(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The summaries of those of ``run_ids`` the archive has, by id."""
        return self._database.summaries_of(run_ids)

    def close(self) -> None:
        self._database.close()
