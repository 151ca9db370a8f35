"""A client written for the reference system, on ``?profile=reference``, against both servers.

``tests/js/reference_store.mjs`` is the store and ``useAgentSSE`` hook the way the reference
system's README describes them, on the browser's EventSource API (``tests/js/event_source.mjs``,
as Node has none). Each test follows the three runs of :mod:`followed_runs` (one that completes,
followed live; one cancelled while followed; one that fails) through the cutting proxy, and checks
each store's final state against the run's full log: the plan and each phase's status, one
thinking step per ``thinking`` event with its thought, one tool step per tool call with its name,
params, result and duration, and how the execution ended. Every expected value comes from the
log. The hook closes its EventSource on the terminal event, so no request follows it; an
EventSource left open makes exactly one more, answered 204, and stops. A last test feeds the
EventSource framings the servers never send (CR and CRLF line ends, split data, a BOM, an event
cut before its end) to hold it to the standard.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from followed_runs import (  # noqa: F401 (fixtures)
    TERMINALS,
    Target,
    cancel_when_going,
    loop_fixture,
    server_fixture,
    start_runs,
    target_fixture,
)

JS = Path(__file__).resolve().parent / "js"
NODE = shutil.which("node")
REFERENCE_TYPES = {"execution:started", "plan:created", "phase:start", "thinking", "tool:start", "tool:complete",
                   "phase:complete", "execution:complete", "execution:error", "execution:cancelled"}
"""The log's types the profile sends (``execution:cancelled`` as ``execution:error``)."""
CLOSED = 2


def expected_store(log: list[dict[str, Any]]) -> dict[str, Any]:
    """The reference store's state after ``log``, as its README says it reads the events."""
    started = log[0]["data"]
    execution: dict[str, Any] = {
        "id": log[0]["runId"], "task": started["task"], "status": "running", "startedAt": started["startedAt"],
        "plan": None, "currentPhase": None, "result": None, "duration": None, "tokensUsed": None, "error": None,
        "stack": None,
    }
    steps: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    usage = {"input": 0, "output": 0}
    for event in log:
        data, kind = event["data"], event["type"]
        if kind == "plan:created":
            phases = [{**p, "status": "pending"} for p in data["plan"]["phases"]]
            execution["plan"] = {"goal": data["plan"]["goal"], "phases": phases}
        elif kind in ("phase:start", "phase:complete"):
            status = "active" if kind == "phase:start" else "complete"
            for p in execution["plan"]["phases"]:
                if p["id"] == data["phaseId"]:
                    p["status"] = status
            execution["currentPhase"] = data["phaseId"] if status == "active" else None
        elif kind == "thinking":
            steps.append({"type": "thinking", "thought": data["thought"], "iteration": data["iteration"],
                          "phaseId": data["phaseId"], "timestamp": event["ts"], "status": "complete"})
        elif kind == "tool:start":
            tools[data["toolUseId"]] = {"type": "tool", "toolName": data["toolName"], "params": data["params"],
                                        "result": None, "duration": None, "phaseId": data["phaseId"], "timestamp": event["ts"],
                                        "status": "running"}
            steps.append(tools[data["toolUseId"]])
        elif kind == "tool:complete":
            tools[data["toolUseId"]].update(result=data["result"], duration=data["duration"], status="complete")
        elif kind == "usage":
            usage = data
        elif kind == "execution:complete":
            execution.update(status="complete", result=data["result"], duration=data["duration"],
                             tokensUsed=usage["input"] + usage["output"])
        elif kind == "execution:error":
            execution.update(status="error", error=data["error"]["message"], stack=data["stack"] or "")
        elif kind == "execution:cancelled":
            execution.update(status="error", error=None, stack="")  # the error's text: see check_cancelled
    for number, step in enumerate(steps, 1):
        step["id"] = f"step-{number}"
    return {"currentExecution": execution, "thinkingSteps": steps, "error": None, "isConnected": False}


def check_cancelled(state: dict[str, Any], log: list[dict[str, Any]]) -> None:
    """A cancelled run ends in the reference store with an error that says so, and why."""
    reason = log[-1]["data"]["reason"]
    message = state["currentExecution"].pop("error")
    assert isinstance(message, str) and reason in message, message
    assert re.search(r"\bcancel", message.replace(reason, ""), re.IGNORECASE), message
    state["currentExecution"]["error"] = None


def reference_ids(log: list[dict[str, Any]]) -> set[str]:
    return {str(e["id"]) for e in log if e["type"] in REFERENCE_TYPES}


