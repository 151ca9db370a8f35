"""A server child of the SSE bench: one of the three servers (the Jupyter extension, a minimal Tornado
handler, a minimal aiohttp-sse handler), the feeder that appends the stream at a set rate on the
server's own loop, and the commands the parent sends it on stdin (create, feed, counts, gc, profile…).

For ``bench/scale.py`` two more kinds: ``replica`` (``workbench serve --redis``'s application, which
serves runs it reads from Redis and feeds nothing itself) and ``feeder`` (no server: the worker's
side of a run on Redis, its events written by the real ``EventWriter``); both find Redis at
``$WORKBENCH_REDIS_URL``, as the real processes do."""

from __future__ import annotations

import cProfile
import gc
import os
import time
from pathlib import Path
from typing import Any

from sse_bench.common import (
    SERVER_CPU,
    become_child,
    emit,
    raise_nofile,
    stdin_commands,
)
from sse_bench.feed import load_feed


class Host:
    """What the feeder needs from a server: streams to create, append to and count."""

    def create(self) -> str:
        raise NotImplementedError

    def append(self, sid: str, index: int) -> None:
        """Append feed item ``index`` (0-based) as the stream's next event."""
        raise NotImplementedError

    def counts(self) -> dict[str, int]:
        raise NotImplementedError


class BaselineStream:
    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.frames: list[bytes] = []
        """Tornado baseline: each event's whole SSE frame, encoded once at append."""
        self.items: list[tuple[str, str, str]] = []
        """aiohttp-sse baseline: (id, type, data) for ``EventSourceResponse.send``."""
        self.closed = False
        self.changed = loop.create_future()

    def wake(self) -> None:
        changed, self.changed = self.changed, self.loop.create_future()
        changed.set_result(None)


class BaselineHost(Host):
    def __init__(self, feed: list[tuple[str, str]], loop: Any) -> None:
        self.feed = feed
        # The envelope without its id, so an event can get the next id of its stream.
        self.rest = [(t, x[x.index(","):]) for t, x in feed]
        self.loop = loop
        self.streams: dict[str, BaselineStream] = {}
        self.active = 0

    def create(self) -> str:
        sid = f"s{len(self.streams) + 1}"
        self.streams[sid] = BaselineStream(self.loop)
        return sid

    def append(self, sid: str, index: int) -> None:
        stream = self.streams[sid]
        n = len(stream.items) + 1
        kind, rest = self.rest[index]
        data = f'{{"id":{n}' + rest
        stream.items.append((str(n), kind, data))
        stream.frames.append(b"id: %d\nevent: %s\ndata: %s\n\n" % (n, kind.encode(), data.encode()))
        if kind.startswith("execution:") and kind != "execution:started":
            stream.closed = True
        stream.wake()

    def counts(self) -> dict[str, int]:
        return {"streams": self.active, "waiters": self.active}


RETRY = b"retry: 2000\n\n"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def tornado_app(host: BaselineHost) -> Any:
    import tornado.web
    from tornado.iostream import StreamClosedError

    class Events(tornado.web.RequestHandler):
        async def get(self, sid: str) -> None:
            stream = host.streams.get(sid)
            if stream is None:
                raise tornado.web.HTTPError(404)
            for name, value in SSE_HEADERS.items():
                self.set_header(name, value)
            host.active += 1
            try:
                self.write(RETRY)
                await self.flush()
                position = 0
                while True:
                    if position < len(stream.frames):
                        chunk = b"".join(stream.frames[position:])
                        position = len(stream.frames)
                        self.write(chunk)
                        await self.flush()
                        continue
                    if stream.closed:
                        break
                    await stream.changed
            except StreamClosedError:
                return
            finally:
                host.active -= 1

    return tornado.web.Application([(r"/events/([^/]+)", Events)])


def aiohttp_app(host: BaselineHost) -> Any:
    from aiohttp import web
    from aiohttp_sse import sse_response

    async def events(request: web.Request) -> web.StreamResponse:
        stream = host.streams.get(request.match_info["sid"])
        if stream is None:
            raise web.HTTPNotFound()
        host.active += 1
        try:
            async with sse_response(request, sep="\n", headers={"X-Accel-Buffering": "no"}) as response:
                try:
                    await response.write(RETRY)
                    position = 0
                    while True:
                        while position < len(stream.items):
                            event_id, kind, data = stream.items[position]
                            position += 1
                            await response.send(data, id=event_id, event=kind)
                        if stream.closed:
                            break
                        await stream.changed
                except (ConnectionError, RuntimeError):  # the client went away
                    pass
            return response
        finally:
            host.active -= 1

    app = web.Application()
    app.router.add_get("/events/{sid}", events)
    return app


