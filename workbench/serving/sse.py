"""Server-Sent Events: the one encoder both servers use, and the stream of a run as bytes.

Encoding is kept apart from transport: :func:`run_stream` yields ready-to-write chunks
(the ``retry:`` frame, batches of event frames, keep-alive comments), and each server only
writes and flushes them. When many events are waiting, they go out as one chunk, so a
server flushes once per batch, not once per event.
"""

from __future__ import annotations

import asyncio
import re
from typing import AsyncGenerator, Callable

from workbench.core import events as ev
from workbench.core.log import RunLog
from workbench.serving import reference
from workbench.serving.keepalive import KeepAlive
from workbench.serving.metrics import StreamMeter

__all__ = [
    "RETRY_MS",
    "HEADERS",
    "KEEPALIVE",
    "SEND_TIMEOUT",
    "retry_frame",
    "encode_event",
    "parse_resume",
    "parse_profile",
    "Encoder",
    "run_stream",
    "check_resume",
    "ResumeError",
]

RETRY_MS = 2000
"""How long a client waits before reconnecting (the first frame of every stream)."""

HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
"""Response headers of an event stream; no compression, so nothing buffers it."""

KEEPALIVE = b": keep-alive\n\n"
"""Sent when a stream has been idle for the heartbeat interval, so proxies keep it open."""

SEND_TIMEOUT = 60.0
"""Seconds a stream waits for its client to take what was written before it drops the client:
one that stopped reading (a suspended laptop, a stuck proxy) would otherwise hold its stream
and its unsent bytes for as long as TCP keeps the connection."""

MAX_BATCH = 500
"""Events written together at most, so one flush never holds a huge buffer."""


_EVENT_ID = re.compile(r"[0-9]{1,18}")


class ResumeError(ValueError):
    """A malformed ``Last-Event-ID`` header, ``after`` or ``profile`` query parameter: a 400."""


Encoder = Callable[[ev.Event], bytes | None]
"""An event as the frame a profile sends, or None for an event the profile leaves out."""


def retry_frame(milliseconds: int = RETRY_MS) -> bytes:
    return f"retry: {milliseconds}\n\n".encode()


def encode_event(event: ev.Event) -> bytes:
    """One event as an SSE frame: ``id:``, ``event:`` and a single ``data:`` line with the envelope."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, event.type.encode(), event.to_json().encode())


def parse_resume(last_event_id: str | None, after: str | None) -> int:
    """The id to resume after: the ``Last-Event-ID`` header wins over ``?after=``; 0 for neither."""
    for name, value in (("Last-Event-ID", last_event_id), ("after", after)):
        if value is None:
            continue
        text = value.strip()
        if not _EVENT_ID.fullmatch(text):  # not str.isdigit(): it takes "²" and "١", which int() refuses or misreads
            raise ResumeError(f"{name} must be a non-negative event id, such as 0 or 42; got {value[:40]!r}")
        return int(text)
    return 0


def parse_profile(profile: str | None) -> Encoder | None:
    """The encoder ``?profile=`` asks for: None for the full stream (no profile), or the reference profile's."""
    if profile is None:
        return None
    if profile.strip() == reference.PROFILE:
        return reference.encode_reference
    raise ResumeError(f"profile must be {reference.PROFILE!r} (or left out for the full stream); got {profile[:40]!r}")


def check_resume(log: RunLog, after: int) -> bool:
    """Whether a stream resuming after event ``after`` has anything to send.

    False (answer ``204 No Content``) when ``after`` is at or past the terminal event of a run
    that has ended. A resume point past the last event of a run still going cannot come from
    this server: a :class:`ResumeError`, never a stream that waits in silence.
    """
    known = log.published
    if log.closed and known == len(log.events):
        return after < known
    if after > known:
        raise ResumeError(f"Last-Event-ID {after} is past the last event of this run ({known}); it cannot come from "
                          "this server. Resume from an id you received, or from 0 for the whole run")
    return True


async def run_stream(log: RunLog, *, after: int = 0, heartbeat: float = 15.0,
                     meter: StreamMeter | None = None, encode: Encoder | None = None) -> AsyncGenerator[bytes, None]:
    """The bytes of a run's event stream: ``retry:``, the events after ``after``, keep-alives.

    Sends only events clients may see (:attr:`RunLog.published`: on a server, those already
    stored). Ends after the terminal event (or at once past the end of a finished log).
    ``meter`` counts the stream as open while it is iterated, and each chunk once the server
    comes back for the next one, that is once it has written it: a chunk whose write failed
    is not counted. Close the iterator (``aclose``) when done with it, so it stops counting at once.

    ``encode`` is a profile's encoder (:func:`parse_profile`); without one, every event goes out
    in its envelope, encoded once per log for all its streams.
    """
    if meter is None:
        meter = StreamMeter()  # counts nobody reads: one code path, a few int additions per chunk
    run_id = log.run_id
    keepalive = KeepAlive(heartbeat)
    meter.opened(run_id)
    try:
        chunk = retry_frame()
        yield chunk
        meter.bytes += len(chunk)
        position = max(after, 0)
        while True:
            published = log.published
            if position < published:
                upto = min(position + MAX_BATCH, published)
                if encode is None:
                    batch = _frames(log, published)[position:upto]
                else:  # a profile's frames are not cached: few clients ask for one
                    batch = [f for e in log.events[position:upto] if (f := encode(e)) is not None]
                position = upto
                if batch:
                    chunk = b"".join(batch)
                    yield chunk
                    meter.frames += len(batch)
                    meter.bytes += len(chunk)
                    # Not held while waiting: an idle stream would keep a copy of its last batch (up
                    # to MAX_BATCH frames) for as long as its run stays quiet.
                    del chunk, batch
                continue
            if log.closed and published == len(log.events):
                return
            # One timer per idle interval (KeepAlive), not an asyncio.timeout per wait: that made
            # several objects per stream per event that the garbage collector then had to walk.
            keepalive.waiting()
            try:
                await log.wait_beyond(position, published=True)
            except asyncio.CancelledError as cancelled:
                if not keepalive.woken(cancelled):
                    raise
            else:
                keepalive.woken()
                continue
            yield KEEPALIVE
            meter.bytes += len(KEEPALIVE)
    finally:
        keepalive.close()
        meter.closed(run_id)


def _frames(log: RunLog, upto: int) -> list[bytes]:
    """The log's first ``upto`` events as SSE frames, encoding only those no stream has encoded yet."""
    frames, events = log.frames, log.events
    for event in events[len(frames) : upto]:
        frames.append(encode_event(event))
    return frames
