"""The kernel-side client against a real standalone server (in its own thread, over real
sockets): remote runs, attach, resume through a connection-dropping proxy, cancel, errors,
and finding the Jupyter server of a kernel."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from servers import LoopThread, start_app, start_server
from test_reducer import sample_run

import workbench as wb
from workbench.core.contract import contract_violations
from workbench.core.events import parse_event
from workbench.core.handle import Run
from workbench.errors import UserError
from workbench.remote import client, discovery
from workbench.remote.connection import Connection
from workbench.remote.follow import Backoff, SseParser
from workbench.remote.remote_run import RemoteRun
from workbench.serving import sse

TOKEN = "t0ken-for-tests"
SEEN = web.AppKey("seen", list)


@pytest.fixture(autouse=True)
def no_connection_left_behind():
    yield
    wb.disconnect()


class Remote:
    """A standalone server running in a thread, and a way to read its truth over HTTP."""

    def __init__(self, tmp_path: Path, token: str | None = TOKEN) -> None:
        self.thread = LoopThread()
        self.served = self.thread.run(start_server(tmp_path, token=token))
        self.root, self.api, self.port = self.served.root, self.served.api, self.served.port
        self.token = token

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.api + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()

    def log(self, run_id: str) -> list[dict[str, Any]]:
        lines = self.get(f"/runs/{run_id}/log").splitlines()
        return [parse_event(line).to_dict() for line in lines[1:]]

    def close(self) -> None:
        self.thread.run(self.served.runner.cleanup())
        self.thread.close()


@pytest.fixture
def remote(tmp_path: Path):
    server = Remote(tmp_path)
    yield server
    server.close()


def dicts(run: Run) -> list[dict[str, Any]]:
    return [e.to_dict() for e in run.events]


def test_connected_runs_go_to_the_server(remote: Remote):
    connection = wb.connect(remote.root, token=TOKEN)
    assert connection.kind == "standalone" and connection.api == remote.api
    assert TOKEN not in repr(connection)
    run = wb.run("Write a haiku", strategy="react", options={"pace": 300})
    assert isinstance(run, wb.Run) and isinstance(run, RemoteRun)
    state = run.wait(30)
    assert state.status == "complete" and run.done
    assert dicts(run) == remote.log(run.id)
    assert contract_violations(list(run.events)) == []
    assert json.loads(remote.get(f"/runs/{run.id}"))["status"] == "complete"
    assert run.follow_stats.connections == 1 and run.follow_error is None
    assert (run.task, run.model, run.strategy) == ("Write a haiku", "simulated", "react")

    assert [s["id"] for s in wb.runs()] == [run.id] and wb.runs()[0]["status"] == "complete"
    frame = run.to_pandas()
    assert list(frame["id"]) == list(range(1, len(run.events) + 1))
    saved = wb.load(run.save(remote.served.service.workspace_root.parent / "saved.jsonl"))
    assert dicts(saved) == dicts(run)

    wb.disconnect()
    local = wb.run("Write a haiku", strategy="react")
    assert not isinstance(local, RemoteRun) and local.wait(30).status == "complete"
    assert [s["id"] for s in json.loads(remote.get("/runs"))["runs"]] == [run.id]


async def test_await_works_on_a_remote_run_in_async_code(remote: Remote):
    await asyncio.to_thread(wb.connect, remote.api, TOKEN)
    run = await asyncio.to_thread(wb.run, "Write a haiku", strategy="react")
    state = await asyncio.wait_for(run, 30)
    assert state.status == "complete" and dicts(run) == await asyncio.to_thread(remote.log, run.id)


def test_attach_from_a_fresh_client_gives_the_whole_run(remote: Remote):
    wb.connect(remote.api, token=TOKEN)
    running = wb.run("Write a guide to tide pools", strategy="react", options={"pace": 300})
    while len(running.events) < 20:
        time.sleep(0.01)
    wb.disconnect()  # a kernel restart, or another notebook
    wb.connect(remote.root, TOKEN)
    attached = wb.attach(running.id)
    assert attached.id == running.id and attached.task == "Write a guide to tide pools"
    assert attached.wait(60).status == "complete" and running.wait(10).status == "complete"
    assert dicts(attached) == dicts(running) == remote.log(running.id)
    finished = wb.attach(running.id)  # a finished run: its whole log, then the end
    assert finished.wait(10).status == "complete" and dicts(finished) == dicts(running)


def test_cancel_through_the_client(remote: Remote):
    wb.connect(remote.root, TOKEN)
    run = wb.run("Write a long essay", options={"pace": 30})
    while len(run.events) < 3:
        time.sleep(0.01)
    assert run.cancel() is True
    assert run.wait(15).status == "cancelled"
    assert dicts(run) == remote.log(run.id)
    assert json.loads(remote.get(f"/runs/{run.id}"))["status"] == "cancelled"
    assert run.cancel() is False


class DroppingProxy:
    """A TCP proxy that cuts event streams after a random number of bytes, or answers 503.

    It records the ``Last-Event-ID`` of every events request it sees.
    """

    def __init__(self, upstream: int, seed: int) -> None:
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.resume_ids: list[int | None] = []
        self.cuts = self.errors = 0
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()  # held, so none is collected while it waits

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        request_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        events = request_line.split()[1].split("?")[0].endswith("/events")
        if events:
            resume = headers.get("last-event-id")
            self.resume_ids.append(int(resume) if resume is not None else None)
            if self.rng.random() < 0.15:
                self.errors += 1
                writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
                await writer.drain()
                writer.close()
                return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        up_writer.write(head)
        budget = self.rng.randint(100, 12_000) if events else None

        async def upstream_to_client() -> None:
            nonlocal budget
            while data := await up_reader.read(4096):
                if budget is not None and len(data) >= budget:
                    writer.write(data[:budget])
                    self.cuts += 1
                    writer.transport.abort()
                    up_writer.transport.abort()
                    return
                if budget is not None:
                    budget -= len(data)
                writer.write(data)
                await writer.drain()
            writer.close()

        async def client_to_upstream() -> None:
            while data := await reader.read(4096):
                up_writer.write(data)
                await up_writer.drain()

        pump = asyncio.ensure_future(client_to_upstream())
        self.tasks.add(pump)
        pump.add_done_callback(self.tasks.discard)
        try:
            await upstream_to_client()
        except ConnectionError:
            pass
        finally:
            pump.cancel()
            up_writer.transport.abort()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_dropped_streams_resume_with_last_event_id_without_gaps_or_duplicates(remote: Remote, seed: int):
    proxy = DroppingProxy(remote.port, seed)
    remote.thread.run(proxy.start())
    wb.connect(f"http://127.0.0.1:{proxy.port}", TOKEN, kind="standalone")
    run = wb.run(f"Write a guide number {seed}", strategy="react", options={"pace": 300, "seed": seed})
    assert run.wait(90).status == "complete"
    assert dicts(run) == remote.log(run.id)
    assert run.follow_stats.duplicates_dropped == 0  # the server resumed exactly where we asked
    assert proxy.cuts >= 3 and run.follow_stats.reconnects >= proxy.cuts
    assert proxy.resume_ids[0] is None and len(proxy.resume_ids) >= run.follow_stats.connections
    later = [i or 0 for i in proxy.resume_ids]
    assert later == sorted(later) and any(later) and max(later) < len(run.events)

    attached = wb.attach(run.id)  # a finished run through the same proxy
    assert attached.wait(60).status == "complete" and dicts(attached) == dicts(run)


def test_a_stream_that_repeats_or_skips_events_is_put_right(tmp_path: Path):
    """Duplicates are dropped; a gap means reconnecting from the last event held."""
    events = sample_run()
    run_id = events[0].run_id
    requests: list[str | None] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        after = int(request.headers.get("Last-Event-ID", "0"))
        requests.append(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(headers=sse.HEADERS)
        await response.prepare(request)
        if len(requests) == 1:  # 1, 2, 3, then 2 again, then 5: a duplicate and a gap
            chosen = events[:3] + [events[1], events[4]]
        else:
            chosen = events[after:]
        await response.write(sse.retry_frame() + b": hello\n\n" + b"".join(sse.encode_event(e) for e in chosen))
        return response

    app = web.Application()
    app.router.add_get(f"/api/runs/{run_id}/events", stream)
    thread = LoopThread()
    runner, port = thread.run(start_app(app))
    try:
        connection = Connection(f"http://127.0.0.1:{port}/api", "standalone")
        run = RemoteRun.follow(connection, {"id": run_id, "task": "t", "model": "m", "createdAt": "now"},
                                      backoff=Backoff(base=0.01))
        run.wait(10)
        assert dicts(run) == [e.to_dict() for e in events]
        assert requests == [None, "3"] and run.follow_stats.duplicates_dropped == 1
    finally:
        thread.run(runner.cleanup())
        thread.close()


def test_a_run_that_cannot_be_followed_stops_with_a_clear_error(remote: Remote):
    wb.connect(remote.root, TOKEN)
    run = wb.run("Write a haiku", strategy="react")
    run.wait(30)
    for connection, status in ((Connection(remote.api, "standalone", "Zq9-bad-token"), 401),
                               (client.current(), 404)):
        run_id = run.id if status == 401 else "r_0000000000000000"
        lost = RemoteRun.follow(connection, {"id": run_id, "task": "t", "model": "m", "createdAt": "now"})
        with pytest.raises(wb.UserError) as info:
            lost.wait(10)
        assert lost.done and lost.follow_error is info.value and info.value.status == status
        assert lost.follow_stats.connections == 1  # not retried
        assert "Zq9-bad-token" not in str(info.value)
    with pytest.raises(wb.UserError, match="no run 'r_0000000000000000'"):
        wb.attach("r_0000000000000000")


def test_detach_stops_following_and_attach_follows_again(remote: Remote):
    wb.connect(remote.root, TOKEN)
    run = wb.run("Write a guide", strategy="react", options={"pace": 300})
    while len(run.events) < 5:
        time.sleep(0.01)
    assert run.detach() is True
    with pytest.raises(wb.UserError, match="detach"):
        run.wait(5)
    again = wb.attach(run.id)
    assert again.wait(60).status == "complete" and dicts(again) == remote.log(run.id)


def test_connect_refuses_a_wrong_token_clearly_and_never_shows_it(remote: Remote):
    for url, kind in ((remote.root, None), (remote.api, None), (remote.root, "standalone")):
        with pytest.raises(wb.UserError) as info:
            wb.connect(url, token="not-the-token", kind=kind)
        message = str(info.value)
        assert "refused the credentials (HTTP 401)" in message and "not-the-token" not in message
        assert client.current() is None
    with pytest.raises(wb.UserError, match="refused"):
        wb.connect(remote.root)  # no token at all


def test_connect_to_an_unreachable_server_fails_fast_and_clearly():
    started = time.monotonic()
    with pytest.raises(wb.UserError) as info:
        wb.connect("http://127.0.0.1:9", token=TOKEN)
    assert time.monotonic() - started < 5
    assert "cannot reach the workbench server at http://127.0.0.1:9" in str(info.value) and TOKEN not in str(info.value)


def test_connect_finds_the_url_and_token_in_many_forms(remote: Remote, monkeypatch: pytest.MonkeyPatch):
    assert wb.connect(remote.root + "/", TOKEN).api == remote.api
    assert wb.connect(f"{remote.root}/?token={TOKEN}").api == remote.api
    monkeypatch.setenv("WORKBENCH_URL", remote.root)
    monkeypatch.setenv("WORKBENCH_TOKEN", TOKEN)
    assert wb.connect().api == remote.api
    with pytest.raises(wb.UserError, match="http"):
        wb.connect("ftp://example.org")


def test_a_server_that_is_not_a_workbench_is_a_clear_error():
    app = web.Application()
    thread = LoopThread()
    runner, port = thread.run(start_app(app))
    try:
        with pytest.raises(wb.UserError, match="no workbench server at"):
            wb.connect(f"http://127.0.0.1:{port}", TOKEN)
    finally:
        thread.run(runner.cleanup())
        thread.close()


def test_what_a_server_cannot_run_is_refused_with_the_reason(remote: Remote):
    wb.connect(remote.root, TOKEN)

    @wb.tool
    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    with pytest.raises(wb.UserError, match="'shout' is Python code in this process"):
        wb.run("Shout", tools=[shout])
    with pytest.raises(wb.UserError, match="cannot be set over HTTP"):
        wb.run("Write", options={"workspace": "/etc"})
    with pytest.raises(wb.UserError, match="unknown model"):
        wb.run("Write", model="gpt-4")
    run = wb.run("List the files", tools=["list_files"], strategy="react")
    assert run.wait(30).status == "complete"
    with pytest.raises(wb.UserError, match="needs a server"):
        wb.disconnect()
        wb.runs()


def test_sse_parser_takes_any_split_and_any_line_ending():
    events = sample_run()[:6]
    wire = sse.retry_frame() + sse.KEEPALIVE + b"".join(sse.encode_event(e) for e in events)
    variants = [wire, wire.replace(b"\n", b"\r\n"), wire.replace(b"\n", b"\r"), b"\xef\xbb\xbf" + wire]
    rng = random.Random(7)
    for variant in variants:
        for _ in range(30):
            parser, frames, i = SseParser(), [], 0
            while i < len(variant):
                step = rng.randint(1, 40)
                frames += parser.feed(variant[i:i + step])
                i += step
            frames += parser.feed(b"\n")  # a trailing CR waits to know whether LF follows
            assert [(f.id, f.event, parse_event(f.data).to_dict()) for f in frames] == [
                (str(e.id), e.type, e.to_dict()) for e in events]
            assert parser.retry_ms == 2000
    partial = SseParser().feed(sse.encode_event(events[0])[:-1])
    assert partial == []  # a frame without its blank line is never dispatched


def test_backoff_is_exponential_with_full_jitter():
    backoff = Backoff(base=0.2, cap=10.0, rng=random.Random(3))
    for attempt in range(1, 12):
        samples = [backoff.delay(attempt) for _ in range(200)]
        ceiling = min(10.0, 0.2 * 2 ** (attempt - 1))
        assert all(0 <= s <= ceiling for s in samples) and max(samples) > ceiling * 0.8


# --- finding the Jupyter server of this kernel --------------------------------------------------


def fake_jupyter(token: str, kernels: list[str], base_url: str = "/", workbench: bool = True) -> web.Application:
    """A Jupyter server as far as discovery sees it: sessions and, optionally, the workbench API."""
    seen: list[str] = []

    def authorized(request: web.Request) -> bool:
        seen.append(request.headers.get("Authorization", ""))
        return request.headers.get("Authorization") == f"token {token}"

    async def sessions(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"message": "Forbidden", "reason": None}, status=403)
        return web.json_response([{"id": f"s{i}", "path": f"n{i}.ipynb", "kernel": {"id": k, "name": "python3"}}
                                  for i, k in enumerate(kernels)])

    async def runs(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"message": "Forbidden", "reason": None}, status=403)
        return web.json_response({"runs": []})

    app = web.Application()
    app[SEEN] = seen
    app.router.add_get(f"{base_url}api/sessions", sessions)
    if workbench:
        app.router.add_get(f"{base_url}workbench/api/runs", runs)
    return app


def test_kernel_id_comes_from_the_connection_file_name():
    assert discovery.kernel_id("/run/user/1000/jupyter/runtime/kernel-1b2c-3d4e.json") == "1b2c-3d4e"
    with pytest.raises(wb.UserError, match="kernel-<id>.json"):
        discovery.kernel_id("/tmp/something.json")
    with pytest.raises(wb.UserError, match="not running in a Jupyter kernel"):
        discovery.kernel_id()  # pytest is no kernel


def test_server_info_gives_the_root_with_its_base_url():
    info = {"url": "http://127.0.0.1:8888/user/ada/", "base_url": "/user/ada/", "token": "abc", "pid": 1}
    assert discovery.JupyterServer.from_info(info).root == "http://127.0.0.1:8888/user/ada/"
    info = {"url": "http://localhost:8888/", "base_url": "/", "token": ""}
    server = discovery.JupyterServer.from_info(info)
    assert server.root == "http://localhost:8888/" and "abc" not in repr(server)


async def test_find_server_asks_each_server_for_a_session_of_this_kernel():
    apps = [fake_jupyter("t-other", ["k-1", "k-2"]), fake_jupyter("t-ada", ["k-9", "k-ours"], "/user/ada/"),
            fake_jupyter("t-third", ["k-ours"])]
    started = [await start_app(app) for app in apps]
    try:
        ports = [port for _, port in started]
        stale = discovery.JupyterServer("http://127.0.0.1:9/", "t-stale")  # its process died
        servers = [stale,
                   discovery.JupyterServer(f"http://127.0.0.1:{ports[0]}/", "t-other"),
                   discovery.JupyterServer(f"http://127.0.0.1:{ports[1]}/user/ada/", "t-ada"),
                   discovery.JupyterServer(f"http://127.0.0.1:{ports[2]}/", "wrong-token")]
        found = await discovery.find_server("k-ours", servers)
        assert found is servers[2]
        assert apps[1][SEEN] == ["token t-ada"] and apps[2][SEEN] == ["token wrong-token"]
        assert await discovery.find_server("k-nobody", servers) is None
    finally:
        for runner, _ in started:
            await runner.cleanup()


def test_connect_with_no_arguments_uses_the_kernel_s_jupyter_server(monkeypatch: pytest.MonkeyPatch):
    thread = LoopThread()
    ours = thread.run(start_app(fake_jupyter("t-ada", ["k-ours"], "/user/ada/")))
    bare = thread.run(start_app(fake_jupyter("t-bare", ["k-bare"], workbench=False)))
    servers = [discovery.JupyterServer(f"http://127.0.0.1:{ours[1]}/user/ada/", "t-ada"),
               discovery.JupyterServer(f"http://127.0.0.1:{bare[1]}/", "t-bare")]
    monkeypatch.setattr(discovery, "running_servers", lambda: servers)
    try:
        monkeypatch.setattr(discovery, "kernel_id", lambda: "k-ours")
        # A token for some workbench serve elsewhere is not sent to the Jupyter server found.
        monkeypatch.setenv("WORKBENCH_TOKEN", "t-of-another-server")
        connection = wb.connect()
        assert connection.kind == "jupyter"
        assert connection.api == f"http://127.0.0.1:{ours[1]}/user/ada/workbench/api"
        assert connection.headers() == {"Authorization": "token t-ada"}
        monkeypatch.delenv("WORKBENCH_TOKEN")
        assert wb.runs() == [] and "t-ada" not in repr(connection)

        monkeypatch.setattr(discovery, "kernel_id", lambda: "k-bare")
        with pytest.raises(wb.UserError, match="has no workbench extension"):
            wb.connect()
        monkeypatch.setattr(discovery, "kernel_id", lambda: "k-elsewhere")
        with pytest.raises(wb.UserError, match="none of the 2 running Jupyter servers"):
            wb.connect()
    finally:
        for runner, _ in (ours, bare):
            thread.run(runner.cleanup())
        thread.close()


def test_a_jupyter_url_is_recognised_by_probing(monkeypatch: pytest.MonkeyPatch):
    thread = LoopThread()
    runner, port = thread.run(start_app(fake_jupyter("t-ada", [], "/user/ada/")))
    try:
        root = f"http://127.0.0.1:{port}/user/ada"
        connection = wb.connect(f"{root}/lab?token=t-ada")
        assert connection.kind == "jupyter" and connection.api == root + "/workbench/api"
        assert wb.connect(root + "/workbench/api", "t-ada").kind == "jupyter"
        with pytest.raises(wb.UserError, match=r"refused the credentials \(HTTP 403\)"):
            wb.connect(root, "wrong")
    finally:
        thread.run(runner.cleanup())
        thread.close()


def test_runs_lists_the_newest_or_follows_every_page(remote: Remote, monkeypatch: pytest.MonkeyPatch):
    wb.connect(remote.root, token=TOKEN)
    started = []
    for i in range(5):
        run = wb.run(f"Haiku {i}", strategy="react")
        run.wait(30)
        started.append(run.id)
    newest_first = started[::-1]
    monkeypatch.setattr(client, "RUNS_PAGE", 2)  # five runs: three pages
    assert [s["id"] for s in wb.runs(limit=None)] == newest_first
    assert [s["id"] for s in wb.runs(limit=3)] == newest_first[:3]
    assert [s["id"] for s in wb.runs()] == newest_first
    with pytest.raises(UserError, match="limit must be a positive whole number"):
        wb.runs(limit=0)


def test_the_view_of_a_server_run_names_its_server_and_carries_no_token(remote: Remote):
    """Widget state is saved into the notebook: the browser gets where to follow the run, never a credential."""
    from workbench.notebook.widget import RunView

    wb.connect(remote.root, token=TOKEN)
    run = wb.run("Write a haiku", model="simulated")
    view = RunView(run)
    try:
        state = view.get_state()
        assert (state["server"], state["server_path"]) == ("standalone", "/api")
        assert TOKEN not in json.dumps(state)
        run.wait(30)
    finally:
        view.close()
    wb.disconnect()
    here = RunView(wb.run("Write a haiku", model="simulated"))
    try:
        assert (here.get_state()["server"], here.get_state()["server_path"]) == ("", "")
        here.run.wait(30)
    finally:
        here.close()
