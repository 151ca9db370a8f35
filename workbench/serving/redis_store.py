"""The runs of a server that shares them through Redis (``workbench serve --redis``): the store a
:class:`~workbench.serving.service.RunService` reads and dispatches runs through.

A replica holds no run state of its own. Starting a run writes its row and queues it for the
workers (:mod:`workbench.serving.worker`). Reading a run reads its stream; for a run still going,
the replica then follows the stream with **one** reading loop (a blocking ``XREAD`` on a
connection of its own pool) feeding one in-memory :class:`~workbench.core.log.RunLog`, which every
stream of that run on this replica reads: a thousand viewers cost Redis one read per batch.
The events a replica serves are in Redis already, so any replica serves any run, and a client
whose replica went away resumes on another from its ``Last-Event-ID``: nothing lost or repeated.

Controls (pause, resume, decisions, messages, cancel) go to the run's control stream, which the
worker running it reads (:mod:`workbench.serving.remote_controls`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from workbench.core import events as ev
from workbench.core.handle import Run
from workbench.core.log import RunLog
from workbench.core.redact import get_logger
from workbench.serving.redis_settings import (
    Keys,
    RedisSettings,
    blocking_read,
    cancel_and_wait,
    check_reachable,
    open_archive,
    parse_entries,
    read_entries,
)
from workbench.serving.remote_controls import RemoteControls, Reply, Ticket
from workbench.serving.run_stores import TooManyRuns

__all__ = ["RedisRunStore"]

log = get_logger("workbench.redis")

READ_BLOCK_MS = 5000
"""How long one blocking read waits for new events before it asks again."""

READ_BATCH = 1000
"""Events taken by one read at most."""

RECONNECT_DELAY = 0.5
"""Seconds between attempts to read again while Redis is away (restarting, say)."""

REPLY_TTL = 60
"""Seconds a worker's answer to a control waits in Redis for the replica that asked."""

ENDED = frozenset({"complete", "error", "cancelled", "interrupted"})
"""The statuses of a run's row once its terminal event is in."""

RESERVE_GRACE = 60.0
"""Seconds a run counts among its owner's runs going before its row is there (a replica between the
two writes of a start); past that, one without a row was never started (its replica died) and stops counting."""


