"""Connection metrics in the Prometheus text format, the same on both servers (``GET /metrics``).

The hot path only adds to plain ints (:class:`StreamMeter`: a few additions per batch of frames,
one dict update per stream opened or closed); nothing is a ``prometheus_client`` metric until a
scrape, when :mod:`.exposition` reads those ints and the service's runs. This module does not
import ``prometheus_client``: :meth:`RunService.scrape_metrics
<workbench.serving.service.RunService.scrape_metrics>` does, at the first scrape, so starting
``workbench serve`` or creating a service never imports it.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Figures", "StreamMeter", "STATUSES"]

STATUSES = ("running", "complete", "error", "cancelled", "interrupted")
"""The statuses a stored run can have; each is reported, with 0 when no run has it."""


class StreamMeter:
    """What event streams did, as plain ints the streams add to (never a lock, never a metric)."""

    __slots__ = ("open", "frames", "bytes", "resumes", "dropped", "subscribers")

    def __init__(self) -> None:
        self.open = 0
        """Event streams being served now."""
        self.frames = 0
        """Event frames (``id:``/``event:``/``data:``) written to clients."""
        self.bytes = 0
        """Bytes of event streams written to clients: frames, ``retry:`` and keep-alives."""
        self.resumes = 0
        """Event-stream requests with a resume point (``Last-Event-ID`` or ``?after=`` above 0)."""
        self.dropped = 0
        """Streams dropped because their client took nothing for :data:`~workbench.serving.sse.SEND_TIMEOUT`."""
        self.subscribers: dict[str, int] = {}
        """Open streams by run id; a run leaves it when its last stream closes."""

    def opened(self, run_id: str) -> None:
        self.open += 1
        self.subscribers[run_id] = self.subscribers.get(run_id, 0) + 1

    def closed(self, run_id: str) -> None:
        self.open -= 1
        left = self.subscribers.get(run_id, 1) - 1
        if left > 0:
            self.subscribers[run_id] = left
        else:
            self.subscribers.pop(run_id, None)


class Figures(Protocol):
    """What a scrape reads from the service besides its :class:`StreamMeter`."""

    meter: StreamMeter

    def events_appended(self) -> int: ...

    def model_retries(self) -> int: ...

    def is_running(self, run_id: str) -> bool: ...

    def runs_by_status(self) -> dict[str, int]: ...
