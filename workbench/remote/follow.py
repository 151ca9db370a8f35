"""Following a run's event stream over HTTP: an incremental SSE parser and a resuming follower.

The follower appends what it receives to a :class:`~workbench.core.log.RunLog`, so a run on a
server is read exactly like a run in the kernel. When the connection drops or the server
errs, it reconnects with exponential backoff and full jitter, sending ``Last-Event-ID`` of
the last event it holds: the log gets every event once, in order, with no gaps. Refusals
that retrying cannot fix (401, 403, 404, a malformed event, a certificate that fails
verification) end it with an error.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping

import aiohttp

from workbench.core import events as ev
from workbench.core.log import RunLog
from workbench.core.redact import get_logger
from workbench.errors import ServerError
from workbench.tls import connector, tls_failure

__all__ = ["SseFrame", "SseParser", "Backoff", "follow_events", "FATAL_STATUSES"]

log = get_logger("workbench.client")

FATAL_STATUSES = frozenset({400, 401, 403, 404, 410})
"""Answers that another attempt would only repeat: the follower stops with an error."""

READ_TIMEOUT = 60.0
"""Seconds without a byte (servers send keep-alives every 15 s by default) before reconnecting."""


@dataclass(frozen=True)
class SseFrame:
    """One dispatched server-sent event."""

    event: str
    data: str
    id: str | None


class SseParser:
    """Incremental parser of ``text/event-stream`` bytes (the WHATWG rules we need).

    ``feed`` takes bytes as they arrive, in pieces of any size, and returns the frames they
    complete. Lines end with LF, CRLF or CR; comment lines (``:``) are ignored; a frame is
    dispatched at a blank line, so a frame cut off by a dropped connection never is.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[str] = []
        self._event = ""
        self._started = False
        self.last_id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SseFrame]:
        data = self._pending + chunk
        held = b""
        if data.endswith(b"\r"):  # maybe the first half of CRLF: decide when more arrives
            data, held = data[:-1], b"\r"
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._pending = lines.pop() + held
        frames: list[SseFrame] = []
        for raw in lines:
            frame = self._line(raw)
            if frame is not None:
                frames.append(frame)
        return frames

    def _line(self, raw: bytes) -> SseFrame | None:
        if not self._started:
            self._started = True
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        if not raw:
            return self._dispatch()
        if raw[:1] == b":":
            return None
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseFrame | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseFrame(event=event or "message", data="\n".join(data), id=self.last_id)


class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**(n-1)))."""

    def __init__(self, base: float = 0.2, cap: float = 10.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return self._rng.uniform(0, min(self.cap, self.base * 2 ** max(attempt - 1, 0)))


class _Resume(Exception):
    """Something a new connection from the last event can fix."""


class _Fatal(Exception):
    def __init__(self, error: ServerError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class FollowStats:
    """What a follower did, for curious users and tests."""

    connections: int = 0
    reconnects: int = 0
    duplicates_dropped: int = 0
    last_error: str | None = None


async def follow_events(
    url: str,
    run_log: RunLog,
    *,
    headers: Mapping[str, str],
    on_fatal: Callable[[ServerError], None],
    backoff: Backoff | None = None,
    stats: FollowStats | None = None,
    read_timeout: float = READ_TIMEOUT,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Fill ``run_log`` from the event stream at ``url`` until its terminal event.

    Resumes after ``len(run_log)``. A refusal that retrying cannot fix calls ``on_fatal``
    with the error and returns (the caller closes the log); anything else is retried.
    ``ssl_context`` checks an ``https://`` server's certificate (None: the system's CAs).
    """
    backoff = backoff or Backoff()
    stats = stats if stats is not None else FollowStats()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout)
    attempt = 0
    async with aiohttp.ClientSession(timeout=timeout, connector=connector(ssl_context)) as session:
        while not run_log.closed:
            held = len(run_log)
            try:
                await _one_connection(session, url, run_log, headers, stats)
                reason = "the stream ended before the run's last event"
            except _Fatal as fatal:
                on_fatal(fatal.error)
                return
            except aiohttp.ClientConnectorCertificateError as exc:  # another attempt meets the same certificate
                on_fatal(tls_failure(url, exc))
                return
            except (_Resume, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                reason = _describe(exc)
            if run_log.closed:
                return
            if len(run_log) > held:
                attempt = 0  # events arrived: this failure starts the backoff afresh
            attempt += 1
            stats.reconnects += 1
            stats.last_error = reason
            delay = backoff.delay(attempt)
            log.debug("event stream of %s: %s; reconnecting in %.2f s after event %d", url, reason, delay, len(run_log))
            await sleep(delay)


async def _one_connection(
    session: aiohttp.ClientSession, url: str, run_log: RunLog, headers: Mapping[str, str], stats: FollowStats
) -> None:
    """One request, appending what it delivers, until the stream ends or breaks."""
    request_headers = {**headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if len(run_log):
        request_headers["Last-Event-ID"] = str(len(run_log))
    stats.connections += 1
    async with session.get(url, headers=request_headers) as response:
        if response.status in FATAL_STATUSES:
            raise _Fatal(ServerError.from_response(response.status, await _text(response), url=url))
        if response.status == 204:  # the server's run ended at or before our last event, which was not its end
            raise _Fatal(ServerError(
                f"the server says run {run_log.run_id} has nothing after event {len(run_log)}, but no terminal event "
                "came: the server lost events this client received (it stopped abruptly). "
                "wb.attach(run_id) shows the run as the server has it", status=204))
        if response.status != 200:
            raise _Resume(f"the server answered {response.status}")
        if response.content_type != "text/event-stream":
            raise _Fatal(ServerError(f"{url} answered {response.content_type or 'no content type'}, not an event "
                                     "stream; is this a workbench server?", status=response.status))
        parser = SseParser()
        async for chunk in response.content.iter_any():
            batch: list[ev.Event] = []
            try:
                for frame in parser.feed(chunk):
                    event = _checked(frame, run_log, len(run_log) + len(batch) + 1, stats)
                    if event is not None:
                        batch.append(event)
            finally:  # what came before a bad frame is good: keep it
                if batch:
                    run_log.extend(batch)
            if run_log.closed:
                return


def _checked(frame: SseFrame, run_log: RunLog, expected: int, stats: FollowStats) -> ev.Event | None:
    """The frame's event if it is the next one; None for a duplicate; _Resume for a gap."""
    try:
        event = ev.parse_event(frame.data, keep_unknown=True)
    except ValueError as exc:
        raise _Fatal(ServerError(f"the server sent a malformed event after event {expected - 1}: "
                                 f"{str(exc).splitlines()[0][:200]}")) from None
    assert event is not None  # keep_unknown
    if event.run_id != run_log.run_id or (frame.id is not None and frame.id != str(event.id)):
        raise _Fatal(ServerError(f"the server sent event {frame.id!r} of run {event.run_id!r} on the stream of "
                                 f"{run_log.run_id} (event {event.id}); the stream is not this run's"))
    if event.id < expected:
        stats.duplicates_dropped += 1
        return None
    if event.id > expected:
        raise _Resume(f"events {expected}..{event.id - 1} are missing from the stream")
    return event


async def _text(response: aiohttp.ClientResponse) -> str:
    try:
        return (await response.content.read(64_000)).decode("utf-8", errors="replace")
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no data within the read timeout"
    return f"{type(exc).__name__}: {exc}"[:300]
