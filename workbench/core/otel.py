"""Runs sent as OpenTelemetry traces: :meth:`Run.to_otel`, and every run of a process when switched on.

The spans are planned from the log by :mod:`workbench.core.spans`; here they become the SDK's
spans (``ReadableSpan``, with the log's times and ids of our choosing) and go to an exporter:
the one given, or the OTLP/HTTP exporter, which reads the standard environment itself
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``…_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, …).
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the service.

Switched on (``WORKBENCH_OTEL=1``, ``workbench serve --otel``, ``c.WorkbenchApp.otel = True`` or
:func:`enable`), every run this process starts is exported once it ends, from a worker thread,
so a slow collector holds up no run and no stream. The SDK is imported only then: without the
switch nothing here imports ``opentelemetry`` (the ``otel`` extra may not even be installed).

Message content goes along only with ``capture_content`` (default: the environment's
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, off unless set), as the conventions ask.
Trace and span ids are random, unless ``trace_id_from_run``: then they are derived from the run's
id and its events, so each export of a run gives the same ids (and a fork links to its parent).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import queue
import random
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.core import events as ev
from workbench.core.redact import redact
from workbench.core.spans import GENAI_SEMCONV, TracePlan, plan_trace
from workbench.errors import UserError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "CAPTURE",
    "GENAI_SEMCONV",
    "SWITCH",
    "capture_from_env",
    "enable",
    "export_events",
    "flush",
    "run_ended",
    "sdk_spans",
    "switched_on",
    "trace_id_of",
]

log = logging.getLogger("workbench.otel")

SWITCH = "WORKBENCH_OTEL"
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_ON = {"1", "true", "yes", "on"}
_CAPTURING = _ON | {"span_only", "span_and_event"}  # the newer instrumentations' values that put content on spans
SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.1"
DEFAULT_SERVICE = "agent-workbench"
_INSTALL = "pip install 'agent-workbench[otel]'"

_enabled = False


def enable(on: bool = True) -> None:
    """Export every run this process starts, once it ends (as ``WORKBENCH_OTEL=1`` does).

    Refuses at once when the SDK is missing, rather than at the first run's end; imports nothing.
    """
    global _enabled
    if on:
        from importlib.util import find_spec

        if find_spec("opentelemetry") is None or find_spec("opentelemetry.exporter.otlp.proto.http") is None:
            raise UserError(f"sending runs to OpenTelemetry needs its SDK and OTLP/HTTP exporter: {_INSTALL}")
    _enabled = on


def switched_on() -> bool:
    return _enabled or os.environ.get(SWITCH, "").strip().lower() in _ON


def capture_from_env() -> bool:
    return os.environ.get(CAPTURE, "").strip().lower() in _CAPTURING


# --- ids -------------------------------------------------------------------------------------


def _digest(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")
    return value or 1  # an all-zero id is invalid


def trace_id_of(run_id: str) -> int:
    """The trace id a run's export has with ``trace_id_from_run=True``."""
    return _digest(f"workbench trace {run_id}", 16)


def _span_id_of(run_id: str, key: str) -> int:
    return _digest(f"workbench span {run_id} {key}", 8)


# --- the SDK's spans ---------------------------------------------------------------------------


