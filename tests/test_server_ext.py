"""The Jupyter server extension against a real Jupyter server (pytest-jupyter).

Every route, every refusal, Jupyter's authentication and XSRF, two users, the exact SSE
bytes over a raw socket, resume from random cut points, clients that go away, a server
restart on the same store, and a real Chromium ``EventSource`` on the server's origin.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.testing
from browser import ARGS, CHROMIUM, skip_without_browser
from jupyter_server.auth import Authorizer, IdentityProvider
from jupyter_server.auth.identity import User
from jupyter_server.serverapp import ServerApp

# pytest-jupyter's fixtures (jp_serverapp, jp_fetch, jp_server_config, …) for this module only.
# ``pytest_plugins = ["pytest_jupyter.jupyter_server"]`` would register the plugin for the whole
# session: its autouse fixtures and hooks would then wrap every other test too (a ServerApp and
# an event loop per test, which breaks Playwright's sync API in test_widget_browser.py).
from pytest_jupyter.jupyter_server import *
from traitlets import TraitError

from workbench import events as ev
from workbench import sse
from workbench.contract import contract_violations
from workbench.runfile import read_run_file
from workbench.server_ext import WorkbenchApp
from workbench.server_ext.handlers import EventsHandler
from workbench.service import MAX_BODY_BYTES

API = ("workbench", "api")


@pytest.fixture
async def jp_asyncio_loop():
    """pytest-jupyter drives its server on ``jp_asyncio_loop``; make that the loop the test runs on.

    pytest-asyncio (auto mode) runs each test on a loop of its own; this async fixture runs
    on that loop and hands it to pytest-jupyter's fixtures, so the server and the test share it.
    """
    return asyncio.get_running_loop()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "runs.db"


@pytest.fixture
def jp_server_config(store_path: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"workbench": True}},
        "WorkbenchApp": {"store_path": str(store_path), "workspace_root": str(tmp_path / "workspaces"),
                         "heartbeat_seconds": 0.2},
    }


@pytest.fixture
def ext(jp_serverapp: ServerApp) -> WorkbenchApp:
    return jp_serverapp.web_app.settings["workbench"]


@pytest.fixture
def token(jp_serverapp: ServerApp) -> str:
    return jp_serverapp.identity_provider.token


@pytest.fixture
def port(jp_serverapp: ServerApp, http_server_client: Any) -> int:
    return http_server_client.get_http_port()


# --- helpers -----------------------------------------------------------------------------


def body(response: Any) -> Any:
    return json.loads(response.body)


def assert_error(response: Any, status: int, error_type: str | None = None, message: str = "") -> dict[str, Any]:
    """A refusal in the contract's shape: JSON ``{"error": {"type", "message"}}`` and the status."""
    assert response.code == status, (response.code, response.body)
    assert response.headers["Content-Type"].startswith("application/json")
    payload = body(response)
    assert set(payload) == {"error"} and set(payload["error"]) == {"type", "message"}, payload
    if error_type:
        assert payload["error"]["type"] == error_type, payload
    assert message in payload["error"]["message"], payload
    return payload["error"]


async def start(fetch: Any, task: str = "Write a haiku about tides", **fields: Any) -> dict[str, Any]:
    response = await fetch(*API, "runs", method="POST", body=json.dumps({"task": task, "model": "simulated", **fields}))
    assert response.code == 201, response.body
    return body(response)


async def run_log(fetch: Any, run_id: str, tmp_path: Path) -> list[ev.Event]:
    """``GET /runs/{id}/log``, read back as a run file."""
    response = await fetch(*API, "runs", run_id, "log")
    assert response.headers["Content-Type"] == "application/x-ndjson"
    path = tmp_path / f"{run_id}.jsonl"
    path.write_bytes(response.body)
    header, events = read_run_file(path)
    assert header.run_id == run_id
    return list(events)


def frames_of(events: list[ev.Event]) -> bytes:
    return b"".join(sse.encode_event(e) for e in events)


