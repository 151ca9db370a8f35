"""The JavaScript client (``workbench/serving/static/follow_run.js``), in Node and in Chromium,
against both servers, through a proxy that cuts its connections at random points.

Both servers are real: ``jupyter server`` in a subprocess (the extension enabled by the installed
package's configuration) and the standalone server in a thread. Each test starts three runs (one
that completes, one cancelled while followed, one that fails), follows them with ``followRun``
through :class:`cutting_proxy.CuttingProxy` (each run's first answers cut after a random number
of bytes, ``retry:`` shortened, some resumes replaying ids the client has), and checks what the
client got against the run file the server hands out: every event once, in order, byte-equal
JSON; ``onEnd`` once, with the terminal event.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import socketserver
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cutting_proxy import RETRY_MS
from followed_runs import (  # noqa: F401 (fixtures)
    TERMINALS,
    Target,
    cancel_when_going,
    loop_fixture,
    server_fixture,
    start_runs,
    target_fixture,
)

from workbench.serving.client import CLIENT_FILE

JS = Path(__file__).resolve().parent / "js"
NODE = shutil.which("node")


# --- what every test does, in Node or in Chromium ------------------------------------------------


def follow_spec(target: Target, ids: dict[str, str]) -> dict[str, Any]:
    return {"token": target.token, "runs": [{"name": name, "url": target.events_url(i)} for name, i in ids.items()]}


def check_followed(target: Target, ids: dict[str, str], results: dict[str, Any]) -> None:
    """Each run: exactly the server's log, once each, in order; onEnd once with the terminal event."""
    assert target.proxy is not None
    cut = 0
    for name, run_id in ids.items():  # what the proxy saw, shown when a test fails
        print(name, [(r.after, r.status, r.cut_at, round(r.ended - r.at, 3)) for r in target.proxy.stream_requests(run_id)])
    for name, run_id in ids.items():
        log, got = target.log(run_id), results[name]
        assert got["error"] is None, got["error"]
        assert got["done"] == log[-1], name
        assert log[-1]["type"] == TERMINALS[name], (name, log[-1])
        assert [e["id"] for e in got["events"]] == list(range(1, len(log) + 1)), name
        assert [e["type"] for e in got["events"]] == [e["type"] for e in log], name
        assert [e["data"] for e in got["events"]] == log, name
        assert got["ends"] == [log[-1]], name
        requests = target.proxy.stream_requests(run_id)
        cut += sum(r.cut_at is not None for r in requests)
        assert requests[-1].status == 200, requests  # it stopped at the end, not with a request that failed
        for before, after in zip(requests, requests[1:]):  # never sooner than the server's retry: says
            assert after.at - before.ended >= RETRY_MS / 1000 * 0.9, requests
    assert cut >= 5, "the proxy should have cut several connections"


def check_ends(target: Target, ids: dict[str, str], results: dict[str, Any]) -> None:
    """A resume at the end gets 204 and stops, once; a wrong token stops with the server's 401."""
    print({name: (len(got["events"]), got["ends"][:1], got["error"]) for name, got in results.items()})
    past = results["past"]
    assert past == {"events": [], "ends": [None], "error": None, "done": None}
    closed = results["closed"]  # close() from the 7th event's onEvent: nothing more, no onEnd, done is null
    assert [e["id"] for e in closed["events"]] == list(range(1, 8)) and closed["ends"] == [] and closed["done"] is None
    assert closed["error"] is None and len(target.proxy.stream_requests(ids["cancelled"])) >= 1
    requests = target.proxy.stream_requests(ids["done"]) if target.proxy else []
    assert [r.status for r in requests[-1:]] == [204]
    wrong = results["wrong"]
    assert wrong["events"] == [] and wrong["ends"] == []
    assert wrong["error"]["name"] == "FollowError" and wrong["error"]["status"] in (401, 403), wrong


def ends_spec(target: Target, ids: dict[str, str]) -> dict[str, Any]:
    assert target.proxy is not None
    target.proxy.replay = target.proxy.cuts = 0  # the answers themselves are what is checked here
    done = ids["done"]
    return {"token": target.token, "runs": [
        {"name": "past", "url": target.events_url(done), "after": len(target.log(done))},
        {"name": "wrong", "url": target.events_url(ids["failed"]), "token": "not-the-token"},
        {"name": "closed", "url": target.events_url(ids["cancelled"]), "closeAfter": 7},
    ]}


# --- the module as served --------------------------------------------------------------------------