class RedisRunStore:
    """Runs in Redis, as :class:`~workbench.serving.service.RunService` asks its store for them."""

    def __init__(self, settings: RedisSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self._loop = loop
        # Any: redis-py types every answer as bytes or str, not knowing decode_responses=True makes them str.
        self.client: Any = redis.Redis.from_url(settings.url, decode_responses=True)
        check_reachable(self.client)
        self.reads = aioredis.BlockingConnectionPool.from_url(
            settings.url, max_connections=settings.read_connections, decode_responses=True)
        """Connections for blocking reads only: a read blocks its connection for seconds."""
        self._mirrors: dict[str, Run] = {}
        """Runs going that this process follows, each with its one reading loop."""
        self._followers: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self.problem: str | None = None
        self.archive = open_archive(settings)
        """Where ended runs are kept once Redis lets them go (``--archive``), or None."""

    # --- the store's side of RunService ------------------------------------------------------

    def add(self, run: Run, *, shared: bool = False) -> None:
        """Write ``run``'s row and put it in the index (its events are written by whoever executes it)."""
        self.client.hset(self.keys.row(run.id), mapping=_row(run, shared))
        self.client.zadd(self.keys.index, {run.id: time.time()})

    def submit(self, run: Run, request: dict[str, Any], *, shared: bool = False, limit: int | None = None) -> Run:
        """Add ``run`` and queue it for a worker with ``request`` (what :func:`~workbench.agent.launch.start_run`
        takes); the run as clients read it, its events still to come. ``limit``: the most runs its owner
        may have going, on every replica together (:class:`TooManyRuns` when they have that many)."""
        if limit is not None:
            self._reserve(run, limit)
        self.add(run, shared=shared)
        self.client.hset(self.keys.row(run.id), "request", json.dumps(request))
        self.client.xadd(self.keys.queue, {"run": run.id})
        loaded = self.load(run.id)
        assert loaded is not None
        return loaded

    def _reserve(self, run: Run, limit: int) -> None:
        """Count ``run`` among its owner's runs going, unless they have ``limit`` already: the check and the
        count are one transaction, so two replicas starting runs at once cannot both take the last place."""
        key = self.keys.going(run.owner)
        self._drop_ended(key)
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(key, {run.id: time.time()})
        pipe.zcard(key)
        going = int(pipe.execute()[1])
        if going > limit:
            self.client.zrem(key, run.id)
            raise TooManyRuns(going - 1)

    def _drop_ended(self, key: str) -> None:
        """Take the runs that ended off an owner's runs going (their worker's writer does so at their end; this
        is for the runs whose worker could not, and the starts a replica never finished): O(their runs going)."""
        going = self.client.zrange(key, 0, -1, withscores=True)
        pipe = self.client.pipeline(transaction=False)
        for run_id, _ in going:
            pipe.hget(self.keys.row(run_id), "status")
        stale = time.time() - RESERVE_GRACE
        ended = [run_id for (run_id, since), status in zip(going, pipe.execute())
                 if status in ENDED or (status is None and since < stale)]
        if ended:
            self.client.zrem(key, *ended)

    @staticmethod
    def unstored(run_id: str, total: int) -> int:
        return 0  # what a replica holds came from Redis

    @staticmethod
    def size(run_id: str) -> int:
        return 0

    @staticmethod
    def forget_size(run_id: str) -> None:
        pass

    def set_shared(self, run_id: str, shared: bool) -> None:
        self.client.hset(self.keys.row(run_id), "shared", "1" if shared else "0")

    def summaries(self, owner: str | None = None, *, include_shared: bool = False, limit: int | None = None,
                  before: str | None = None) -> list[dict[str, Any]]:
        """Run rows newest first, as :meth:`RunStore.summaries <workbench.core.store.RunStore.summaries>` gives them."""
        start = 0
        if before is not None:
            rank = self.client.zrevrank(self.keys.index, before)
            start = 0 if rank is None else int(rank) + 1
        out: list[dict[str, Any]] = []
        chunk = 200
        while limit is None or len(out) < limit:
            ids = self.client.zrevrange(self.keys.index, start, start + chunk - 1)
            if not ids:
                break
            start += len(ids)
            for summary in self._summaries_of(ids):
                mine = owner is None or summary["owner"] == owner
                if mine or (include_shared and summary["shared"]):
                    out.append(summary)
                    if limit is not None and len(out) >= limit:
                        break
        return out

    def _summaries_of(self, ids: list[str]) -> list[dict[str, Any]]:
        """The summaries of ``ids``, in their order: from their Redis rows, from the archive for those Redis let
        go (the index keeps every run's id, so a listing keeps its order across both), none for runs in neither."""
        pipe = self.client.pipeline(transaction=False)
        for run_id in ids:
            pipe.hgetall(self.keys.row(run_id))
        rows = dict(zip(ids, pipe.execute()))
        gone = [run_id for run_id, row in rows.items() if not row]
        archived = self.archive.summaries_of(gone) if self.archive is not None and gone else {}
        out = []
        for run_id, row in rows.items():
            summary = _summary_row(row) if row else archived.get(run_id)
            if summary is not None:
                out.append(summary)
        return out

    def owner_of(self, run_id: str) -> tuple[str | None, bool] | None:
        row = self.client.hmget(self.keys.row(run_id), ["id", "owner", "shared"])
        if row[0] is None:
            return self.archive.owner_of(run_id) if self.archive is not None else None
        return row[1] or None, row[2] == "1"

    def status_counts(self) -> dict[str, int]:
        """How many runs of every replica have each status, as Redis (and, for the runs it let go, the archive)
        has them: every replica answers the same. A run is ``running`` until it ends, paused or not, as in a
        :class:`~workbench.core.store.RunStore`."""
        counts: dict[str, int] = {}
        ids = self.client.zrange(self.keys.index, 0, -1)
        pipe = self.client.pipeline(transaction=False)
        for run_id in ids:
            pipe.hget(self.keys.row(run_id), "status")
        statuses = dict(zip(ids, pipe.execute()))
        gone = [run_id for run_id, status in statuses.items() if status is None]
        if self.archive is not None and gone:
            statuses.update((run_id, summary["status"]) for run_id, summary in self.archive.summaries_of(gone).items())
        for status in statuses.values():
            if status:
                status = status if status in ENDED else "running"
                counts[status] = counts.get(status, 0) + 1
        return counts

    def is_shared(self, run_id: str) -> bool:
        shared = self.client.hget(self.keys.row(run_id), "shared")
        if shared is None and self.archive is not None:
            found = self.archive.owner_of(run_id)
            return found is not None and found[1]
        return bool(shared == "1")

    def load(self, run_id: str) -> Run | None:
        """The run with the events Redis has of it; one still going is followed from here on
        (the same object for every caller while it goes), and takes controls through Redis."""
        with self._lock:
            mirror = self._mirrors.get(run_id)
        if mirror is not None:
            return mirror
        run = self.read(run_id)
        if run is None or run.log.closed:
            return run
        with self._lock:
            mirror = self._mirrors.get(run_id)
            if mirror is not None:  # another thread got there first
                return mirror
            self._mirrors[run_id] = run
        run._loop = self._loop
        run._controller = RemoteControls(self, run_id)
        run._canceller = lambda reason, interrupted=False: self.send_control(run_id, "cancel", {"reason": reason})
        self._loop.call_soon_threadsafe(self._start_follower, run)
        return run

    def read(self, run_id: str) -> Run | None:
        """The run as Redis has it now, followed by nobody (a worker's, a fork's parent)."""
        row = self.client.hgetall(self.keys.row(run_id))
        run = run_of(row, parse_entries(self.client.xrange(self.keys.events(run_id), "-", "+"))) if row else None
        if self.archive is not None and (run is None or _partial(row, run)):  # Redis let it go, or is letting it go
            return self.archive.load(run_id) or run
        return run

    def catch_up(self, run: Run) -> None:
        """Bring a followed run up to what Redis has now (its reading loop may be a read behind): a request
        for the run's detail or file right after its worker wrote an event then sees that event."""
        if run.workspace is None:  # known once a worker has taken the run
            workspace = self.client.hget(self.keys.row(run.id), "workspace")
            run.workspace = Path(workspace) if workspace else None
        if run.id in self._mirrors and not run.log.closed:
            _add(run, parse_entries(self.client.xrange(self.keys.events(run.id), f"0-{len(run.log) + 1}", "+")))

    @staticmethod
    def recover(message: str = "") -> list[Run]:
        return []  # a run whose worker stopped is taken over by another worker

    def flush(self, timeout: float | None = 10.0) -> bool:
        return True

    def close(self) -> None:
        for task in list(self._followers):
            task.cancel()
        self.client.close()
        if self.archive is not None:
            self.archive.close()

    async def aclose(self) -> None:
        """Stop following runs and close the read pool (on the loop the store follows runs on)."""
        await cancel_and_wait(list(self._followers))
        await self.reads.disconnect()

    # --- following a run -----------------------------------------------------------------------

    def _start_follower(self, run: Run) -> None:
        task = self._loop.create_task(self._follow(run), name=f"workbench-follow-{run.id}")
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    async def _follow(self, run: Run) -> None:
        """The one reading loop of a run on this process: Redis's new events into the run's log."""
        key = self.keys.events(run.id)
        try:
            while not run.log.closed:
                try:
                    reply = await blocking_read(self.reads, "XREAD", "COUNT", READ_BATCH, "BLOCK", READ_BLOCK_MS,
                                                "STREAMS", key, f"0-{len(run.log)}")
                except (redis.RedisError, OSError) as exc:  # Redis restarting, say: read again from where we are
                    log.debug("run %s: reading its stream failed (%s); reading again", run.id, exc)
                    await asyncio.sleep(RECONNECT_DELAY)
                    continue
                _add(run, parse_entries(read_entries(reply)))
        except asyncio.CancelledError:
            run.log.close()  # the process is stopping: its streams end (clients resume elsewhere)
            raise
        finally:
            with self._lock:
                self._mirrors.pop(run.id, None)
            run._controller = None
            run._canceller = None

    # --- controls ----------------------------------------------------------------------------

    def send_control(self, run_id: str, op: str, args: dict[str, Any]) -> Ticket:
        """Put a control on the run's control stream for its worker; the ticket to wait on its answer."""
        ticket = Ticket(secrets.token_hex(8))
        self.client.xadd(self.keys.controls(run_id), {"op": op, "args": json.dumps(args), "ticket": ticket.value})
        return ticket

    async def wait_reply(self, ticket: Ticket, timeout: float) -> Reply | None:
        """The worker's answer to a control, or None when none came within ``timeout`` seconds."""
        try:
            answer = await blocking_read(self.reads, "BLPOP", self.keys.reply(ticket.value), max(timeout, 0.01))
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return None
        if not answer:
            return None
        parsed = json.loads(answer[1])
        return Reply(events=int(parsed.get("events", 0)), status=int(parsed.get("status", 202)),
                     error_type=parsed.get("errorType"), message=parsed.get("message"))


def run_of(row: dict[str, str], events: list[ev.Event]) -> Run:
    """The run a row and its stream's events describe."""
    settings = json.loads(row.get("settings") or "{}")
    run = Run(run_id=row["id"], owner=row.get("owner") or None, task=row["task"], model=row["model"],
              strategy=row["strategy"], created_at=row["createdAt"], log=RunLog(row["id"]),
              options=settings.get("options"), tools=settings.get("tools"), parent_id=settings.get("parentId"),
              forked_at=settings.get("forkedAt"), workspace=Path(row["workspace"]) if row.get("workspace") else None)
    run.log.extend(events)
    return run


def _partial(row: dict[str, str], run: Run) -> bool:
    """Whether Redis holds less of an ended run than its row says it had (its stream expired, or was trimmed)."""
    return row.get("status") in ENDED and len(run.log) < int(row.get("eventCount") or 0)


def _add(run: Run, events: list[ev.Event]) -> None:
    """Add the events of ``events`` that ``run``'s log does not have yet (two reads may overlap)."""
    known = len(run.log)
    run.log.extend(e for e in events if e.id > known)


def _row(run: Run, shared: bool) -> dict[str, str]:
    from workbench.core.store import run_settings

    return {"id": run.id, "owner": run.owner or "", "task": run.task, "model": run.model, "strategy": run.strategy,
            "createdAt": run.created_at, "status": "running", "endedAt": "", "eventCount": "0",
            "shared": "1" if shared else "0", "settings": json.dumps(run_settings(run)), "attempts": "0"}


def _summary_row(row: dict[str, str]) -> dict[str, Any]:
    return {"id": row["id"], "task": row["task"], "model": row["model"], "strategy": row["strategy"],
            "status": row.get("status", "running"), "createdAt": row["createdAt"], "endedAt": row.get("endedAt") or None,
            "eventCount": int(row.get("eventCount") or 0), "owner": row.get("owner") or None,
            "waiting": json.loads(row.get("waiting") or "[]"),
            "shared": row.get("shared") == "1", "settings": json.loads(row.get("settings") or "{}")}


def terminal_fields(event: ev.Event) -> dict[str, str]:
    """What a run's row says once its terminal event is written."""
    from workbench.core.store_db import _terminal_status

    return {"status": _terminal_status(event), "endedAt": event.ts}