def without_keepalives(data: bytes) -> bytes:
    return data.replace(sse.KEEPALIVE, b"")


async def until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class RawResponse:
    """An HTTP/1.1 response read off a raw socket: status, headers, the de-chunked body."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        head, sep, rest = raw.partition(b"\r\n\r\n")
        self.complete_head = bool(sep)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if sep else 0
        self.headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        self.body, self.ended = _dechunk(rest) if self.headers.get("transfer-encoding") == "chunked" else (rest, False)


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    """The body of a chunked transfer, also when cut short; True when the final chunk came."""
    out, pos = bytearray(), 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), False
        size = int(data[pos:end], 16)
        if size == 0:
            return bytes(out), True
        out += data[end + 2 : end + 2 + size]
        if end + 2 + size + 2 > len(data):
            return bytes(out), False
        pos = end + 2 + size + 2


async def raw_get(port: int, path: str, token: str, *, headers: dict[str, str] | None = None,
                  cut: int | None = None, timeout: float = 20.0) -> RawResponse:
    """A hand-written HTTP/1.1 GET; reads to the end of the response, or drops the connection at byte ``cut``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Authorization: token {token}",
             "Accept: text/event-stream", "Accept-Encoding: gzip, deflate"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = b""
    try:
        async with asyncio.timeout(timeout):
            while cut is None or len(raw) < cut:
                piece = await reader.read(65536 if cut is None else max(1, min(65536, cut - len(raw))))
                if not piece:
                    break
                raw += piece
                if raw.endswith(b"\r\n0\r\n\r\n"):  # the last chunk: the response is complete
                    break
    finally:
        writer.transport.abort()  # drop it, as a client that goes away would
    return RawResponse(raw[:cut] if cut is not None else raw)


def complete_frames(data: bytes) -> list[bytes]:
    """The whole SSE frames in ``data`` (each with its blank line), dropping a cut-off tail."""
    parts = data.split(b"\n\n")
    return [p + b"\n\n" for p in parts[:-1]]


def event_frames(data: bytes) -> list[bytes]:
    return [f for f in complete_frames(data) if f.startswith(b"id: ")]


def events_path(base_url: str, run_id: str, query: str = "") -> str:
    return f"{base_url}workbench/api/runs/{run_id}/events" + (f"?{query}" if query else "")


# --- every route -------------------------------------------------------------------------


async def test_every_route_answers_the_contract(jp_fetch, jp_base_url, tmp_path):
    first = await start(jp_fetch, "Write a haiku about tides", strategy="react")
    assert set(first) == {"id", "task", "model", "strategy", "status", "createdAt", "endedAt", "eventCount"}
    assert re.fullmatch(r"r_[0-9a-f]{16}", first["id"]) and first["status"] == "running"
    assert first["task"] == "Write a haiku about tides" and first["model"] == "simulated" and first["strategy"] == "react"

    # The whole run over SSE is its log, framed: retry first, then every event, then the end.
    stream = await jp_fetch(*API, "runs", first["id"], "events")
    assert stream.code == 200 and stream.headers["Content-Type"] == "text/event-stream"
    events = await run_log(jp_fetch, first["id"], tmp_path)
    assert without_keepalives(stream.body) == b"retry: 2000\n\n" + frames_of(events)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "execution:started" and events[-1].type == "execution:complete"
    assert contract_violations(events) == []

    detail = body(await jp_fetch(*API, "runs", first["id"]))
    assert detail["status"] == "complete" and detail["eventCount"] == len(events)
    assert detail["state"]["status"] == "complete" and detail["state"]["result"]
    assert set(detail) - {"state"} == set(first)

    second = await start(jp_fetch, "Plan a picnic")
    listed = body(await jp_fetch(*API, "runs"))["runs"]
    assert [r["id"] for r in listed] == [second["id"], first["id"]]  # newest first
    assert listed[1]["status"] == "complete" and listed[1]["eventCount"] == len(events)

    # Cancel: 202 while it runs, 409 once it has ended, 404 for an unknown id.
    slow = await start(jp_fetch, "A long one", options={"pace": 50})
    cancelled = await jp_fetch(*API, "runs", slow["id"], "cancel", method="POST", body=b"")
    assert cancelled.code == 202 and body(cancelled)["id"] == slow["id"]
    rest = await jp_fetch(*API, "runs", slow["id"], "events")
    last = event_frames(rest.body)[-1]
    assert b"event: execution:cancelled\n" in last
    again = await jp_fetch(*API, "runs", slow["id"], "cancel", method="POST", body=b"", raise_error=False)
    assert_error(again, 409, "already_finished", "already ended")
    unknown = await jp_fetch(*API, "runs", "r_0000000000000000", "cancel", method="POST", body=b"", raise_error=False)
    assert_error(unknown, 404, "not_found")
    assert body(await jp_fetch(*API, "runs", slow["id"]))["status"] == "cancelled"