def start_node(spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    """``reference_driver.mjs`` on ``spec``: a store and its hook for each run."""
    if NODE is None:
        pytest.skip("node is not installed")
    return subprocess.Popen([NODE, str(JS / "reference_driver.mjs"), json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=JS)


def follow(target: Target, ids: dict[str, str], *, close_on_end: bool) -> subprocess.Popen[bytes]:
    """The Node store and hook on each run, through the proxy."""
    assert target.proxy is not None
    return start_node({"baseUrl": f"{target.proxied}{target.prefix}api", "token": target.token,
                       "closeOnEnd": close_on_end, "settleMs": 500, "timeoutMs": 30000,
                       "runs": [{"name": n, "executionId": i} for n, i in ids.items()]})


def results_of(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """What each store ended with."""
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    results: dict[str, Any] = json.loads(out)
    return results


def check_stores(target: Target, ids: dict[str, str], results: dict[str, Any]) -> None:
    for name, run_id in ids.items():
        log, got = target.log(run_id), results[name]
        assert log[-1]["type"] == TERMINALS[name], (name, log[-1]["type"])
        assert not got["timedOut"], (name, got)
        state = got["state"]
        if name == "cancelled":
            check_cancelled(state, log)
        expected = expected_store(log)
        assert state["currentExecution"] == expected["currentExecution"], name
        assert state["thinkingSteps"] == expected["thinkingSteps"], name
        assert state == expected, name


def test_the_reference_store_ends_each_run_as_its_log_says(target: Target):
    assert target.proxy is not None
    ids = start_runs(target)
    follower = follow(target, ids, close_on_end=True)
    cancel_when_going(target, ids["cancelled"], events=200)  # past its plan and first tool call
    results = results_of(follower)
    for name, run_id in ids.items():  # what the proxy saw, shown when the test fails
        print(name, [(r.last_event_id, r.status, r.cut_at) for r in target.proxy.stream_requests(run_id)])

    cancelled = [e["type"] for e in target.log(ids["cancelled"])]
    assert {"plan:created", "phase:start", "tool:complete"} <= set(cancelled), "cancelled before it got going"
    check_stores(target, ids, results)
    resumed = 0
    for name, run_id in ids.items():
        got, requests, known = results[name], target.proxy.stream_requests(run_id), reference_ids(target.log(run_id))
        # The hook closed its EventSource on the terminal event: no request after it.
        assert got["requests"] == got["requestsAtEnd"] == len(requests), (name, got["requests"], requests)
        assert got["readyState"] == CLOSED and requests[-1].status == 200, (name, requests)
        # Its reconnects (after the proxy's cuts) resume with Last-Event-ID, an id the profile sent.
        resumes = [int(r.last_event_id) for r in requests if r.last_event_id is not None]
        assert all(str(i) in known for i in resumes) and resumes == sorted(resumes), (name, requests)
        assert requests[0].last_event_id is None
        resumed += len(resumes)
    assert resumed >= 2, "the proxy's cuts should have made the EventSources resume"

    # An EventSource left open after the end: one more request, with the terminal event's id, a 204, CLOSED.
    target.proxy.cuts = 0
    before = {name: len(target.proxy.stream_requests(i)) for name, i in ids.items()}
    results = results_of(follow(target, ids, close_on_end=False))
    check_stores(target, ids, results)
    for name, run_id in ids.items():
        got, requests = results[name], target.proxy.stream_requests(run_id)[before[name]:]
        assert (got["requestsAtEnd"], got["requests"], got["readyState"]) == (1, 2, CLOSED), (name, got)
        assert [(r.status, r.last_event_id) for r in requests] == [(200, None), (204, str(target.log(run_id)[-1]["id"]))]


class _OneStream(socketserver.BaseRequestHandler):
    """The first request: a stream in every framing the standard allows (a BOM, keep-alive
    comments, CRLF and CR line ends, an event split over two ``data:`` lines, ``retry:``), then an
    event cut before its blank line. Every later request: ``204``. Keeps each request's head."""

    heads: list[str] = []
    times: list[float] = []
    FIRST = (b"\xef\xbb\xbfretry: 100\n\n: keep-alive\n\n"
             b"id: 3\r\nevent: execution:started\r\ndata: {\"executionId\": \"r_1\", \"task\": \"t\",\r\n"
             b"data: \"startedAt\": \"2026-01-01T00:00:00.000Z\"}\r\n\r\n"
             b": keep-alive\n\n"
             b"id: 7\revent: thinking\rdata: {\"thought\": \"caf\xc3\xa9\", \"iteration\": 1}\r\r"
             b"id: 9\nevent: thinking\ndata: {\"thought\": \"never whole\", \"iteration\": 2}\n")

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        self.heads.append(head.decode("latin-1"))
        self.times.append(time.monotonic())
        if len(self.heads) == 1:
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                                 + self.FIRST)
        else:
            self.request.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        self.request.shutdown(socket.SHUT_WR)


def test_the_event_source_reads_frames_and_resumes_as_a_browser_does():
    """What the servers never send, but a browser's EventSource takes, and so must this one."""
    _OneStream.heads, _OneStream.times = [], []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OneStream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = {"baseUrl": f"http://127.0.0.1:{server.server_address[1]}/api", "token": "t", "closeOnEnd": True,
            "settleMs": 400, "timeoutMs": 10000, "runs": [{"name": "one", "executionId": "r_1"}]}
    try:
        results = results_of(start_node(spec))
    finally:
        server.shutdown()
        server.server_close()
    got = results["one"]
    assert (got["requests"], got["readyState"], got["timedOut"]) == (2, CLOSED, False), got
    execution, steps = got["state"]["currentExecution"], got["state"]["thinkingSteps"]
    assert (execution["id"], execution["task"], execution["startedAt"]) == ("r_1", "t", "2026-01-01T00:00:00.000Z")
    assert [(s["type"], s["thought"], s["iteration"]) for s in steps] == [("thinking", "café", 1)]
    first, second = _OneStream.heads
    assert "GET /api/runs/r_1/events?profile=reference&token=t " in first and "last-event-id" not in first.lower()
    assert _OneStream.times[1] - _OneStream.times[0] < 1.5  # after the stream's retry: 100, not the default 3 s
    # the resume names the last event dispatched (7), not the one cut before its end (9)
    assert re.search(r"(?im)^last-event-id: 7\r$", second), second