def sdk_spans(plan: TracePlan, *, trace_id_from_run: bool = False) -> list[ReadableSpan]:
    """The planned spans as the SDK's finished spans, ready for any ``SpanExporter``."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    except ImportError:
        raise UserError(f"exporting a run to OpenTelemetry needs its SDK: {_INSTALL}") from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        our_version: str | None = version("agent-workbench")
    except PackageNotFoundError:
        our_version = None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE})
    scope = InstrumentationScope("workbench", our_version, SCHEMA_URL)
    rng = random.SystemRandom()
    trace_id = trace_id_of(plan.run_id) if trace_id_from_run else rng.getrandbits(128) or 1
    flags = trace.TraceFlags(trace.TraceFlags.SAMPLED)
    span_ids = {span.key: (_span_id_of(plan.run_id, span.key) if trace_id_from_run else rng.getrandbits(64) or 1)
                for span in plan.spans}
    links = []
    if trace_id_from_run and plan.parent_run_id:
        parent_root = trace.SpanContext(trace_id_of(plan.parent_run_id), _span_id_of(plan.parent_run_id, "run"),
                                        is_remote=True, trace_flags=flags)
        links.append(trace.Link(parent_root, {"workbench.link": "forked_from"}))
    kinds = {"internal": trace.SpanKind.INTERNAL, "client": trace.SpanKind.CLIENT}

    def context(key: str) -> trace.SpanContext:
        return trace.SpanContext(trace_id, span_ids[key], is_remote=False, trace_flags=flags)

    finished = []
    for span in plan.spans:
        status = (trace.Status(trace.StatusCode.ERROR, span.error) if span.error is not None
                  else trace.Status(trace.StatusCode.UNSET))
        finished.append(ReadableSpan(
            name=span.name,
            context=context(span.key),
            parent=context(span.parent) if span.parent is not None else None,
            resource=resource,
            attributes=_clean(span.attributes),
            events=[Event(e.name, _clean(e.attributes), _ns(e.ts)) for e in span.events],
            links=links if span.parent is None else (),
            kind=kinds[span.kind],
            status=status,
            start_time=span.start_ms * 1_000_000,
            end_time=span.end_ms * 1_000_000,
            instrumentation_scope=scope,
        ))
    return finished


def _ns(ts: str) -> int:
    from workbench.core.progress import ts_ms

    return ts_ms(ts) * 1_000_000


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """Every string through :func:`redact` once more: events are scrubbed already, but a trace leaves the process."""
    return {key: redact(value) if isinstance(value, str)
            else [redact(v) for v in value] if isinstance(value, list) else value
            for key, value in attributes.items()}


def _otlp_exporter() -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise UserError(f"sending runs over OTLP needs the OpenTelemetry SDK and its OTLP/HTTP exporter: {_INSTALL}") from None
    return OTLPSpanExporter()


def export_events(events: Sequence[ev.Event], *, exporter: SpanExporter | None = None,
                  capture_content: bool | None = None, trace_id_from_run: bool = False,
                  requests: Callable[[], Sequence[dict[str, Any]]] | None = None) -> str:
    """Export the run whose log is ``events`` as one trace; its trace id in hex.

    ``exporter``: any SDK ``SpanExporter`` (default: OTLP/HTTP, set up from the environment, shut
    down after). ``requests``: gives what each model call was asked, for the chat spans' input when
    content is captured (asked only then). Raises :class:`UserError` when the exporter reports a failure.
    """
    capture = capture_from_env() if capture_content is None else capture_content
    plan = plan_trace(events, capture_content=capture, requests=requests() if capture and requests is not None else ())
    spans = sdk_spans(plan, trace_id_from_run=trace_id_from_run)  # says what to install, when the SDK is missing
    from opentelemetry.sdk.trace.export import SpanExportResult

    own = exporter is None
    target = _otlp_exporter() if exporter is None else exporter
    try:
        result = target.export(spans)
    finally:
        if own:
            target.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise UserError(f"the trace of run {plan.run_id} was not accepted by the exporter "
                        "(see the opentelemetry log lines above); check OTEL_EXPORTER_OTLP_ENDPOINT and its headers")
    context = spans[0].context
    return format(context.trace_id if context is not None else 0, "032x")


# --- every run of the process ---------------------------------------------------------------


class _Shipper:
    """One worker thread exporting ended runs through one OTLP exporter, in the order they ended."""

    def __init__(self, make_exporter: Callable[[], SpanExporter]) -> None:
        self._make_exporter = make_exporter
        self._queue: queue.Queue[tuple[list[ev.Event], Callable[[], Sequence[dict[str, Any]]] | None] | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._work, name="workbench-otel", daemon=True)
        self._thread.start()

    def submit(self, events: list[ev.Event], requests: Callable[[], Sequence[dict[str, Any]]] | None = None) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((events, requests))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted run is exported (or failed); False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _work(self) -> None:
        exporter: SpanExporter | None = None
        made_for: tuple[tuple[str, str], ...] = ()
        while True:
            item = self._queue.get()
            if item is None:
                break
            events, requests = item
            try:
                if exporter is None or made_for != _exporter_settings():  # the environment names another collector
                    if exporter is not None:
                        exporter.shutdown()
                    exporter, made_for = self._make_exporter(), _exporter_settings()
                export_events(events, exporter=exporter, requests=requests)
            except Exception as exc:  # noqa: BLE001  # a collector down must not take the process with it
                run_id = events[0].run_id if events else "?"
                log.warning("run %s was not exported to OpenTelemetry: %s", run_id, redact(str(exc)))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
        if exporter is not None:
            exporter.shutdown()


def _exporter_settings() -> tuple[tuple[str, str], ...]:
    """The environment the OTLP exporter reads its endpoint, headers and the like from."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("OTEL_EXPORTER_OTLP")))


_shipper: _Shipper | None = None
_shipper_lock = threading.Lock()


def _the_shipper() -> _Shipper:
    global _shipper
    with _shipper_lock:
        if _shipper is None:
            _shipper = _Shipper(_otlp_exporter)
            atexit.register(flush, 10.0)  # a script's last run still arrives
        return _shipper


def run_ended(events: Sequence[ev.Event], requests: Callable[[], Sequence[dict[str, Any]]] | None = None) -> None:
    """A run of this process ended: export it, when switched on (from a worker thread; returns at once).
    ``requests``: see :func:`export_events`."""
    if switched_on() and events:
        _the_shipper().submit(list(events), requests)


def flush(timeout: float | None = 10.0) -> bool:
    """Wait for the runs handed to the worker to be exported; True when none is left (or none was sent)."""
    shipper = _shipper
    return True if shipper is None else shipper.flush(timeout)
