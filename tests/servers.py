"""Helpers for tests that need real servers: the standalone server on a free port, a loop in a
thread (for code under test that blocks, like ``wb.connect``), and raw HTTP over a socket."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Coroutine, Iterable, Mapping, TypeVar

from aiohttp import web

from workbench.server import create_app, make_runner
from workbench.service import Principal, RunService
from workbench.tokens import Authenticator, open_access, single_token, token_table

T = TypeVar("T")


@dataclass
class Served:
    """A running standalone server."""

    runner: web.AppRunner
    service: RunService
    port: int

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
    **service_options: Any,
) -> Served:
    """The standalone server on 127.0.0.1 and a free port, in the running loop.

    Who may use it: ``authenticate`` (e.g. a workshop's ``principal_for``), else ``tokens``
    (token → principal), else one ``token``, else anyone (one local user).
    """
    service = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "workspaces", **service_options)
    if authenticate is None:
        authenticate = token_table(tokens) if tokens else single_token(token) if token else open_access()
    runner = make_runner(create_app(service, authenticate=authenticate, heartbeat=heartbeat, cors_origins=cors))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return Served(runner, service, runner.addresses[0][1])


async def start_app(app: web.Application) -> tuple[web.AppRunner, int]:
    """Any aiohttp application on 127.0.0.1 and a free port."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


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


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def raw_get(port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> RawResponse:
    """GET over a plain socket with a hand-written HTTP/1.1 request; the body de-chunked, byte for byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(-1), timeout)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return RawResponse(int(status_line.split()[1]), parsed, body)


def dechunk(body: bytes) -> bytes:
    """The payload of a chunked HTTP/1.1 body (which must be complete)."""
    out = bytearray()
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += body[:size]
        assert body[size:size + 2] == b"\r\n", "malformed chunk"
        body = body[size + 2:]


# --- reading raw HTTP/1.1 responses and SSE bodies (shared by the contract and extension tests) ---


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
    from workbench import sse

    return b"".join(sse.encode_event(e) for e in events)


def without_keepalives(data: bytes) -> bytes:
    from workbench import sse

    return data.replace(sse.KEEPALIVE, b"")
