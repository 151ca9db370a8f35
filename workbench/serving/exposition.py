"""What ``GET /metrics`` answers, through ``prometheus_client``: a service imports this module at its
first scrape (:meth:`~workbench.serving.service.RunService.scrape_metrics`), so that starting a
server never imports the library."""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workbench.serving.metrics import STATUSES, Figures

__all__ = ["Metrics"]


class Metrics:
    """One service's registry; :meth:`scrape` is the body of ``GET /metrics``.

    Each service has its own :class:`~prometheus_client.CollectorRegistry`, so several servers in
    one process (tests) never mix their figures, and nothing lands in the process-wide registry
    Jupyter serves at its own ``/metrics``.
    """

    def __init__(self, figures: Figures) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(figures))

    def scrape(self) -> tuple[bytes, str]:
        """The figures now, in the Prometheus text format, and that format's ``Content-Type``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Collector(Collector):
    def __init__(self, figures: Figures) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        figures, meter = self._figures, self._figures.meter
        yield GaugeMetricFamily("workbench_event_streams_open", "Event streams this server is serving now (each replica its own)", value=meter.open)
        # Running runs only, so the label's values stay as few as the runs going (a finished
        # run's late readers still count in workbench_event_streams_open).
        subscribers = GaugeMetricFamily("workbench_run_subscribers", "Open event streams of each running run on this server (each replica its own)",
                                        labels=["run_id"])
        for run_id, count in sorted(meter.subscribers.items()):
            if figures.is_running(run_id):
                subscribers.add_metric([run_id], count)
        yield subscribers
        counters = (
            ("workbench_events_appended", "Events appended to the runs this server executed (with --redis: the workers append them)", figures.events_appended()),
            ("workbench_sse_frames_sent", "Event frames this server wrote to event-stream clients", meter.frames),
            ("workbench_sse_bytes_sent", "Bytes this server wrote to event-stream clients (frames, retry:, keep-alives)",
             meter.bytes),
            ("workbench_sse_resumes", "Event-stream requests to this server that resumed after an event id", meter.resumes),
            ("workbench_sse_clients_dropped", "Event-stream clients this server dropped for not reading", meter.dropped),
            ("workbench_model_retries", "Model calls retried, in the runs this server executed", figures.model_retries()),
        )
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)
        runs = GaugeMetricFamily("workbench_runs", "Runs in the store, by status (with --redis: the runs of every replica, the same on each)", labels=["status"])
        counts = figures.runs_by_status()
        for status in (*STATUSES, *sorted(set(counts) - set(STATUSES))):
            runs.add_metric([status], counts.get(status, 0))
        yield runs