def test_both_servers_serve_the_module_without_authentication(server: Target):
    status, body = server.request("GET", server.client_path)
    assert status == 200 and body == CLIENT_FILE.read_bytes()
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{server.client_path}")  # no token at all
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200 and answer.read() == body
        assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
    # ... while the API next to it still wants the token
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}{server.prefix}api/runs", timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code in (401, 403)
    else:
        raise AssertionError("the API answered without a token")


# --- Node ------------------------------------------------------------------------------------------


def node(spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    if NODE is None:
        pytest.skip("node is not installed")
    return subprocess.Popen([NODE, str(JS / "node_driver.mjs"), json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=JS)


def node_results(process: subprocess.Popen[bytes], timeout: float = 120) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def test_node_follows_runs_exactly_through_random_cuts(target: Target):
    ids = start_runs(target)
    spec = follow_spec(target, ids)
    spec["client"] = f"{target.proxied}{target.client_path}"
    process = node(spec)
    cancel_when_going(target, ids["cancelled"])
    check_followed(target, ids, node_results(process))

    spec = ends_spec(target, ids)
    spec["client"] = f"{target.proxied}{target.client_path}"
    check_ends(target, ids, node_results(node(spec)))


# --- Chromium --------------------------------------------------------------------------------------

_IN_PAGE = """async ([spec, helpers]) => {
  const { followRun } = await import(spec.client);
  const { followRuns } = await import("data:text/javascript;base64," + helpers);
  return followRuns(followRun, spec);
}"""


def test_chromium_follows_runs_exactly_through_random_cuts(target: Target, browser: Any):
    helpers = base64.b64encode((JS / "follow_runs.mjs").read_bytes()).decode()
    page = browser.new_page()
    errors: list[str] = []  # uncaught errors only: Chromium logs every cut and refused request to the console
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # The page is the module itself, on the proxy's origin, so the client's requests are same-origin.
        page.goto(f"{target.proxied}{target.client_path}")
        ids = start_runs(target)
        spec = {**follow_spec(target, ids), "client": target.client_path}
        canceller = threading.Thread(target=cancel_when_going, args=(target, ids["cancelled"]), daemon=True)
        canceller.start()  # page.evaluate holds this thread until the runs end
        results = page.evaluate(_IN_PAGE, [spec, helpers])
        canceller.join(30)
        check_followed(target, ids, results)
        # Jupyter set its login cookie when the token came: without clearing it, any token would do.
        page.context.clear_cookies()
        spec = {**ends_spec(target, ids), "client": target.client_path}
        check_ends(target, ids, page.evaluate(_IN_PAGE, [spec, helpers]))
    finally:
        page.close()
    assert not errors, errors


class _HalfAnswers(socketserver.BaseRequestHandler):
    """Answers as a broken network or a stray proxy would: the module itself at ``/client.js``; at
    ``/cut/events`` first a 200 whose headers break off inside the Content-Type, then a 204; at
    ``/page/events`` a 200 login page."""

    requests: list[str] = []

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        path = head.split(b" ", 2)[1].decode()
        self.requests.append(path)
        if path == "/client.js":
            body = CLIENT_FILE.read_bytes()
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        elif path.startswith("/cut/") and sum(p.startswith("/cut/") for p in self.requests) == 1:
            answer = b"HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nContent-Type: text/even"
        elif path.startswith("/cut/"):
            answer = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        else:
            body = b"<html><body>Sign in to the proxy</body></html>"
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        self.request.sendall(answer)
        self.request.shutdown(socket.SHUT_WR)


def test_node_resumes_after_headers_cut_short_and_stops_on_a_page_of_another_type():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _HalfAnswers)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        results = node_results(node({"client": f"{base}/client.js", "token": "t", "runs": [
            {"name": "cut", "url": f"{base}/cut/events"}, {"name": "page", "url": f"{base}/page/events"}]}))
    finally:
        server.shutdown()
        server.server_close()
    # headers cut inside "text/event-stream": a resume, which the 204 ends
    assert results["cut"] == {"events": [], "ends": [None], "error": None, "done": None}
    assert sum(p.startswith("/cut/") for p in _HalfAnswers.requests) == 2
    # a whole answer of another type: the client stops and says what it got
    assert results["page"]["error"] == {"name": "FollowError", "status": 200,
                                        "message": "expected an event stream, got text/html"}
    assert results["page"]["ends"] == [] and sum(p.startswith("/page/") for p in _HalfAnswers.requests) == 1
