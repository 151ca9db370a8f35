"""What only the Jupyter server extension has, against a real Jupyter server (pytest-jupyter).

Its config traits, Jupyter's login, XSRF and authorizer, the default one-owner identity,
clients that go away, a server restart on the same store, and a real Chromium
``EventSource`` on the server's origin. The HTTP contract itself (routes, statuses, SSE
bytes, resume, bad input, two users, run files) is tested once for both servers in
``test_contract.py``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.testing
from browser import ARGS, CHROMIUM, skip_without_browser
from jupyter_server.auth import Authorizer
from jupyter_server.auth.identity import User
from jupyter_server.serverapp import ServerApp

# pytest-jupyter's fixtures (jp_serverapp, jp_fetch, jp_server_config, …) for this module only.
# ``pytest_plugins = ["pytest_jupyter.jupyter_server"]`` would register the plugin for the whole
# session: its autouse fixtures and hooks would then wrap every other test too (a ServerApp and
# an event loop per test, which breaks Playwright's sync API in test_widget_browser.py).
from pytest_jupyter.jupyter_server import *
from servers import frames_of, raw_get, until, without_keepalives
from tornado.http1connection import HTTP1Connection
from traitlets import TraitError

from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.runfile import read_run_file
from workbench.core.store import RunStore, fcntl
from workbench.serving import sse
from workbench_server_ext import WorkbenchApp
from workbench_server_ext.handlers import EventsHandler

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


def events_path(base_url: str, run_id: str, query: str = "") -> str:
    return f"{base_url}workbench/api/runs/{run_id}/events" + (f"?{query}" if query else "")


@pytest.mark.parametrize("jp_server_config", [{
    "ServerApp": {"jpserver_extensions": {"workbench": True}},
    "WorkbenchApp": {"default_model": "simulated", "allowed_tools": ["read_file", "list_files"], "max_runs_per_user": 1},
}])
async def test_config_traits_and_their_defaults(jp_fetch, ext, jp_data_dir):
    traits = WorkbenchApp.class_own_traits(config=True)
    assert {"default_model", "store_path", "heartbeat_seconds", "max_runs_per_user", "allowed_tools",
            "workspace_root", "per_user_runs", "freeze_startup_objects", "otel", "young_collection_threshold"} <= set(traits)
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


@pytest.fixture
def otel_collector(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An OTLP/HTTP receiver the environment points the exporter at; the process switch off again after."""
    from otlp_receiver import otlp_receiver

    from workbench.core import otel

    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        try:
            yield receiver
        finally:
            otel.flush(10)
            otel.enable(False)


@pytest.mark.parametrize("jp_server_config", [{
    "ServerApp": {"jpserver_extensions": {"workbench": True}},
    "WorkbenchApp": {"otel": True},
}])
async def test_with_otel_on_each_run_goes_to_the_collector_as_a_trace(otel_collector, jp_fetch, ext):
    from otlp_receiver import tree

    from workbench.core import otel

    assert ext.otel is True and WorkbenchApp().otel is False
    run = await start(jp_fetch, options={"seed": 1, "pace": 0})
    await asyncio.wait_for(ext.service._live[run["id"]].wait_async(), 30)
    assert await asyncio.to_thread(otel.flush, 10)
    (spans,) = otel_collector.wait_for_traces(1).values()
    lines = tree(spans)
    assert lines[0] == "invoke_agent workbench" and "  phase " in "\n".join(lines) and "execute_tool" in "\n".join(lines)
    assert spans[0].attributes["gen_ai.conversation.id"] == run["id"]


