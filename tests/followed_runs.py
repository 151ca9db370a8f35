"""What the tests of clients that follow runs share (tests/test_js_client.py,
tests/test_reference_client.py): both servers as :class:`Target`, one of each per test module
(``jupyter server`` in a subprocess, the standalone server in a thread), each test's fresh
:class:`cutting_proxy.CuttingProxy` in front, and the three runs every such test follows: one
that completes, one cancelled while followed, one that fails.

A test module imports the fixtures it uses (``loop_fixture``, ``server_fixture``, ``target_fixture``):
pytest knows them as ``loop``, ``server`` and ``target``; ``server`` is module-scoped, so a module
starts one Jupyter server in all.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cutting_proxy import CuttingProxy
from jupyter_process import start_jupyter, stop_jupyter
from servers import LoopThread, start_server

__all__ = ["TOKEN", "TERMINALS", "RUNS", "Target", "loop_fixture", "server_fixture", "target_fixture", "start_runs",
           "cancel_when_going"]

TOKEN = "token-of-the-js-tests-0001"
TERMINALS = {"done": "execution:complete", "cancelled": "execution:cancelled", "failed": "execution:error"}
RUNS = {
    # slow enough to be followed live, and long enough (tens of KB) that the cuts land all over it
    "done": {"task": "Plan a three-day trip to Lisbon", "strategy": "plan", "options": {"pace": 400}},
    "cancelled": {"task": "Write a long report on tides", "strategy": "plan", "options": {"pace": 100}},
    "failed": {"task": "Summarise the history of maps", "strategy": "react", "options": {"maxTokens": 50}},
}


@dataclass
class Target:
    """One server, as the tests reach it: directly (to start runs and read logs) and through the proxy."""

    kind: str
    port: int
    prefix: str
    """Where the server's workbench routes start: ``/`` (standalone) or ``{base_url}workbench/``."""
    token: str
    loop: LoopThread
    proxy: CuttingProxy | None = None

    @property
    def client_path(self) -> str:
        return f"{self.prefix}client/follow_run.js"

    @property
    def proxied(self) -> str:
        assert self.proxy is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    def events_url(self, run_id: str) -> str:
        return f"{self.proxied}{self.prefix}api/runs/{run_id}/events"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """A request straight to the server, with the token as a Bearer token (both servers take it)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, text = self.request(method, f"{self.prefix}api{path}", body)
        assert status in (200, 201, 202), (status, text)
        return json.loads(text)

    def log(self, run_id: str) -> list[dict[str, Any]]:
        """The run's events, from the run file the server hands out."""
        status, body = self.request("GET", f"{self.prefix}api/runs/{run_id}/log")
        assert status == 200
        return [json.loads(line) for line in body.splitlines()[1:]]


@pytest.fixture(scope="module", name="loop")
def loop_fixture() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module", params=["jupyter", "standalone"], name="server")
def server_fixture(request: pytest.FixtureRequest, loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "jupyter":
        jupyter = start_jupyter(tmp, "server")
        try:
            yield Target("jupyter", jupyter.port, "/workbench/", jupyter.token, loop)
        finally:
            stop_jupyter(jupyter)
    else:
        served = loop.run(start_server(tmp, token=TOKEN))
        try:
            yield Target("standalone", served.port, "/", TOKEN, loop)
        finally:
            loop.run(served.runner.cleanup())


@pytest.fixture(name="target")
def target_fixture(server: Target) -> Iterator[Target]:
    """The server behind a fresh cutting proxy."""
    proxy = CuttingProxy(server.port, seed=int(time.time()))
    server.loop.run(proxy.start())
    server.proxy = proxy
    yield server
    server.loop.run(proxy.stop())
    server.proxy = None


def start_runs(target: Target) -> dict[str, str]:
    return {name: target.api("POST", "/runs", {"model": "simulated", **body})["id"] for name, body in RUNS.items()}


def cancel_when_going(target: Target, run_id: str, events: int = 40) -> None:
    """Cancel the run once it has ``events`` events, while the client follows it."""
    deadline = time.monotonic() + 20
    while target.api("GET", f"/runs/{run_id}")["eventCount"] < events:
        assert time.monotonic() < deadline, "the run to cancel did not get going"
        time.sleep(0.05)
    target.api("POST", f"/runs/{run_id}/cancel", {})
