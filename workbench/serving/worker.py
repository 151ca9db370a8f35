"""``workbench worker --redis URL``: executes the runs replicas queue in Redis, and takes over the
runs of workers that stopped.

A worker reads the queue of runs with ``XREADGROUP`` in the group ``workers``: each entry it gets
is a run it now executes, until the run ends and the entry is acknowledged. While it runs a run,
it keeps the entry fresh (``XCLAIM`` to itself, every third of ``claim_idle``). A worker that
dies stops doing that; after ``claim_idle`` seconds another worker claims the entry
(``XAUTOCLAIM``) and goes on with the run from its last fully ended turn (see
:mod:`workbench.core.takeover`: the model is asked nothing again for turns that ended). A run
that has stopped ``max_attempts`` workers is not tried again: it ends with ``execution:error``
of type ``worker_lost``.

Each run's controls come on its control stream (:mod:`workbench.serving.remote_controls`); the
worker applies them and answers the replica that sent them.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from workbench.core import events as ev
from workbench.core.handle import Run
from workbench.core.log import RunLog
from workbench.core.redact import get_logger
from workbench.core.takeover import closing_events
from workbench.errors import NotWaiting, UnknownToolCall, UserError
from workbench.serving.redis_settings import (
    GROUP,
    Keys,
    RedisSettings,
    blocking_read,
    cancel_and_wait,
    field_map,
    open_archive,
    parse_entries,
    read_entries,
)
from workbench.serving.redis_store import REPLY_TTL, run_of
from workbench.serving.redis_writer import EventWriter, expire_ended
from workbench.serving.service import safe_segment

__all__ = ["WORKER_LOST", "Worker"]

log = get_logger("workbench.worker")

WORKER_LOST = "worker_lost"
"""The error type of a run that stopped ``max_attempts`` workers."""


class Worker:
    """One worker process's loop: claim runs, execute them, answer their controls."""

    def __init__(self, settings: RedisSettings, *, workspace_root: Path, name: str | None = None,
                 max_runs: int = 8, default_model: str | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.workspace_root = workspace_root
        self.max_runs = max_runs
        self.default_model = default_model
        self.client: Any = aioredis.Redis.from_url(settings.url, decode_responses=True)  # Any: see RedisRunStore.client
        self.reads = aioredis.BlockingConnectionPool.from_url(settings.url, max_connections=2 * max_runs + 4,
                                                              decode_responses=True)
        self._held: dict[str, str] = {}
        """The queue entry of each run this worker has claimed, by run id: kept fresh until the run ends."""
        self._runs: dict[str, Run] = {}
        """The runs executing here, by id."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.archive = open_archive(settings)
        """Where this worker keeps each run it ends, whole (``--archive``), or None."""
        self._taken: set[str] = set()
        """Runs another worker took over from this one: theirs to archive."""
        self.writer = EventWriter(settings, on_conflict=self._lost)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; runs going then are left to the other workers to take over."""
        self._loop = asyncio.get_running_loop()
        # The agent and its SDK, imported off the loop once: imported by the first run, they would
        # hold the loop, and with it the heartbeats, for seconds.
        await asyncio.to_thread(importlib.import_module, "workbench.agent.launch")
        try:
            await self.client.xgroup_create(self.keys.queue, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        loops = [asyncio.create_task(_keep_going(loop)) for loop in (self._claim_new, self._claim_stale, self._heartbeat)]
        try:
            await stop.wait()
        finally:
            await cancel_and_wait([*loops, *self._tasks])
            await asyncio.to_thread(self.writer.close)
            await self._leave_group()
            await self.client.aclose()
            await self.reads.disconnect()
            if self.archive is not None:
                self.archive.close()

    async def _leave_group(self) -> None:
        """Take this worker's name off the group when it holds no run (the runs it holds, the others take over)."""
        try:
            pending = await self.client.xpending_range(self.keys.queue, GROUP, "-", "+", 1, consumername=self.name)
            if not pending:
                await self.client.xgroup_delconsumer(self.keys.queue, GROUP, self.name)
        except (redis.RedisError, OSError):
            pass

    # --- claiming ----------------------------------------------------------------------------

    async def _claim_new(self) -> None:
        while True:
            if len(self._held) >= self.max_runs:
                await asyncio.sleep(0.2)
                continue
            try:
                reply = await blocking_read(self.reads, "XREADGROUP", "GROUP", GROUP, self.name, "COUNT", 1,
                                            "BLOCK", 2000, "STREAMS", self.keys.queue, ">")
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                await asyncio.sleep(0.5)
                continue
            for entry_id, fields in read_entries(reply):
                self._start(entry_id, field_map(fields)["run"])

    async def _claim_stale(self) -> None:
        """Take over runs whose worker stopped keeping their entry fresh."""
        idle_ms = int(self.settings.claim_idle * 1000)
        while True:
            await asyncio.sleep(self.settings.claim_idle / 2)
            if len(self._held) >= self.max_runs:
                continue
            try:
                _next, entries, *_ = await self.client.xautoclaim(self.keys.queue, GROUP, self.name, idle_ms,
                                                                  "0-0", count=1)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                continue
            for entry_id, raw in entries:
                fields = field_map(raw)
                if fields.get("run") in self._held:  # its own, late with a heartbeat (a busy loop)
                    continue
                log.warning("taking over run %s: its worker stopped", fields.get("run"))
                self._start(entry_id, fields["run"])

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.claim_idle / 3)
            entries = list(self._held.values())
            if entries:
                try:
                    await self.client.xclaim(self.keys.queue, GROUP, self.name, 0, entries, justid=True)
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    pass

    def _start(self, entry_id: str, run_id: str) -> None:
        self._held[run_id] = entry_id
        task = asyncio.create_task(self._execute(entry_id, run_id), name=f"workbench-worker-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- executing ---------------------------------------------------------------------------

    async def _execute(self, entry_id: str, run_id: str) -> None:
        try:
            await self._execute_run(entry_id, run_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # one run's failure must not stop the worker
            log.exception("run %s: the worker could not execute it", run_id)
        finally:
            self._held.pop(run_id, None)

    async def _execute_run(self, entry_id: str, run_id: str) -> None:
        row_key = self.keys.row(run_id)
        attempt = int(await self.client.hincrby(row_key, "attempts", 1))
        row = await self.client.hgetall(row_key)
        run_log = RunLog(run_id)
        run_log.extend(parse_entries(await self.client.xrange(self.keys.events(run_id), "-", "+")))
        if "request" not in row:  # gone (expired)
            await self._done(entry_id, run_id)
            return
        if run_log.closed:  # ended before its entry was acknowledged (its worker stopped, or could not archive it)
            await self._finish(entry_id, row, run_log)
            return
        self.writer.follow(run_log, owner=row.get("owner") or None)
        if attempt > self.settings.max_attempts:
            stops, most = attempt - 1, self.settings.max_attempts
            self._end(run_log, row, WORKER_LOST, f"the worker running this run stopped {stops} time{'s' * (stops != 1)}; "
                                                 f"it is not tried again (at most {most} attempt{'s' * (most != 1)}, "
                                                 "--max-attempts)")
        else:
            request: dict[str, Any] = json.loads(row["request"])
            fork = request.get("fork")
            parent = await self._read_run(fork["parent"]) if fork and not run_log.events else None
            try:
                run = self._launch(run_log, row, request, attempt, parent)
            except UserError as exc:  # this worker cannot run it (no API key here, say): the run ends saying why
                self._end(run_log, row, "worker_error", str(exc))
                await asyncio.to_thread(self.writer.wait_written, run_id)
                await self._finish(entry_id, row, run_log)
                return
            self._runs[run_id] = run
            await self.client.hset(row_key, mapping={"worker": self.name, "workspace": str(run.workspace)})
            controls = asyncio.create_task(self._controls(run, row.get("controlsSeen") or "0-0"))
            try:
                await run.wait_async()
            finally:
                controls.cancel()
                self._runs.pop(run_id, None)
        await asyncio.to_thread(self.writer.wait_written, run_id)
        await self._finish(entry_id, row, run_log)

    def _launch(self, run_log: RunLog, row: dict[str, str], request: dict[str, Any], attempt: int,
                parent: Run | None) -> Run:
        from workbench.agent.launch import resume_run, start_fork, start_run

        owner = row.get("owner") or None
        workspace = self.workspace_root / safe_segment(owner or "user") / run_log.run_id
        options = {**(request.get("options") or {}), "workspace": str(workspace)}
        start: dict[str, Any] = {"model": request.get("model") or self.default_model,
                                 "strategy": request.get("strategy", "plan"), "tools": request.get("tools"),
                                 "options": options, "loop": self._loop, "owner": owner}
        fork = request.get("fork")
        if fork and not run_log.events:
            if parent is None:
                raise UserError(f"the run {fork['parent']} this run forks is not in Redis any more")
            start.update(options={**(fork.get("options") or {}), "workspace": str(workspace)}, model=fork.get("model"))
            del start["strategy"]
            return start_fork(parent, fork["at"], tool_result=fork.get("toolResult"), message=fork.get("message"),
                              by=fork.get("by"), run_log=run_log, run_id=run_log.run_id, **start)
        if not run_log.events:
            return start_run(request["task"], run_log=run_log, run_id=run_log.run_id, **start)
        return resume_run(run_log, attempt=attempt, worker=self.name, task=request["task"], **start)

    async def _read_run(self, run_id: str) -> Run | None:
        """A run as Redis has it now, or as the archive keeps it once Redis let it go (a fork's parent)."""
        row = await self.client.hgetall(self.keys.row(run_id))
        if row:
            run = run_of(row, parse_entries(await self.client.xrange(self.keys.events(run_id), "-", "+")))
            if run.log.closed or self.archive is None:
                return run
        return await asyncio.to_thread(self.archive.load, run_id) if self.archive is not None else None

    def _end(self, run_log: RunLog, row: dict[str, str], error_type: str, message: str) -> None:
        """End a run this worker does not execute with ``execution:error``: closing what is open first, and
        giving a run that has no event yet its ``execution:started``, as the contract wants."""
        if not run_log.events:
            run_log.append(ev.ExecutionStartedData(task=row.get("task", ""), started_at=ev.utc_timestamp(),
                                                   model=row.get("model", ""), strategy=row.get("strategy", "plan")))
        for closing in closing_events(run_log.events):
            run_log.append(closing)
        run_log.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type=error_type, message=message)))

    async def _finish(self, entry_id: str, row: dict[str, str], run_log: RunLog) -> None:
        """A run whose terminal event is in Redis: into the archive whole, then let expire, then acknowledged.

        An archive that refuses the run (a full disk) leaves its entry unacknowledged: a worker claims it
        again after ``claim_idle`` and tries again, and Redis keeps the run meanwhile."""
        run_id = run_log.run_id
        if self.archive is not None and run_id not in self._taken:
            shared = await self.client.hget(self.keys.row(run_id), "shared")  # as it is now: sharing may change
            try:
                await asyncio.to_thread(self.archive.put, run_of(row, list(run_log.events)),
                                        shared=(shared or row.get("shared")) == "1")
            except (OSError, sqlite3.Error) as exc:
                log.error("run %s: cannot write it to the archive %s (%s); it stays in Redis and is tried again",
                          run_id, self.archive.path, exc)
                self.writer.forget(run_id)
                return
            pipe = self.client.pipeline(transaction=False)
            expire_ended(pipe, self.keys, self.settings, run_id)
            await pipe.execute()
        self._taken.discard(run_id)
        await self._done(entry_id, run_id)

    async def _done(self, entry_id: str, run_id: str) -> None:
        await self.client.xack(self.keys.queue, GROUP, entry_id)
        self.writer.forget(run_id)

    def _lost(self, run_id: str) -> None:
        """Another worker writes this run now (this one was thought dead): stop it here, quietly."""
        self._taken.add(run_id)
        run = self._runs.get(run_id)
        if run is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(run.interrupt, "another worker took this run over")

    # --- controls ----------------------------------------------------------------------------

    async def _controls(self, run: Run, seen: str) -> None:
        key = self.keys.controls(run.id)
        while not run.done:
            try:
                reply = await blocking_read(self.reads, "XREAD", "COUNT", 100, "BLOCK", 2000, "STREAMS", key, seen)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                await asyncio.sleep(0.5)
                continue
            for entry_id, fields in read_entries(reply):
                control = field_map(fields)
                answer = await self._apply(run, control["op"], json.loads(control.get("args") or "{}"))
                pipe = self.client.pipeline(transaction=False)
                pipe.lpush(self.keys.reply(control["ticket"]), json.dumps(answer))
                pipe.expire(self.keys.reply(control["ticket"]), REPLY_TTL)
                pipe.hset(self.keys.row(run.id), "controlsSeen", entry_id)
                await pipe.execute()
                seen = entry_id

    async def _apply(self, run: Run, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Apply one control as the service does for a local run; the answer for the replica."""
        try:
            if op == "cancel":
                if not run.cancel(str(args.get("reason") or "cancelled")):
                    return {"status": 409, "errorType": "already_finished", "message": f"run {run.id} has already ended"}
                return {"status": 202, "events": len(run.log)}
            if op == "pause":
                run.pause()
            elif op == "resume":
                run.resume(bool(args.get("step")), by=args.get("by"))
            elif op == "decide":
                run.decide(args["tool_use_id"], args["decision"], args.get("params"), args.get("note"),
                           by=args.get("by"))
            elif op == "say":
                run.say(args["text"], by=args.get("by"))
            else:
                return {"status": 400, "errorType": "invalid_request", "message": f"unknown control {op!r}"}
        except NotWaiting as exc:
            return {"status": 409, "errorType": "not_waiting", "message": str(exc)}
        except UnknownToolCall as exc:
            return {"status": 404, "errorType": "unknown_tool_call", "message": str(exc)}
        except UserError as exc:
            return {"status": 400, "errorType": "invalid_request", "message": str(exc)}
        await asyncio.sleep(0)  # the control's own event is appended on this loop
        await asyncio.to_thread(self.writer.wait_written, run.id, 5.0)
        return {"status": 202, "events": len(run.log)}


async def _keep_going(loop: Callable[[], Awaitable[None]]) -> None:
    """Run one of the worker's loops for good: a failure is logged and the loop starts again, since
    a worker whose claim loop or heartbeat died would go on looking alive while doing nothing."""
    while True:
        try:
            await loop()
        except (redis.RedisError, OSError) as exc:
            log.warning("%s: Redis failed (%s); again in a second", loop.__name__, exc)
        except Exception:
            log.exception("%s failed; again in a second", loop.__name__)
        await asyncio.sleep(1.0)
