"""A worker's writes of its runs' events into their Redis streams.

The orchestrator appends to an in-memory :class:`~workbench.core.log.RunLog` and never waits on
Redis: each event is queued as it is appended and written by this writer's thread, in batches
(one pipeline per batch). A batch that fails (Redis restarting) is tried again until it goes in;
events are written with the entry id ``0-{id}``, so a stale writer of an id Redis already has
is refused, and the run it writes for is stopped (another worker owns it now).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from workbench.core import events as ev
from workbench.core.log import RunLog
from workbench.core.redact import get_logger
from workbench.core.reducer import RunState, _apply, fold
from workbench.serving.redis_settings import Keys, RedisSettings, entry_id
from workbench.serving.redis_store import terminal_fields

__all__ = ["EventWriter", "expire_ended"]

log = get_logger("workbench.redis")

RETRY_DELAY = 0.25
"""Seconds between attempts to write a batch Redis refused (while it restarts, say)."""

_STOP = object()


class EventWriter:
    """Writes the events of followed logs to Redis from a thread of its own."""

    def __init__(self, settings: RedisSettings, *, on_conflict: Callable[[str], None]) -> None:
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self._client: Any = redis.Redis.from_url(settings.url, decode_responses=True)  # Any: see RedisRunStore.client
        self._on_conflict = on_conflict
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._written: dict[str, int] = {}
        self._appended: dict[str, int] = {}
        self._logs: dict[str, RunLog] = {}
        self._states: dict[str, RunState] = {}
        """Each run folded up to the events written: its row says its status and waiting calls with them."""
        self._owners: dict[str, str | None] = {}
        """Each run's owner: the run leaves its owner's runs going with its terminal event."""
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="workbench-redis-writer", daemon=True)
        self._thread.start()

    def follow(self, run_log: RunLog, owner: str | None = None) -> None:
        """Write every event ``run_log`` gets from now on (its events so far are in Redis already).

        The log is gated as a store gates it (:meth:`RunLog.gate`): what reads it here (the run's state,
        its end) sees an event once Redis has it, as every replica's clients do."""
        with self._idle:
            self._written[run_log.run_id] = self._appended[run_log.run_id] = len(run_log)
            self._logs[run_log.run_id] = run_log
            self._states[run_log.run_id] = fold(run_log.events)
            self._owners[run_log.run_id] = owner
        run_log.gate(len(run_log))
        run_log.add_listener(self._enqueue)

    def _enqueue(self, event: ev.Event) -> None:
        with self._idle:
            self._appended[event.run_id] = event.id
        self._queue.put(event)

    def wait_written(self, run_id: str, timeout: float | None = 30.0) -> bool:
        """Block until every event of ``run_id`` appended so far is in Redis; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._written.get(run_id, 0) >= self._appended.get(run_id, 0), timeout)

    def forget(self, run_id: str) -> None:
        with self._idle:
            self._written.pop(run_id, None)
            self._appended.pop(run_id, None)
            self._logs.pop(run_id, None)
            self._states.pop(run_id, None)
            self._owners.pop(run_id, None)

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self._client.close()

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            try:
                while len(items) < 1000:
                    items.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            events = [item for item in items if item is not _STOP]
            while events:
                try:
                    self._write(events)
                    break
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    log.warning("cannot write %d events to Redis (%s); trying again", len(events), exc)
                    time.sleep(RETRY_DELAY)
            if len(events) != len(items):
                return

    def _write(self, events: list[ev.Event]) -> None:
        # One transaction: a replica listing runs never sees a row that says less (or more) than the events.
        pipe = self._client.pipeline(transaction=True)
        for event in events:
            pipe.xadd(self.keys.events(event.run_id), {"id": str(event.id), "e": event.to_json()}, id=entry_id(event.id))
        last: dict[str, ev.Event] = {}
        for event in events:
            last[event.run_id] = event
        for event in events:
            state = self._states.get(event.run_id)
            if state is not None:
                _apply(state, event)  # in place, as Run.state folds
        for run_id, event in last.items():
            fields = {"eventCount": str(event.id)}
            state = self._states.get(run_id)
            if state is not None and not state.finished:
                fields.update(status=state.status.replace("pending", "running"), waiting=json.dumps(list(state.waiting)))
            if event.type in ev.TERMINAL_TYPES:
                fields.update(terminal_fields(event), waiting="[]")
            pipe.hset(self.keys.row(run_id), mapping=fields)
            if event.type in ev.TERMINAL_TYPES:
                pipe.zrem(self.keys.going(self._owners.get(run_id)), run_id)
                if not self.settings.archive:  # with an archive, the worker lets the run expire once it is archived
                    expire_ended(pipe, self.keys, self.settings, run_id)
        results = pipe.execute(raise_on_error=False)
        conflicts = set()
        for event, result in zip(events, results):
            if isinstance(result, redis.ResponseError):
                if "equal or smaller" in str(result):  # this id is in already: ours (a retried batch) or another's
                    if not self._ours(event):
                        conflicts.add(event.run_id)
                else:
                    raise result
            elif isinstance(result, (redis.ConnectionError, redis.TimeoutError)):
                raise result
        published = []
        with self._idle:
            for run_id, event in last.items():
                self._written[run_id] = max(self._written.get(run_id, 0), event.id)
                if run_id in self._logs:
                    published.append((self._logs[run_id], self._written[run_id]))
            self._idle.notify_all()
        for run_log, count in published:
            run_log.publish(count)
        for run_id in conflicts:
            log.error("run %s: Redis already has events this worker wrote; another worker runs it now", run_id)
            self._on_conflict(run_id)

    def _ours(self, event: ev.Event) -> bool:
        """Whether Redis holds exactly this event under its id (a batch retried after a lost answer)."""
        found = self._client.xrange(self.keys.events(event.run_id), entry_id(event.id), entry_id(event.id))
        return bool(found) and dict(found[0][1]).get("e") == event.to_json()


def expire_ended(pipe: Any, keys: Keys, settings: RedisSettings, run_id: str) -> None:
    """Let an ended run's keys expire after ``ended_ttl`` (kept for good when it is None)."""
    if settings.ended_ttl:
        ttl = int(settings.ended_ttl)
        pipe.expire(keys.events(run_id), ttl)
        pipe.expire(keys.row(run_id), ttl)
        pipe.expire(keys.controls(run_id), ttl)
