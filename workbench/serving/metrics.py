"""Connection metrics in the Prometheus text format, the same on both servers (``GET /metrics``).

The hot path only adds to plain ints (:class:`StreamMeter`: a few additions per batch of frames,
one dict update per stream opened or closed); nothing is a ``prometheus_client`` metric until a
scrape, when :class:`_Collector` reads those ints and the service's runs. Each service has its own
:class:`~prometheus_client.CollectorRegistry`, so several servers in one process (tests) never mix
their figures, and nothing lands in the process-wide registry Jupyter serves at its own ``/metrics``.
"""

from __future__ import annotations

from typing import Iterator, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Figures", "StreamMeter", "Metrics", "STATUSES"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of a scrape."""

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


class _Collector(Collector):
    def __init__(self, figures: Figures) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        figures, meter = self._figures, self._figures.meter
        yield GaugeMetricFamily("workbench_event_streams_open", "Event streams being served now", value=meter.open)
        # Running runs only, so the label's values stay as few as the runs going (a finished
        # run's late readers still count in workbench_event_streams_open).
        subscribers = GaugeMetricFamily("workbench_run_subscribers", "Open event streams of each running run",
                                        labels=["run_id"])
        for run_id, count in sorted(meter.subscribers.items()):
            if figures.is_running(run_id):
                subscribers.add_metric([run_id], count)
        yield subscribers
        counters = (
            ("workbench_events_appended", "Events appended to the runs this server started", figures.events_appended()),
            ("workbench_sse_frames_sent", "Event frames written to event-stream clients", meter.frames),
            ("workbench_sse_bytes_sent", "Bytes written to event-stream clients (frames, retry:, keep-alives)",
             meter.bytes),
            ("workbench_sse_resumes", "Event-stream requests that resumed after an event id", meter.resumes),
            ("workbench_sse_clients_dropped", "Event-stream clients dropped for not reading", meter.dropped),
            ("workbench_model_retries", "Model calls retried, in the runs this server started", figures.model_retries()),
        )
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)
        runs = GaugeMetricFamily("workbench_runs", "Runs in the store, by status", labels=["status"])
        counts = figures.runs_by_status()
        for status in (*STATUSES, *sorted(set(counts) - set(STATUSES))):
            runs.add_metric([status], counts.get(status, 0))
        yield runs


class Metrics:
    """One service's registry; :meth:`scrape` is the body of ``GET /metrics``."""

    def __init__(self, figures: Figures) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(figures))

    def scrape(self) -> bytes:
        return generate_latest(self.registry)
