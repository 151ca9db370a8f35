"""Helpers for tests that need real servers: the standalone server on a free port, a loop in a
thread (for code under test that blocks, like ``wb.connect``), and raw HTTP over a socket."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterable, Mapping, TypeVar

from aiohttp import web

from workbench.serving.connections import make_runner
from workbench.serving.service import Principal, RunService
from workbench.serving.standalone import create_app
from workbench.serving.tokens import Authenticator, open_access, single_token, token_table
from workbench.serving.web_assets import WebAssets

T = TypeVar("T")


@dataclass
class Served:
    """A running standalone server."""

    runner: web.AppRunner
    service: RunService
    port: int
    tls: bool = False

    @property
    def root(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.root + "/api"


async def start_server(
    tmp_path: Path,
    *,
    token: str | None = None,
    tokens: Mapping[str, Principal] | None = None,
    authenticate: Authenticator | None = None,
    heartbeat: float = 15.0,
    cors: Iterable[str] = (),
    ssl_context: ssl.SSLContext | None = None,
    web_view: WebAssets | None = None,
    **service_options: Any,
) -> Served:
    """The standalone server on 127.0.0.1 and a free port, in the running loop (HTTPS with ``ssl_context``).

    Who may use it: ``authenticate`` (e.g. a workshop's ``principal_for``), else ``tokens``
    (token → principal), else one ``token``, else anyone (one local user). ``web_view`` serves the
    web view of runs at ``/`` (``workbench.notebook.web.assets.WEB_VIEW``), as ``workbench serve`` does.
    ``redis=RedisSettings(...)``: a replica whose runs are in Redis, executed by workers.
    """
    redis = service_options.pop("redis", None)
    if redis is not None:  # a replica sharing its runs through Redis (workbench serve --redis)
        from workbench.serving.redis_store import RedisRunStore

        shared = RedisRunStore(redis, asyncio.get_running_loop())
        service = RunService(store=shared, dispatcher=shared, workspace_root=tmp_path / "workspaces", **service_options)
    else:
        service = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "workspaces", **service_options)
    if authenticate is None:
        authenticate = token_table(tokens) if tokens else single_token(token) if token else open_access()
    runner = make_runner(create_app(service, authenticate=authenticate, heartbeat=heartbeat, cors_origins=cors,
                                   web_view=web_view))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    return Served(runner, service, runner.addresses[0][1], tls=ssl_context is not None)


async def start_app(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Any aiohttp application on 127.0.0.1 and a free port (HTTPS with ``ssl_context``)."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    return runner, runner.addresses[0][1]


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait, polling, until ``predicate()`` is true; an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class LoopThread:
    """An event loop running in a daemon thread; ``run(coro)`` waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-server-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


# --- reading raw HTTP/1.1 responses and SSE bodies (shared by the contract and extension tests) ---


@dataclass
class Reply:
    """A whole HTTP answer, whatever its status, as a test client read it."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReply:
    """An HTTP/1.1 response read off a raw socket: status, headers, the de-chunked body."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        head, sep, rest = raw.partition(b"\r\n\r\n")
        self.complete_head = bool(sep)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if sep else 0
        self.headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        chunked = self.headers.get("transfer-encoding") == "chunked"
        self.body, self.ended = read_chunks(rest) if chunked else (rest, False)


async def raw_get(port: int, path: str, headers: Mapping[str, str] | None = None, *,
                  cut: int | None = None, timeout: float = 30.0) -> HttpReply:
    """A hand-written HTTP/1.1 GET over a plain socket: reads to the end of the response (the
    last chunk, or Content-Length bytes), or drops the connection at byte ``cut``."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream",
             "Accept-Encoding: gzip, deflate", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return await raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode(), cut=cut, timeout=timeout)


async def slow_reader(port: int, path: str, headers: Mapping[str, str]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``GET path`` from a socket with a 4 KB receive window, for a test that then stops reading:
    with so small a window the server's writes back up, as to a laptop that went to sleep."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    request = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(request) + "\r\n\r\n").encode())
    return reader, writer


async def raw_request(port: int, request: bytes, *, cut: int | None = None, timeout: float = 30.0) -> HttpReply:
    """``request``'s bytes exactly as given (odd bytes, oversized lines) over a plain socket; the
    answer as :func:`raw_get` reads it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    raw = b""
    try:
        async with asyncio.timeout(timeout):
            while cut is None or len(raw) < cut:
                piece = await reader.read(65536 if cut is None else max(1, min(65536, cut - len(raw))))
                if not piece:
                    break
                raw += piece
                if raw.endswith(b"\r\n0\r\n\r\n") or _has_whole_body(raw):
                    break
    finally:
        writer.transport.abort()  # drop it, as a client that goes away would
    return HttpReply(raw[:cut] if cut is not None else raw)


def _has_whole_body(raw: bytes) -> bool:
    """Whether a response with a Content-Length has all of its body."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:] if sep else ():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def read_chunks(data: bytes) -> tuple[bytes, bool]:
    """The body of a chunked transfer, also when cut short; True when the final chunk came."""
    out, pos = bytearray(), 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), False
        size = int(data[pos:end], 16)
        if size == 0:
            return bytes(out), True
        out += data[end + 2 : end + 2 + size]
        if end + 2 + size + 2 > len(data):
            return bytes(out), False
        pos = end + 2 + size + 2


def frames_of(events: list[Any]) -> bytes:
    """The exact SSE frames of ``events``."""
    from workbench.serving import sse

    return b"".join(sse.encode_event(e) for e in events)


def without_keepalives(data: bytes) -> bytes:
    from workbench.serving import sse

    return data.replace(sse.KEEPALIVE, b"")