async def test_start_up_objects_are_frozen_out_of_garbage_collection_once_the_server_runs(
    jp_serverapp, ext, caplog: pytest.LogCaptureFixture
):
    assert gc.get_freeze_count() == 0  # pytest-jupyter never runs the started-server hook itself
    try:
        ext.freeze_startup_objects = False
        await jp_serverapp.extension_manager.start_all_extensions()  # what jupyter_server does once started
        assert gc.get_freeze_count() == 0
        ext.freeze_startup_objects = True
        ext.log.addHandler(caplog.handler)  # the app's logger does not propagate to the root one
        try:
            await jp_serverapp.extension_manager.start_all_extensions()
        finally:
            ext.log.removeHandler(caplog.handler)
        said = re.search(r"workbench: (\d+) start-up objects left out of garbage collection", caplog.text)
        assert said, caplog.text
        # the server's modules, classes and state, at the least (some may have been freed since)
        assert int(said.group(1)) > 10_000 and gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # this test process goes on to start other servers


async def test_the_young_generation_is_collected_less_often_once_the_server_runs(jp_serverapp, ext):
    before = gc.get_threshold()
    ext.freeze_startup_objects = False  # not this test's concern
    try:
        gc.set_threshold(700, 10, 10)  # Python's own
        await jp_serverapp.extension_manager.start_all_extensions()
        assert WorkbenchApp().young_collection_threshold == 10_000 and gc.get_threshold() == (10_000, 10, 10)
        gc.set_threshold(50_000, 10, 10)  # set higher by someone else: kept
        await jp_serverapp.extension_manager.start_all_extensions()
        assert gc.get_threshold() == (50_000, 10, 10)
        gc.set_threshold(0, 10, 10)  # collection turned off: left off
        await jp_serverapp.extension_manager.start_all_extensions()
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)


@pytest.fixture
def store_held_elsewhere(store_path: Path) -> Iterator[RunStore]:
    """The store, opened before the server starts: as by another Jupyter server of the same user."""
    store = RunStore(store_path)
    yield store
    store.close()


@pytest.mark.skipif(fcntl is None, reason="stores are locked with fcntl (Linux, macOS)")
async def test_a_store_another_server_holds_is_a_clear_503_and_jupyter_goes_on(store_held_elsewhere, jp_fetch, ext):
    assert ext.service is None
    for path, method, body_ in ((("runs",), "GET", None), (("runs",), "POST", b'{"task": "t"}'),
                                (("runs", "r_0000000000000000", "events"), "GET", None)):
        response = await jp_fetch(*API, *path, method=method, body=body_, raise_error=False)
        assert_error(response, 503, "unavailable", f"the run store {store_held_elsewhere.path} is in use by another "
                                                   f"process (pid {os.getpid()})")
    assert "--WorkbenchApp.store_path" in body(response)["error"]["message"]
    assert (await jp_fetch("api", "status")).code == 200  # the rest of the server works


# --- authentication, XSRF, users -----------------------------------------------------------


async def test_a_request_without_credentials_is_told_to_log_in_to_jupyter(jp_fetch):
    for auth in ("", "token wrong-token"):
        response = await jp_fetch(*API, "runs", headers={"Authorization": auth}, raise_error=False,
                                  follow_redirects=False)
        assert_error(response, 403, "unauthorized", "not logged in to Jupyter")


