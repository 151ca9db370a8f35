"""A small TCP proxy that cuts event streams: what a flaky network or a proxy's idle timeout does to
a client, made repeatable.

Every request goes to the server with ``Connection: close`` (one request per connection, so
each cut ends exactly one request). The first ``cuts`` answers to each event-stream path are
cut after a random number of bytes (``random.Random(seed)``), headers included; later ones
pass whole. Two more things a real network or server may do, so the client's defences get
tested: ``retry: 2000`` becomes ``retry: 0150`` (same length, so chunked framing holds; the
client must take the server's value), and every ``replay``-th resume asks for events from
three ids earlier than the client did, as a server replaying a little would send them (the
client must drop the repeats).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

RETRY_FROM, RETRY_TO = b"retry: 2000\n", b"retry: 0150\n"
RETRY_MS = 150


@dataclass
class Request:
    """One request as the proxy saw it (before its rewriting) and what became of its answer."""

    path: str
    after: int | None
    at: float
    last_event_id: str | None = None
    """The ``Last-Event-ID`` header it came with (how an ``EventSource`` resumes), if any."""
    status: int = 0
    cut_at: int | None = None
    """Bytes forwarded before the cut, or None for an answer passed whole."""
    ended: float = 0.0


@dataclass
class CuttingProxy:
    upstream: int
    cuts: int = 5
    max_cut: int = 6000
    replay: int = 3
    seed: int = 0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._seen: dict[str, int] = {}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def stream_requests(self, run_id: str) -> list[Request]:
        return [r for r in self.requests if f"/runs/{run_id}/events" in r.path]

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            head = await client_r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            client_w.close()
            return
        head, request = self._rewrite(head)
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        server_w.write(head)
        budget = None
        if request.path.endswith("/events"):
            count = self._seen[request.path] = self._seen.get(request.path, 0) + 1
            if count <= self.cuts:
                budget = self._random.randint(1, self.max_cut)
        upload = asyncio.ensure_future(_pipe(client_r, server_w))
        sent, start = 0, b""
        try:
            while budget is None or sent < budget:
                piece = await server_r.read(65536)
                if not piece:
                    break
                if len(start) < 4096:  # the status line, and the retry: frame right after the headers
                    start += piece
                    if not request.status and b"\r\n" in start:
                        request.status = int(start.split(b" ", 2)[1])
                    piece = piece.replace(RETRY_FROM, RETRY_TO)
                if budget is not None:
                    piece = piece[: budget - sent]
                client_w.write(piece)
                sent += len(piece)
                await client_w.drain()
            if budget is not None and sent >= budget:
                request.cut_at = sent
        except ConnectionError:
            pass
        finally:
            request.ended = time.monotonic()
            upload.cancel()
            for writer in (client_w, server_w):
                writer.transport.abort()

    def _rewrite(self, head: bytes) -> tuple[bytes, Request]:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query))
        after = int(query["after"]) if query.get("after", "").isdigit() else None
        resumed = [line.split(":", 1)[1].strip() for line in lines[1:] if re.match(r"(?i)last-event-id\s*:", line)]
        request = Request(parts.path, after, time.monotonic(), last_event_id=resumed[0] if resumed else None)
        self.requests.append(request)
        if after and self.replay and sum(1 for r in self.requests if r.path == parts.path) % self.replay == 0:
            query["after"] = str(max(0, after - 3))
            target = parts.path + "?" + urlencode(query)
        kept = [line for line in lines[1:] if line and not re.match(r"(?i)connection\s*:", line)]
        text = "\r\n".join([f"{method} {target} {version}", *kept, "Connection: close", "", ""])
        return text.encode("latin-1"), request


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while piece := await reader.read(65536):
            writer.write(piece)
            await writer.drain()
    except ConnectionError:
        pass