class WorkbenchHost(Host):
    """Runs registered with a workbench ``RunService`` (the extension's or the standalone server's) and fed
    by the bench."""

    def __init__(self, feed: list[tuple[str, str]], service: Any, who: Any, loop: Any,
                 handlers: Any = None) -> None:
        from workbench.core import events as ev

        self.ev = ev
        self.datas = [ev.parse_event(x).data for _, x in feed]  # type: ignore[union-attr]
        self.service = service
        self.who = who
        """The principal the bench's runs belong to (the one its token authenticates as)."""
        self.loop = loop
        self.durable = True
        """Streams send an event once the store has it, as shipped; a what-if turns it off."""
        self.runs: dict[str, Any] = {}
        self.handlers = handlers
        """The server's own set of stream handlers or tasks, if it keeps one: counted too, so that one left
        behind shows."""

    def create(self) -> str:
        from workbench.core.handle import Run, new_run_id

        service = self.service
        run = Run(run_id=new_run_id(), task="SSE benchmark feed", model="simulated", strategy="plan",
                  created_at=self.ev.utc_timestamp(), owner=self.who.name)
        run._loop = self.loop

        def canceller(reason: str, interrupted: bool = False) -> None:  # the server is stopping
            if not run.done:
                run.log.append(self.ev.ExecutionErrorData(
                    error=self.ev.ErrorInfo(type="interrupted", message=reason), stack=None))

        run._canceller = canceller
        service._live[run.id] = run  # what RunService.create does after start_run
        service.store.add(run)
        if not self.durable:  # what-if: streams send each event as it is appended, not once it is stored
            run.log._published = None
        self.runs[run.id] = run
        return run.id

    def append(self, sid: str, index: int) -> None:
        self.runs[sid].log.append(self.datas[index])

    def counts(self) -> dict[str, int]:
        handlers = len(self.handlers) if self.handlers is not None else 0
        return {"streams": max(self.service.meter.open, handlers),
                "waiters": sum(r.log.waiting for r in self.runs.values())}