async def test_location_of_a_new_run(jp_fetch, jp_base_url):
    response = await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t", "model": "simulated"}))
    assert response.headers["Location"] == f"{jp_base_url}workbench/api/runs/{body(response)['id']}"


@pytest.mark.parametrize("jp_server_config", [{
    "ServerApp": {"jpserver_extensions": {"workbench": True}},
    "WorkbenchApp": {"default_model": "simulated", "allowed_tools": ["read_file", "list_files"], "max_runs_per_user": 1},
}])
async def test_config_traits_and_their_defaults(jp_fetch, ext, jp_data_dir):
    traits = WorkbenchApp.class_own_traits(config=True)
    assert {"default_model", "store_path", "heartbeat_seconds", "max_runs_per_user", "allowed_tools",
            "workspace_root", "per_user_runs"} <= set(traits)
    assert all(trait.help for trait in traits.values())
    assert ext.store_path == str(jp_data_dir / "workbench" / "runs.db") and Path(ext.store_path).exists()
    assert ext.workspace_root == str(jp_data_dir / "workbench" / "workspaces")
    assert WorkbenchApp().heartbeat_seconds == 15 and WorkbenchApp().allowed_tools == ["list_files", "read_file", "write_file"]
    with pytest.raises(TraitError, match="more than 0"):
        WorkbenchApp(heartbeat_seconds=0)

    response = await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t", "tools": ["write_file"]}),
                              raise_error=False)
    assert_error(response, 400, "invalid_request", "not available here")
    run = body(await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t", "options": {"pace": 5}})))
    assert run["model"] == "simulated"
    assert Path(ext.workspace_root, ext.principal(User("me")).name, run["id"]).is_dir()
    response = await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t"}), raise_error=False)
    assert_error(response, 429, "too_many_runs")


# --- bad input -----------------------------------------------------------------------------

BAD_BODIES = [
    (b'{"task": ', 400, "invalid_json", "not valid JSON"),
    (b"\xff\xfe", 400, "invalid_json", "not valid JSON"),
    (b"[1, 2]", 400, "invalid_request", "JSON object"),
    (b"{}", 400, "invalid_request", "non-empty string"),
    (b'{"task": "   "}', 400, "invalid_request", "non-empty string"),
    (json.dumps({"task": "x" * 50_001}).encode(), 400, "invalid_request", "limit is 50,000"),
    (b'{"task": "t", "model": "gpt-4"}', 400, "invalid_request", "unknown model"),
    (b'{"task": "t", "model": "claude-sonnet-4-6"}', 400, "invalid_request", "ANTHROPIC_API_KEY"),
    (b'{"task": "t", "strategy": "yolo"}', 400, "invalid_request", "unknown strategy"),
    (b'{"task": "t", "tools": ["teleport"]}', 400, "invalid_request", "not available here"),
    (b'{"task": "t", "tools": "read_file"}', 400, "invalid_request", "list of built-in tool names"),
    (b'{"task": "t", "bogus": 1}', 400, "invalid_request", "unknown fields"),
    (b'{"task": "t", "options": {"workspace": "/etc"}}', 400, "invalid_request", "cannot be set over HTTP"),
    (b'{"task": "t", "options": {"scenario": "/etc/passwd"}}', 400, "invalid_request", "cannot be set over HTTP"),
    (b'{"task": "t", "options": {"pace": -1}}', 400, "invalid_request", "pace"),
    (b'{"task": "t", "options": []}', 400, "invalid_request", "options must be a JSON object"),
    (b" " * (MAX_BODY_BYTES + 1), 413, "too_large", "limit is 1,000,000"),
]


async def test_bad_input_is_a_4xx_json_error_and_the_running_run_goes_on(jp_fetch, tmp_path):
    going = await start(jp_fetch, "Keep going", strategy="react", options={"pace": 400})
    for payload, status, error_type, message in BAD_BODIES:
        response = await jp_fetch(*API, "runs", method="POST", body=payload, raise_error=False)
        assert_error(response, status, error_type, message)
    ids = [r["id"] for r in body(await jp_fetch(*API, "runs"))["runs"]]
    assert ids == [going["id"]]  # nothing half-made

    run_id = going["id"]
    for header in ("abc", "-1", "1.5", "9" * 40):
        response = await jp_fetch(*API, "runs", run_id, "events", headers={"Last-Event-ID": header}, raise_error=False)
        assert_error(response, 400, "invalid_request", "Last-Event-ID must be a non-negative event id")
    response = await jp_fetch(*API, "runs", run_id, "events", params={"after": "x"}, raise_error=False)
    assert_error(response, 400, "invalid_request", "after must be a non-negative event id")

    for parts, method in [
        (("runs", "r_0000000000000000"), "GET"),
        (("runs", "r_0000000000000000", "events"), "GET"),
        (("runs", "r_0000000000000000", "log"), "GET"),
        (("runs", "r_0000000000000000", "cancel"), "POST"),
        (("runs", "not-an-id"), "GET"),
        (("runs", run_id, "bogus"), "GET"),
        (("nope",), "GET"),
        (("runs", run_id, "events", "more"), "POST"),
    ]:
        response = await jp_fetch(*API, *parts, method=method, body=b"" if method == "POST" else None, raise_error=False)
        assert_error(response, 404, "not_found")
    for parts, method in [(("runs",), "PUT"), (("runs", run_id), "DELETE"), (("runs", run_id, "cancel"), "GET"),
                          (("runs", run_id, "events"), "POST")]:
        response = await jp_fetch(*API, *parts, method=method, body=b"{}" if method in ("PUT", "POST") else None,
                                  raise_error=False, allow_nonstandard_methods=True)
        assert_error(response, 405, "method_not_allowed")

    # None of that touched the run that was going.
    stream = await jp_fetch(*API, "runs", run_id, "events")
    events = await run_log(jp_fetch, run_id, tmp_path)
    assert events[-1].type == "execution:complete" and contract_violations(events) == []
    assert without_keepalives(stream.body) == b"retry: 2000\n\n" + frames_of(events)


# --- authentication, XSRF, users -----------------------------------------------------------

ROUTES = [("runs", "GET"), ("runs", "POST"), ("runs/{id}", "GET"), ("runs/{id}/cancel", "POST"),
          ("runs/{id}/events", "GET"), ("runs/{id}/log", "GET"), ("elsewhere", "GET")]


async def test_without_credentials_every_route_refuses_and_shows_nothing(jp_fetch):
    run = await start(jp_fetch, "A secret task", options={"pace": 20})
    for route, method in ROUTES:
        for auth in ("", "token wrong-token"):
            response = await jp_fetch(*API, *route.format(id=run["id"]).split("/"), method=method,
                                      body=json.dumps({"task": "x"}) if method == "POST" else None,
                                      headers={"Authorization": auth}, raise_error=False, follow_redirects=False)
            assert response.code in (401, 403), (route, method, response.code)
            assert run["id"].encode() not in response.body and b"secret" not in response.body
            assert_error(response, response.code, "forbidden", "not logged in to Jupyter")
    listed = body(await jp_fetch(*API, "runs"))["runs"]
    assert [r["id"] for r in listed] == [run["id"]]  # the refused POSTs started nothing


async def test_cookie_clients_need_xsrf_on_post(jp_fetch, token):
    login = await jp_fetch(*API, "runs", params={"token": token}, headers={"Authorization": ""})
    cookies = [c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie")]
    assert cookies, "token login sets Jupyter's login cookie"
    cookie = "; ".join(cookies)
    # The cookie alone reads (GET needs no XSRF token)...
    listed = await jp_fetch(*API, "runs", headers={"Authorization": "", "Cookie": cookie})
    assert body(listed) == {"runs": []}
    task = json.dumps({"task": "From the browser", "model": "simulated"})
    # ...but cannot write without the XSRF token, nor with one that does not match its cookie.
    refused = await jp_fetch(*API, "runs", method="POST", body=task, headers={"Authorization": "", "Cookie": cookie},
                             raise_error=False)
    assert_error(refused, 403, "forbidden", "_xsrf")
    mismatched = await jp_fetch(*API, "runs", method="POST", body=task, raise_error=False,
                                headers={"Authorization": "", "Cookie": cookie + "; _xsrf=abcdef0123456789",
                                         "X-XSRFToken": "0123456789abcdef"})
    assert_error(mismatched, 403, "forbidden")
    assert body(await jp_fetch(*API, "runs"))["runs"] == []
    accepted = await jp_fetch(*API, "runs", method="POST", body=task,
                              headers={"Authorization": "", "Cookie": cookie + "; _xsrf=abcdef0123456789",
                                       "X-XSRFToken": "abcdef0123456789"})
    assert accepted.code == 201


class ReadOnly(Authorizer):
    """Lets everyone read and no one write; remembers what it was asked."""

    asked: ClassVar[list[tuple[str, str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.asked.append((handler.request.method, action, resource))
        return action == "read"


@pytest.mark.parametrize("jp_server_config", [{
    "ServerApp": {"jpserver_extensions": {"workbench": True}, "authorizer_class": ReadOnly},
}])
async def test_jupyters_authorizer_decides_on_the_workbench_resource(jp_fetch):
    ReadOnly.asked.clear()
    assert body(await jp_fetch(*API, "runs")) == {"runs": []}
    refused = await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t"}), raise_error=False)
    assert_error(refused, 403, "forbidden", "not authorized to write on resource: workbench")
    refused = await jp_fetch(*API, "runs", "r_0000000000000000", "cancel", method="POST", body=b"", raise_error=False)
    assert_error(refused, 403, "forbidden")
    assert_error(await jp_fetch(*API, "runs", "r_0000000000000000", "events", raise_error=False), 404)
    assert ReadOnly.asked == [("GET", "read", "workbench"), ("POST", "write", "workbench"),
                              ("POST", "write", "workbench"), ("GET", "read", "workbench")]


class TwoUsers(IdentityProvider):
    """Two people, each with a token of their own."""

    people: ClassVar[dict[str, str]] = {"token-ada": "ada", "token-bob": "bob"}

    async def get_user_token(self, handler: Any) -> User | None:
        name = self.people.get(self.get_token(handler) or "")
        return User(username=name) if name else None


@pytest.mark.parametrize("jp_server_config", [{
    "ServerApp": {"jpserver_extensions": {"workbench": True}, "identity_provider_class": TwoUsers},
    "WorkbenchApp": {"heartbeat_seconds": 0.2},
}])
async def test_each_user_sees_only_their_runs(jp_fetch, ext, tmp_path):
    def as_(who: str) -> Any:
        def fetch(*parts: Any, **kwargs: Any) -> Any:
            kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"token token-{who}"}
            return jp_fetch(*parts, **kwargs)
        return fetch

    ada, bob = as_("ada"), as_("bob")
    ada_run = await start(ada, "Ada's task", options={"pace": 20})
    bob_run = await start(bob, "Bob's task", strategy="react")
    assert [r["id"] for r in body(await ada("workbench", "api", "runs"))["runs"]] == [ada_run["id"]]
    assert [r["id"] for r in body(await bob("workbench", "api", "runs"))["runs"]] == [bob_run["id"]]
    for me, theirs in ((bob, ada_run), (ada, bob_run)):
        for route, method in ROUTES[2:6]:
            response = await me(*API, *route.format(id=theirs["id"]).split("/"), method=method,
                                body=b"" if method == "POST" else None, raise_error=False)
            error = assert_error(response, 404, "not_found")
            assert theirs["task"] not in json.dumps(error)
    # Each one's own routes work, and workspaces are kept apart by user.
    await bob(*API, "runs", bob_run["id"], "events")
    assert (await bob(*API, "runs", bob_run["id"], "log")).code == 200
    assert (await ada(*API, "runs", ada_run["id"], "cancel", method="POST", body=b"")).code == 202
    assert ext.service.get(ext.principal(User("ada")), ada_run["id"]).workspace.parent.name == "ada"


async def test_the_default_identity_provider_has_one_owner(jp_fetch, ext):
    """Jupyter's token users are anonymous per request; all of them are the server's one user."""
    run = await start(jp_fetch)
    assert (await jp_fetch(*API, "runs", run["id"])).code == 200  # a second token request: same owner
    assert ext.principal(User("Anonymous A")) == ext.principal(User("Anonymous B"))


# --- SSE bytes over a raw socket -------------------------------------------------------------


@pytest.mark.parametrize("jp_server_config", [{
    "ServerApp": {"jpserver_extensions": {"workbench": True}, "tornado_settings": {"compress_response": True}},
    "WorkbenchApp": {"heartbeat_seconds": 0.1},
}])
async def test_sse_bytes_exactly(jp_fetch, jp_base_url, port, token, tmp_path):
    finished = await start(jp_fetch, strategy="react")
    await jp_fetch(*API, "runs", finished["id"], "events")
    events = await run_log(jp_fetch, finished["id"], tmp_path)

    response = await raw_get(port, events_path(jp_base_url, finished["id"]), token)
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers  # gzip asked for and on in the server: not for events
    assert response.ended  # the final chunk: the stream ends after the terminal event
    assert response.body == b"retry: 2000\n\n" + frames_of(events)

    # Live and idle: keep-alives between events, then the end right after the terminal event.
    slow = await start(jp_fetch, "Slow", strategy="react", options={"pace": 3})
    reading = asyncio.ensure_future(raw_get(port, events_path(jp_base_url, slow["id"]), token))
    await asyncio.sleep(0.8)
    await jp_fetch(*API, "runs", slow["id"], "cancel", method="POST", body=b"")
    live = await reading
    events = await run_log(jp_fetch, slow["id"], tmp_path)
    assert events[-1].type == "execution:cancelled" and live.ended
    assert sse.KEEPALIVE in live.body
    assert without_keepalives(live.body) == b"retry: 2000\n\n" + frames_of(events)
    assert live.body.endswith(frames_of(events[-1:]))
    # Keep-alives only ever come between whole frames.
    assert all(f in (b"retry: 2000\n\n", sse.KEEPALIVE) or f.startswith(b"id: ") for f in complete_frames(live.body))


async def test_resume_from_random_cut_points(jp_fetch, jp_base_url, port, token, ext, tmp_path):
    async def follow(seed: int) -> tuple[str, list[bytes], int]:
        rng = random.Random(seed)
        run = await start(jp_fetch, f"Resume test {seed}", options={"pace": 300, "seed": seed})
        live = ext.service.get(ext.principal(User("me")), run["id"])
        received: list[bytes] = []
        last_id: str | None = None
        connections = 0
        while True:
            cut = rng.choice([rng.randrange(0, 600), rng.randrange(0, 30_000)])
            headers = {"Last-Event-ID": last_id} if last_id is not None else {}
            connections += not live.done
            response = await raw_get(port, events_path(jp_base_url, run["id"]), token, headers=headers, cut=cut)
            if response.complete_head:
                assert response.status == 200
            frames = event_frames(response.body)
            received += frames
            if frames:
                last_id = frames[-1].split(b"\n", 1)[0][4:].decode()
            if frames and b"\nevent: execution:complete\n" in frames[-1]:
                return run["id"], received, connections
            assert len(received) < 10_000

    results = await asyncio.gather(*(follow(seed) for seed in (1, 2, 3)))
    for run_id, received, live_connections in results:
        events = await run_log(jp_fetch, run_id, tmp_path)
        assert b"".join(received) == frames_of(events), f"gap or duplicate in {run_id}"
        assert live_connections > 3  # cut many times while the run was going

    run_id = results[0][0]
    events = await run_log(jp_fetch, run_id, tmp_path)
    for after in (0, 1, 17, len(events) - 1, len(events), len(events) + 5):
        response = await jp_fetch(*API, "runs", run_id, "events", params={"after": str(after)})
        assert response.body == b"retry: 2000\n\n" + frames_of(events[after:])
    # The Last-Event-ID header wins over ?after=.
    response = await jp_fetch(*API, "runs", run_id, "events", params={"after": "3"}, headers={"Last-Event-ID": "5"})
    assert response.body == b"retry: 2000\n\n" + frames_of(events[5:])


async def test_a_client_that_goes_away_leaves_nothing_behind(jp_fetch, jp_base_url, port, token, ext):
    ext.heartbeat_seconds = 60  # only the disconnect itself can end the stream in time
    run_info = await start(jp_fetch, "Very slow", strategy="react", options={"pace": 0.5})
    run = ext.service.get(ext.principal(User("me")), run_info["id"])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {events_path(jp_base_url, run.id)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: token {token}\r\n\r\n".encode())
    assert (await reader.readuntil(b"retry: 2000\n\n")).startswith(b"HTTP/1.1 200")
    await until(lambda: len(ext.streams) == 1 and len(run.log._waiters) == 1, what="the stream to wait on the log")
    handler = next(iter(ext.streams))
    pump = handler._pump
    assert pump is not None and not pump.done()

    gone_at = time.monotonic()
    writer.transport.abort()
    await until(lambda: pump.done() and not ext.streams and not run.log._waiters, timeout=2, what="cleanup")
    assert time.monotonic() - gone_at < 0.5  # noticed at once, not at the next event or heartbeat
    assert pump.cancelled()  # by on_connection_close
    assert not run.done  # the run itself goes on
    assert not [t for t in asyncio.all_tasks() if "_send" in repr(t.get_coro())]
    await jp_fetch(*API, "runs", run.id, "cancel", method="POST", body=b"")


# --- persistence across a restart -------------------------------------------------------------


async def test_runs_survive_a_restart_and_live_ones_end_interrupted(
    jp_fetch, jp_serverapp, jp_configurable_serverapp, jp_server_config, jp_base_url, port, token, tmp_path
):
    done = await start(jp_fetch, "Finished before the stop", strategy="react")
    await jp_fetch(*API, "runs", done["id"], "events")
    going = await start(jp_fetch, "Going when the server stops", options={"pace": 20})
    watching = asyncio.ensure_future(raw_get(port, events_path(jp_base_url, going["id"]), token))
    await asyncio.sleep(0.3)

    await jp_serverapp._cleanup()  # what `jupyter server` does on stop (and pytest-jupyter at teardown)
    watched = await asyncio.wait_for(watching, 5)
    assert watched.ended  # the open stream ended, with the run's terminal event

    # A new server on the same store.
    ServerApp.clear_instance()
    second = jp_configurable_serverapp(config=jp_server_config)
    assert second is not jp_serverapp
    socket, port2 = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(second.web_app)
    server.add_socket(socket)
    client = tornado.httpclient.AsyncHTTPClient()

    async def get(path: str) -> Any:
        return await client.fetch(f"http://127.0.0.1:{port2}{jp_base_url}workbench/api/{path}",
                                  headers={"Authorization": f"token {second.identity_provider.token}"})

    try:
        runs = json.loads((await get("runs")).body)["runs"]
        assert [(r["id"], r["status"]) for r in runs] == [(going["id"], "interrupted"), (done["id"], "complete")]
        logs = {}
        for run in runs:
            path = tmp_path / f"after-restart-{run['id']}.jsonl"
            path.write_bytes((await get(f"runs/{run['id']}/log")).body)
            events = logs[run["id"]] = list(read_run_file(path)[1])
            assert len(events) == run["eventCount"] and contract_violations(events) == []
            assert (await get(f"runs/{run['id']}/events")).body == b"retry: 2000\n\n" + frames_of(events)
            assert json.loads((await get(f"runs/{run['id']}")).body)["state"]["status"] == run["status"]
        interrupted = logs[going["id"]]
        assert interrupted[-1].type == "execution:error" and interrupted[-1].data.error.type == "interrupted"
        assert logs[done["id"]][-1].type == "execution:complete"
        # What the watcher got before the stop is exactly that log.
        assert without_keepalives(watched.body) == b"retry: 2000\n\n" + frames_of(interrupted)
    finally:
        server.stop()
        socket.close()


# --- a real browser -------------------------------------------------------------------------------

PAGE_JS = """
([url, types]) => new Promise((resolve) => {
  window.got = []; window.opens = [];
  const source = new EventSource(url);
  source.onopen = () => { window.opens.push(window.got.length); };  // events held when each connection opened
  for (const type of types) {
    source.addEventListener(type, (e) => {
      window.got.push({id: e.lastEventId, type: e.type, data: e.data});
      if (type.startsWith("execution:") && type !== "execution:started") { source.close(); resolve(window.got.length); }
    });
  }
})
"""


async def test_a_real_browser_event_source_follows_and_resumes(jp_fetch, jp_base_url, port, token, ext, monkeypatch):
    skip_without_browser()
    from playwright.async_api import async_playwright

    seen: list[str | None] = []
    original = EventsHandler.prepare

    async def recording_prepare(self: EventsHandler) -> None:
        seen.append(self.request.headers.get("Last-Event-ID"))
        await original(self)

    monkeypatch.setattr(EventsHandler, "prepare", recording_prepare)
    run = await start(jp_fetch, "Watched from a browser", strategy="react", options={"pace": 60})
    origin = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{origin}{jp_base_url}?token={token}")  # logs in: Jupyter sets its cookie
            listening = asyncio.ensure_future(page.evaluate(PAGE_JS, [events_path(jp_base_url, run["id"]), sorted(ev.EVENT_TYPES)]))
            await until(lambda: len(ext.streams) == 1, what="the browser's stream")
            async with asyncio.timeout(20):
                while await page.evaluate("window.got.length") < 20:
                    await asyncio.sleep(0.02)
            assert len(ext.streams) == 1
            for handler in list(ext.streams):  # the server drops the connection mid-run
                handler.request.connection.stream.close()
            count = await asyncio.wait_for(listening, 30)
            got = await page.evaluate("window.got")
            opens = await page.evaluate("window.opens")
        finally:
            await browser.close()

    events = list(ext.service.get(ext.principal(User("me")), run["id"]).events)
    assert count == len(events) and [g["id"] for g in got] == [str(e.id) for e in events]
    assert [g["type"] for g in got] == [e.type for e in events]
    assert [g["data"] for g in got] == [e.to_json() for e in events]
    assert events[-1].type == "execution:complete"
    # Two connections: the first without Last-Event-ID, the reconnect with the id of the last
    # event the page had, mid-run; nothing was lost or repeated across the cut.
    assert len(seen) == 2 and seen[0] is None and opens[0] == 0
    assert seen[1] == str(opens[1]) and 20 <= opens[1] < len(events)
