"""A real OTLP/HTTP trace receiver for tests: ``POST /v1/traces`` on a free port, each request's protobuf
decoded with ``opentelemetry-proto`` into plain spans, the raw bodies kept too (to search for secrets)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

KINDS = {1: "internal", 2: "server", 3: "client"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


@dataclass
class Span:
    """One received span, as plain values (ids in hex, times in ns)."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    start: int
    end: int
    attributes: dict[str, Any]
    events: list[tuple[str, int, dict[str, Any]]]
    status: tuple[str, str]
    links: list[tuple[str, str]]
    resource: dict[str, Any]
    scope: tuple[str, str]


@dataclass
class Receiver:
    port: int
    bodies: list[bytes] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        """What ``OTEL_EXPORTER_OTLP_ENDPOINT`` names (the exporter adds ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def traces_url(self) -> str:
        return self.endpoint + "/v1/traces"

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = attributes_of(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                scope = (scope_spans.scope.name, scope_spans.schema_url)
                for s in scope_spans.spans:
                    received.append(Span(
                        trace_id=s.trace_id.hex(), span_id=s.span_id.hex(), parent_id=s.parent_span_id.hex(),
                        name=s.name, kind=KINDS.get(s.kind, str(s.kind)),
                        start=s.start_time_unix_nano, end=s.end_time_unix_nano,
                        attributes=attributes_of(s.attributes),
                        events=[(e.name, e.time_unix_nano, attributes_of(e.attributes)) for e in s.events],
                        status=(STATUS[s.status.code], s.status.message),
                        links=[(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                        resource=resource, scope=scope,
                    ))
        with self.lock:
            self.bodies.append(body)
            self.spans.extend(received)

    def traces(self) -> dict[str, list[Span]]:
        """The spans received so far, by trace id, each trace in the order its spans arrived."""
        with self.lock:
            spans = list(self.spans)
        out: dict[str, list[Span]] = {}
        for span in spans:
            out.setdefault(span.trace_id, []).append(span)
        return out

    def wait_for_traces(self, count: int, timeout: float = 15.0) -> dict[str, list[Span]]:
        deadline = time.monotonic() + timeout
        while len(self.traces()) < count:
            assert time.monotonic() < deadline, f"{len(self.traces())} traces arrived, not {count}"
            time.sleep(0.02)
        return self.traces()


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 and a free port, in its own threads, for the ``with`` block."""
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert receiver is not None
            receiver.paths.append(self.path)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def tree(spans: list[Span]) -> list[str]:
    """The trace as indented span names, children in the order they started (what a viewer shows; spans
    that start in the same millisecond in the order they were sent)."""
    by_parent: dict[str, list[Span]] = {}
    for span in spans:
        by_parent.setdefault(span.parent_id, []).append(span)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start):
            lines.append("  " * depth + span.name)
            walk(span.span_id, depth + 1)

    walk("", 0)
    return lines