def serve_main(kind: str, feed_path: str, port: int, token: str, tmp: str) -> None:
    become_child(SERVER_CPU)
    raise_nofile()
    import asyncio

    feed = load_feed(feed_path)
    profiler: list[cProfile.Profile] = []
    feeds: list[asyncio.Task[Any]] = []
    # Timing instrumentation: every garbage collection's pause, by generation.
    gc_pauses: list[tuple[int, float]] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses.append((info["generation"], time.perf_counter() - gc_started[0]))

    gc.callbacks.append(on_gc)
    # ... and every stall of the event loop: a turn that kept a 5 ms sleeper waiting 30 ms more or
    # longer, with how much CPU the loop's thread used meanwhile (all of it: the loop was busy;
    # little: it was waiting, for the GIL or for its CPU).
    stalls: list[tuple[float, float, float]] = []

    async def watch_loop() -> None:
        while True:
            t0, c0 = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.005)
            late = time.perf_counter() - t0 - 0.005
            if late >= 0.03:
                stalls.append((time.time(), late, time.thread_time() - c0))

    def setup(loop: asyncio.AbstractEventLoop, host: Host, stop: Any) -> None:
        def handle(msg: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(lambda: answer(msg))

        def answer(msg: dict[str, Any]) -> None:
            try:
                command(msg)
            except Exception as exc:  # noqa: BLE001 - the parent says what went wrong
                emit({"seq": msg.get("seq"), "error": f"{type(exc).__name__}: {exc}"})

        def command(msg: dict[str, Any]) -> None:
            cmd, seq = msg["cmd"], msg.get("seq")
            if cmd == "create":
                emit({"seq": seq, "id": host.create()})
            elif cmd == "append":
                for i in msg["indices"]:
                    host.append(msg["id"], i)
                emit({"seq": seq, "ok": True})
            elif cmd == "feed":
                feeds.append(loop.create_task(feeder(msg)))
            elif cmd == "counts":
                emit({"seq": seq, **host.counts()})
            elif cmd == "gc":
                gc.collect()
                emit({"seq": seq, "ok": True})
            elif cmd == "gc_probe":  # how long one full collection takes here, over how many objects
                gc.collect()
                t0 = time.perf_counter()
                gc.collect()
                emit({"seq": seq, "ms": (time.perf_counter() - t0) * 1000, "objects": len(gc.get_objects()),
                      "frozen": gc.get_freeze_count()})
            elif cmd == "experiment":  # what-if changes, in this bench process only, for the report
                if msg["what"] == "unfreeze":
                    gc.unfreeze()  # as if WorkbenchApp.freeze_startup_objects were False
                elif msg["what"] == "young700":  # as if WorkbenchApp.young_collection_threshold were Python's own
                    gc.set_threshold(700, *gc.get_threshold()[1:])
                elif msg["what"] == "undurable":
                    host.durable = False
                emit({"seq": seq, "ok": True})
            elif cmd == "gc_pauses":  # since the last time asked, with the loop's stalls
                pauses, late = gc_pauses[:], stalls[:]
                gc_pauses.clear()
                stalls.clear()
                emit({"seq": seq, "pauses": pauses, "stalls": late})
            elif cmd == "trace":  # tracemalloc: start it, or dump a snapshot (after a collection) to a file
                import tracemalloc

                if msg.get("path") is None:
                    tracemalloc.start(msg.get("frames", 30))
                else:
                    gc.collect()
                    tracemalloc.take_snapshot().dump(msg["path"])
                emit({"seq": seq, "ok": True})
            elif cmd == "profile":
                if msg["on"]:
                    gc.collect()
                    profiler.append(cProfile.Profile())
                    profiler[-1].enable()
                else:
                    profiler[-1].disable()
                    profiler[-1].dump_stats(msg["path"])
                emit({"seq": seq, "ok": True})
            elif cmd == "post_run":  # ext only: a real simulated run, as a client would start it
                run = host.service.create(host.who, msg["body"])  # type: ignore[attr-defined]
                times: dict[int, float] = {}
                run.log.add_listener(lambda e: times.__setitem__(e.id, time.time()))
                host.runs[run.id] = run  # type: ignore[attr-defined]

                async def report() -> None:
                    await run.wait_async()
                    emit({"seq": seq, "id": run.id, "times": [times[i] for i in sorted(times)],
                          "status": run.state.status})

                emit({"seq": None, "posted": run.id, "for": seq})
                feeds.append(loop.create_task(report()))
            elif cmd == "cancel_run":
                host.service.cancel(host.who, msg["id"])  # type: ignore[attr-defined]
                emit({"seq": seq, "ok": True})
            elif cmd == "live_runs":  # ext only: what the service holds in memory
                live = host.service._live  # type: ignore[attr-defined]
                emit({"seq": seq, "runs": len(live), "finished": sum(1 for r in live.values() if r.done),
                      "events": sum(len(r.log) for r in live.values())})
            elif cmd == "quit":
                stop()

        async def feeder(msg: dict[str, Any]) -> None:
            sid, rate, start = msg["id"], msg["rate"], msg["start_at"]
            indices = msg["indices"]
            times = [0.0] * len(indices)
            due = [start + i / rate for i in range(len(indices))]
            i = 0
            while i < len(indices):
                wait = due[i] - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                now = time.time()
                while i < len(indices) and due[i] <= now:  # everything due (all at once if the loop lagged)
                    times[i] = time.time()
                    host.append(sid, indices[i])
                    i += 1
            emit({"seq": msg["seq"], "times": times, "due": due})

        stdin_commands(handle)
        feeds.append(loop.create_task(watch_loop()))

    if kind == "ext":
        serve_ext(feed, port, token, tmp, setup)
    elif kind == "standalone":
        serve_standalone(feed, port, token, tmp, setup)
    elif kind == "replica":
        serve_replica(port, token, tmp, setup)
    elif kind == "feeder":
        serve_feeder(feed, setup)
    else:
        serve_baseline(kind, feed, port, setup)


def serve_ext(feed: list[tuple[str, str]], port: int, token: str, tmp: str, setup: Any) -> None:
    from jupyter_server.serverapp import ServerApp
    from traitlets.config import Config

    c = Config()
    c.ServerApp.ip = "127.0.0.1"
    c.ServerApp.port = port
    c.ServerApp.port_retries = 0
    c.ServerApp.open_browser = False
    c.ServerApp.allow_root = True  # containers often run as root; the bench binds 127.0.0.1 only
    c.ServerApp.root_dir = str(Path(tmp) / "root")
    c.ServerApp.log_level = "WARN"
    c.ServerApp.jpserver_extensions = {"workbench": True}
    c.IdentityProvider.token = token
    c.WorkbenchApp.store_path = str(Path(tmp) / "ext" / "runs.db")
    c.WorkbenchApp.workspace_root = str(Path(tmp) / "ext" / "workspaces")
    Path(tmp, "root").mkdir(parents=True, exist_ok=True)
    app = ServerApp.instance(config=c)
    app.initialize(argv=[], find_extensions=False)
    ext = app.web_app.settings["workbench"]

    def ready() -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        # Jupyter's token users all map to the server's user
        setup(loop, WorkbenchHost(feed, ext.service, ext.principal(None), loop, ext.streams), lambda: app.stop())
        emit({"ready": port, "pid": os.getpid(), "server": f"jupyter_server {__import__('jupyter_server').__version__}"})

    app.io_loop.add_callback(ready)
    app.start()  # until app.stop() (or SIGTERM): interrupts live runs and flushes the store


def serve_baseline(kind: str, feed: list[tuple[str, str]], port: int, setup: Any) -> None:
    import asyncio

    async def main() -> None:
        loop = asyncio.get_running_loop()
        host = BaselineHost(feed, loop)
        stopped = asyncio.Event()
        if kind == "tornado":
            import tornado

            server = tornado_app(host).listen(port, address="127.0.0.1")
            label = f"tornado {tornado.version}"
        else:
            import aiohttp
            import aiohttp_sse
            from aiohttp import web

            runner = web.AppRunner(aiohttp_app(host), access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            label = f"aiohttp {aiohttp.__version__}, aiohttp-sse {aiohttp_sse.__version__}"
        setup(loop, host, stopped.set)
        emit({"ready": port, "pid": os.getpid(), "server": label})
        await stopped.wait()
        if kind == "tornado":
            server.stop()
        else:
            await runner.cleanup()

    asyncio.run(main())


def serve_standalone(feed: list[tuple[str, str]], port: int, token: str, tmp: str, setup: Any) -> None:
    """``workbench serve``'s application and runner, as ``workbench.serving.listener.serve`` builds them, with one
    token."""
    import asyncio

    async def main() -> None:
        import aiohttp
        from aiohttp import web

        from workbench.serving.app_keys import STREAMS
        from workbench.serving.connections import make_runner
        from workbench.serving.service import RunService
        from workbench.serving.standalone import create_app
        from workbench.serving.tokens import single_token

        loop = asyncio.get_running_loop()
        authenticate = single_token(token)
        root = Path(tmp) / "standalone"
        service = RunService(store_path=root / "runs.db", workspace_root=root / "workspaces")
        app = create_app(service, authenticate=authenticate)
        runner = make_runner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stopped = asyncio.Event()
        setup(loop, WorkbenchHost(feed, service, authenticate(token), loop, app[STREAMS]), stopped.set)
        emit({"ready": port, "pid": os.getpid(), "server": f"workbench serve (aiohttp {aiohttp.__version__})"})
        await stopped.wait()
        await runner.cleanup()

    asyncio.run(main())


class ReplicaHost(Host):
    """A ``workbench serve --redis`` replica: it feeds nothing (the feeder child writes the runs to Redis);
    it counts its streams and the waiters on the logs of the runs it follows."""

    def __init__(self, service: Any, store: Any, handlers: Any) -> None:
        self.service = service
        self.store = store
        self.handlers = handlers

    def create(self) -> str:
        raise RuntimeError("a replica holds no runs of its own: the feeder child creates them in Redis")

    def counts(self) -> dict[str, int]:
        return {"streams": max(self.service.meter.open, len(self.handlers)),
                "waiters": sum(run.log.waiting for run in list(self.store._mirrors.values()))}


def serve_replica(port: int, token: str, tmp: str, setup: Any) -> None:
    """``workbench serve --redis``'s application and runner, as ``workbench.serving.listener.serve`` builds them
    (no worker), with one token."""
    import asyncio

    async def main() -> None:
        import aiohttp
        from aiohttp import web

        from workbench.serving.app_keys import STREAMS
        from workbench.serving.connections import make_runner
        from workbench.serving.redis_settings import RedisSettings, redis_url_from_env
        from workbench.serving.redis_store import RedisRunStore
        from workbench.serving.service import RunService
        from workbench.serving.standalone import create_app
        from workbench.serving.tokens import single_token

        loop = asyncio.get_running_loop()
        url = redis_url_from_env()
        assert url, "WORKBENCH_REDIS_URL is not set"
        shared = RedisRunStore(RedisSettings(url), loop)
        service = RunService(store=shared, dispatcher=shared, workspace_root=Path(tmp) / f"replica-{port}")
        app = create_app(service, authenticate=single_token(token))
        runner = make_runner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stopped = asyncio.Event()
        setup(loop, ReplicaHost(service, shared, app[STREAMS]), stopped.set)
        emit({"ready": port, "pid": os.getpid(),
              "server": f"workbench serve --redis (aiohttp {aiohttp.__version__}, redis-py {__import__('redis').__version__})"})
        await stopped.wait()
        await runner.cleanup()
        await shared.aclose()

    asyncio.run(main())


class RedisFeedHost(Host):
    """The worker's side of runs on Redis: each run's row written as ``RedisRunStore.add`` writes it, and its
    events appended to the run's in-memory log, which the real ``EventWriter`` follows (as ``Worker`` does
    with ``writer.follow(run_log)``) and writes to the run's stream from its own thread."""

    def __init__(self, feed: list[tuple[str, str]], store: Any, writer: Any, owner: str, loop: Any) -> None:
        from workbench.core import events as ev

        self.ev = ev
        self.datas = [ev.parse_event(x).data for _, x in feed]  # type: ignore[union-attr]
        self.store = store
        self.writer = writer
        self.owner = owner
        self.loop = loop
        self.runs: dict[str, Any] = {}

    def create(self) -> str:
        from workbench.core.handle import Run, new_run_id

        run = Run(run_id=new_run_id(), task="scale benchmark feed", model="simulated", strategy="plan",
                  created_at=self.ev.utc_timestamp(), owner=self.owner)
        run._loop = self.loop
        self.store.add(run)
        self.writer.follow(run.log)
        self.runs[run.id] = run
        return run.id

    def append(self, sid: str, index: int) -> None:
        run = self.runs[sid]
        run.log.append(self.datas[index])
        if run.log.closed:  # the run's end: the worker forgets it once it is written
            self.loop.run_in_executor(None, self._forget, sid)

    def _forget(self, sid: str) -> None:
        self.writer.wait_written(sid)
        self.writer.forget(sid)

    def counts(self) -> dict[str, int]:
        return {"streams": 0, "waiters": 0}


def serve_feeder(feed: list[tuple[str, str]], setup: Any) -> None:
    """The feeder of the Redis path, playing the worker: no server, the commands (create, append, feed) only."""
    import asyncio
    import sys

    async def main() -> None:
        import redis

        from workbench.serving.redis_settings import RedisSettings, redis_url_from_env
        from workbench.serving.redis_store import RedisRunStore
        from workbench.serving.redis_writer import EventWriter
        from workbench.serving.tokens import OWNER

        loop = asyncio.get_running_loop()
        url = redis_url_from_env()
        assert url, "WORKBENCH_REDIS_URL is not set"
        settings = RedisSettings(url)
        store = RedisRunStore(settings, loop)

        def conflict(run_id: str) -> None:  # nobody else writes the bench's runs: a bug if it happens
            print(f"ERROR: the EventWriter found events of run {run_id} already in Redis", file=sys.stderr, flush=True)

        writer = EventWriter(settings, on_conflict=conflict)
        stopped = asyncio.Event()
        setup(loop, RedisFeedHost(feed, store, writer, OWNER.name, loop), stopped.set)
        version = store.client.info("server")["redis_version"]
        emit({"ready": 0, "pid": os.getpid(), "server": f"feeder (EventWriter, redis-py {redis.__version__}, "
                                                         f"redis-server {version})",
              "redis_pid": store.client.info("server")["process_id"]})
        await stopped.wait()
        await asyncio.to_thread(writer.close)
        store.close()

    asyncio.run(main())
