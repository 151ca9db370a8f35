"""Where runs live when they are shared through Redis: the settings, the keys, and one blocking read.

Each run is one Redis stream, ``{prefix}:run:{id}:events``, whose entries carry the contract's
envelopes (field ``e``) with the contract's ids (field ``id``, and the entry id ``0-{id}``, so that
a second writer of the same event id is refused by Redis itself and resuming after event n is
``XREAD … 0-n``). Beside it: the run's row (a hash), its control stream (pause, decisions, … sent
by any replica to the worker running it) and, for all runs, an index (a sorted set by creation
time) and the queue of runs to execute (a stream read by the workers' consumer group).

Only ``workbench serve --redis`` and ``workbench worker`` import this module, and with it ``redis``.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Iterable

import redis
import redis.asyncio as aioredis

from workbench.core import events as ev
from workbench.core.run_archive import RunArchive
from workbench.errors import UserError

__all__ = ["Keys", "RedisSettings", "blocking_read", "cancel_and_wait", "check_reachable", "entry_id", "field_map",
           "open_archive", "parse_entries", "raise_if_cancelled", "read_entries", "redis_url_from_env"]

GROUP = "workers"
"""The consumer group of the workers on the queue of runs."""


def redis_url_from_env() -> str | None:
    """``$WORKBENCH_REDIS_URL``, or None."""
    return os.environ.get("WORKBENCH_REDIS_URL") or None


def open_archive(settings: RedisSettings) -> RunArchive | None:
    """The archive ``settings`` names, opened (a :class:`UserError` naming it when it cannot be), or None."""
    return RunArchive(settings.archive) if settings.archive else None


@dataclass(frozen=True)
class RedisSettings:
    """How a replica or worker uses Redis."""

    url: str
    prefix: str = "wb"
    """Every key starts with it: several workbenches can share one Redis."""
    ended_ttl: float | None = None
    """Seconds an ended run's stream and row are kept in Redis (None: for good)."""
    claim_idle: float = 15.0
    """Seconds a run's worker may go without a heartbeat before another worker takes the run over."""
    max_attempts: int = 3
    """Executions of one run at most: a run that stopped this many workers ends with ``execution:error``."""
    read_connections: int = 64
    """Connections for blocking reads (one per live run a process follows), in their own pool."""
    archive: str | None = None
    """SQLite file where each ended run is kept whole (:class:`~workbench.core.run_archive.RunArchive`), and read
    back from once Redis no longer has it (None: no archive)."""

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise UserError(f"the Redis URL must start with redis://, rediss:// or unix://, such as "
                            f"redis://localhost:6379/0; got {self.url[:60]!r}")
        if not self.claim_idle > 0 or self.max_attempts < 1:
            raise UserError("claim_idle must be a positive number of seconds and max_attempts at least 1")


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one workbench (one prefix)."""

    prefix: str

    def events(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:events"

    def row(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def controls(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:controls"

    def going(self, owner: str | None) -> str:
        """The ids of ``owner``'s runs going (not ended), for the limit of runs per user across replicas."""
        return f"{self.prefix}:owner:{owner or ''}:going"

    def reply(self, ticket: str) -> str:
        return f"{self.prefix}:reply:{ticket}"

    @property
    def index(self) -> str:
        return f"{self.prefix}:runs"

    @property
    def queue(self) -> str:
        return f"{self.prefix}:queue"


def entry_id(event_id: int) -> str:
    """The stream entry id of event ``event_id``: ``0-{id}``."""
    return f"0-{event_id}"


def parse_entries(entries: list[Any]) -> list[ev.Event]:
    """The events of ``XRANGE``/``XREAD`` entries (``[entry id, fields]``), in order."""
    out = []
    for _entry, fields in entries:
        event = ev.parse_event(field_map(fields)["e"], keep_unknown=True)
        assert event is not None
        out.append(event)
    return out


def field_map(fields: Any) -> dict[str, str]:
    """An entry's fields as a dict: RESP2 gives a flat list of names and values, RESP3 (and the client's
    own parsing) a dict."""
    if isinstance(fields, dict):
        return fields
    return dict(zip(fields[::2], fields[1::2]))


def read_entries(reply: Any) -> list[tuple[str, Any]]:
    """The entries of a raw ``XREAD``/``XREADGROUP`` answer for one stream: ``[]`` when it timed out.
    RESP2 answers ``[[stream, entries]]``, RESP3 ``{stream: entries}``."""
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [stream[1] for stream in reply]
    return [(entry[0], entry[1]) for entries in streams for entry in entries]


def check_reachable(client: redis.Redis) -> None:
    """Refuse to start (a :class:`UserError`) when Redis does not answer."""
    try:
        client.ping()
    except redis.RedisError as exc:
        raise UserError(f"cannot reach Redis at {client.get_connection_kwargs().get('host', '?')}: {exc}") from None


def raise_if_cancelled() -> None:
    """Raise the cancellation of the current task that redis-py let through.

    On Python 3.11, redis-py sends every command inside ``asyncio.wait_for``, which loses a
    cancellation that arrives as the send ends (python/cpython#86296, fixed in 3.12): the task is
    left "cancelling" and its loop would go on for ever, holding up whatever waits for it to stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], every: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until they have ended, cancelling again those a lost cancellation
    left going (see :func:`raise_if_cancelled`)."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)


async def blocking_read(pool: aioredis.BlockingConnectionPool, *args: Any) -> Any:
    """One blocking command (``XREAD … BLOCK``, ``XREADGROUP``, ``BLPOP``) on a connection of ``pool``.

    A read cancelled while Redis still blocks it (a client gone, a stream closed) would leave an
    answer on its way to that connection; returned to the pool as it is, the next command there
    would read it. So a read that does not end normally disconnects its connection before giving
    it back: the pool then opens a fresh one when it needs it.
    """
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # untyped in redis-py
    try:
        await connection.send_command(*args)
        reply = await connection.read_response()
        raise_if_cancelled()
        return reply
    except BaseException:
        await asyncio.shield(connection.disconnect(nowait=True))
        raise
    finally:
        await asyncio.shield(pool.release(connection))