async def test_cookie_clients_need_xsrf_on_post(jp_fetch, token):
    login = await jp_fetch(*API, "runs", params={"token": token}, headers={"Authorization": ""})
    cookies = [c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie")]
    assert cookies, "token login sets Jupyter's login cookie"
    cookie = "; ".join(cookies)
    # The cookie alone reads (GET needs no XSRF token)...
    listed = await jp_fetch(*API, "runs", headers={"Authorization": "", "Cookie": cookie})
    assert body(listed) == {"runs": [], "next": None}
    task = json.dumps({"task": "From the browser", "model": "simulated", "options": {"pace": 5}})
    # ...but cannot write without the XSRF token, nor with one that does not match its cookie.
    refused = await jp_fetch(*API, "runs", method="POST", body=task, headers={"Authorization": "", "Cookie": cookie},
                             raise_error=False)
    assert_error(refused, 403, "forbidden", "_xsrf")
    mismatched = await jp_fetch(*API, "runs", method="POST", body=task, raise_error=False,
                                headers={"Authorization": "", "Cookie": cookie + "; _xsrf=abcdef0123456789",
                                         "X-XSRFToken": "0123456789abcdef"})
    assert_error(mismatched, 403, "forbidden")
    assert body(await jp_fetch(*API, "runs"))["runs"] == []
    xsrf = {"Authorization": "", "Cookie": cookie + "; _xsrf=abcdef0123456789", "X-XSRFToken": "abcdef0123456789"}
    accepted = await jp_fetch(*API, "runs", method="POST", body=task, headers=xsrf)
    assert accepted.code == 201
    # Cancel is a POST too.
    run_id = body(accepted)["id"]
    refused = await jp_fetch(*API, "runs", run_id, "cancel", method="POST", body=b"", raise_error=False,
                             headers={"Authorization": "", "Cookie": cookie})
    assert_error(refused, 403, "forbidden", "_xsrf")
    assert (await jp_fetch(*API, "runs", run_id, "cancel", method="POST", body=b"", headers=xsrf)).code == 202


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
    assert body(await jp_fetch(*API, "runs")) == {"runs": [], "next": None}
    refused = await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t"}), raise_error=False)
    assert_error(refused, 403, "forbidden", "not authorized to write on resource: workbench")
    refused = await jp_fetch(*API, "runs", "r_0000000000000000", "cancel", method="POST", body=b"", raise_error=False)
    assert_error(refused, 403, "forbidden")
    # Every other route asks too (and then finds no such run, or no such route).
    for path in (("runs", "r_0000000000000000"), ("runs", "r_0000000000000000", "events"),
                 ("runs", "r_0000000000000000", "log"), ("no-such-route",)):
        assert_error(await jp_fetch(*API, *path, raise_error=False), 404)
    assert ReadOnly.asked == [("GET", "read", "workbench"), ("POST", "write", "workbench"),
                              ("POST", "write", "workbench"), *[("GET", "read", "workbench")] * 4]


async def test_the_default_identity_provider_has_one_owner(jp_fetch, ext):
    """Jupyter's token users are anonymous per request; all of them are the server's one user."""
    run = await start(jp_fetch)
    assert (await jp_fetch(*API, "runs", run["id"])).code == 200  # a second token request: same owner
    assert ext.principal(User("Anonymous A")) == ext.principal(User("Anonymous B"))


# --- streams --------------------------------------------------------------------------------


async def test_a_client_that_goes_away_leaves_nothing_behind(jp_fetch, jp_base_url, port, token, ext):
    ext.heartbeat_seconds = 60  # only the disconnect itself can end the stream in time:
    run_info = await start(jp_fetch, "Very slow", strategy="react", options={"pace": 0.01})  # nor an event
    run = ext.service.get(ext.principal(User("me")), run_info["id"])
    # The run's one event before its first, slow delta is in the log: the stream has nothing more to
    # write once it has sent that (a write to a client already gone would end it first).
    await until(lambda: len(run.log) == 1, what="the run to start")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {events_path(jp_base_url, run.id)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: token {token}\r\n\r\n".encode())
    head = await reader.readuntil(b"retry: 2000\n\n")
    assert head.startswith(b"HTTP/1.1 200")
    await asyncio.wait_for(reader.readuntil(b"event: execution:started\n"), 10)
    await until(lambda: len(ext.streams) == 1 and run.log.waiting == 1, what="the stream to wait on the log")
    assert len(run.log) == 1
    handler = next(iter(ext.streams))
    # Jupyter's headers and its login cookie went out, and the stream does not hold them for its life
    assert b"\r\nSet-Cookie: " in head and b"\r\nContent-Security-Policy: " in head
    assert not handler._headers and not hasattr(handler, "_new_cookie")
    task = handler._streaming  # the request's own task, which streams
    assert task is not None and not task.done()

    gone_at = time.monotonic()
    writer.transport.abort()
    await until(lambda: task.done() and not ext.streams and not run.log.waiting, timeout=2, what="cleanup")
    assert time.monotonic() - gone_at < 0.5  # noticed at once, not at the next event or heartbeat
    assert handler._client_gone  # by on_connection_close, which cancelled the stream
    assert not task.cancelled() and task.exception() is None  # the request then ended as any other
    assert not run.done  # the run itself goes on
    await jp_fetch(*API, "runs", run.id, "cancel", method="POST", body=b"")


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="TCP_USER_TIMEOUT is Linux's")
async def test_a_stream_has_the_kernel_drop_a_client_that_acknowledges_nothing(jp_fetch, jp_base_url, port, token, ext):
    run_info = await start(jp_fetch, "Very slow", strategy="react", options={"pace": 0.5})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {events_path(jp_base_url, run_info['id'])} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: token {token}\r\n\r\n".encode())
    await reader.readuntil(b"retry: 2000\n\n")
    await until(lambda: len(ext.streams) == 1, what="the stream")
    served = next(iter(ext.streams)).request.connection.stream.socket
    option = (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
    assert served.getsockopt(*option) == int(sse.SEND_TIMEOUT * 1000)  # for as long as the stream lasts
    await jp_fetch(*API, "runs", run_info["id"], "cancel", method="POST", body=b"")
    await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), 10)  # the stream ended; the connection stays
    await until(lambda: not ext.streams, what="the stream to be let go")
    assert served.fileno() >= 0 and served.getsockopt(*option) == 0  # as before, for the connection's next request
    writer.close()


async def test_a_backlog_goes_out_in_a_few_flushes_not_one_per_event(
    jp_fetch, jp_base_url, port, token, ext, monkeypatch: pytest.MonkeyPatch
):
    finished = await start(jp_fetch, "Write a long guide to tide pools", strategy="react")
    run = ext.service.get(ext.principal(User("me")), finished["id"])
    await asyncio.wait_for(run.wait_async(), 30)
    writes: list[int] = []
    write = HTTP1Connection.write

    def counted(self: HTTP1Connection, chunk: bytes) -> Any:
        if chunk:  # not the empty flush of the response's end
            writes.append(len(chunk))
        return write(self, chunk)

    monkeypatch.setattr(HTTP1Connection, "write", counted)
    for after in (0, 7):
        writes.clear()
        reply = await raw_get(port, events_path(jp_base_url, run.id), {"Authorization": f"token {token}",
                                                                         "Last-Event-ID": str(after)})
        assert reply.ended and reply.body == b"retry: 2000\n\n" + frames_of(run.events[after:])
        # retry: goes with the headers; then the events after `after`, at most MAX_BATCH to a write
        batches = -(-(len(run.events) - after) // sse.MAX_BATCH)
        assert len(writes) == batches, (len(run.events), writes)
    assert len(run.events) > 20


# --- persistence across a restart -------------------------------------------------------------


async def test_runs_survive_a_restart_and_live_ones_end_interrupted(
    jp_fetch, jp_serverapp, jp_configurable_serverapp, jp_server_config, jp_base_url, port, token, tmp_path
):
    done = await start(jp_fetch, "Finished before the stop", strategy="react")
    await jp_fetch(*API, "runs", done["id"], "events")
    going = await start(jp_fetch, "Going when the server stops", options={"pace": 20})
    watching = asyncio.ensure_future(raw_get(port, events_path(jp_base_url, going["id"]), {"Authorization": f"token {token}"}))
    await asyncio.sleep(0.3)

    await jp_serverapp._cleanup()  # what `jupyter server` does on stop (and pytest-jupyter at teardown)
    watched = await asyncio.wait_for(watching, 5)
    assert watched.ended  # the open stream ended, with the run's terminal event

    # A new server on the same store.
    ServerApp.clear_instance()
    second = jp_configurable_serverapp(config=jp_server_config)
    assert second is not jp_serverapp
    listener, port2 = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(second.web_app)
    server.add_socket(listener)
    client = tornado.httpclient.AsyncHTTPClient()

    async def get(path: str) -> Any:
        return await client.fetch(f"http://127.0.0.1:{port2}{jp_base_url}workbench/api/{path}",
                                  headers={"Authorization": f"token {second.identity_provider.token}"})

    store = second.web_app.settings["workbench"].service.store
    load, loads = store.load, []
    store.load = lambda run_id: loads.append((run_id, threading.current_thread())) or load(run_id)
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
        # Each run was read from the store once, in a worker thread: never on the loop every stream shares.
        assert sorted(run_id for run_id, _ in loads) == sorted([going["id"], done["id"]])
        assert all(thread is not threading.main_thread() for _, thread in loads)
    finally:
        server.stop()
        listener.close()


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


async def test_no_credential_reaches_a_stream_the_store_or_the_log(
    jp_fetch, jp_base_url, port, token, ext, store_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A canary key (environment) and the server's own token in the task: scrubbed from every output."""
    from test_redaction import GENERIC_TYPES, KEY, assert_scrubbed

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    caplog.set_level("DEBUG")
    run_info = await start(jp_fetch, f"Write notes about {KEY} and {token}")
    run = ext.service.get(ext.principal(User("me")), run_info["id"])
    auth = {"Authorization": f"token {token}"}
    stream = await raw_get(port, events_path(jp_base_url, run.id), auth)
    reference = await raw_get(port, events_path(jp_base_url, run.id, "profile=reference"), auth)
    await asyncio.wait_for(run.wait_async(), 30)
    bodies = [(await jp_fetch(*API, *path)).body for path in (("runs",), ("runs", run.id), ("runs", run.id, "log"))]
    assert stream.status == 200 and stream.ended and b"[redacted]" in stream.body
    for blob in (stream.body, reference.body, *bodies):
        assert KEY.encode() not in blob and token.encode() not in blob
    assert_scrubbed(list(run.events), GENERIC_TYPES)
    assert [e.id for e in run.events if token in e.to_json()] == []
    assert ext.service.store.flush()
    stored = b"".join(p.read_bytes() for p in store_path.parent.glob(store_path.name + "*"))
    assert KEY.encode() not in stored and token.encode() not in stored
    assert KEY not in caplog.text and token not in caplog.text


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs a tmpfs (root)")
class TestAStoreOnAFullDisk:
    """A server started on a full disk answers in JSON (not Jupyter's HTML 404) and serves once space is back."""

    @pytest.fixture
    def disk(self, tmp_path: Path) -> Iterator[Any]:
        from disk import SmallDisk

        small = SmallDisk(tmp_path / "disk")
        assert small.mounted
        store = RunStore(small.path / "runs.db")  # a store with a run in it, then no space left
        store.close()
        small.fill()
        yield small
        small.free()
        small.close()

    @pytest.fixture
    def store_path(self, disk: Any) -> Path:
        return disk.path / "runs.db"

    async def test_routes_answer_503_in_json_until_space_is_back(self, jp_fetch, ext, disk):
        assert ext.service is None
        refused = assert_error(await jp_fetch(*API, "runs", raise_error=False), 503, "unavailable",
                               "cannot open its run store")
        assert "disk full" in refused["message"] and str(disk.path) not in refused["message"]
        assert_error(await jp_fetch(*API, "runs", method="POST", body=json.dumps({"task": "t"}), raise_error=False),
                     503, "unavailable")
        disk.free()
        ext._reopen_after = 0.0  # as when REOPEN_SECONDS have passed
        assert body(await jp_fetch(*API, "runs")) == {"runs": [], "next": None}
        run = await start(jp_fetch, options={"pace": 0})
        await until(lambda: ext.service is not None and ext.service.get(ext.principal(User("me")), run["id"]).done,
                    what="the run to end")
