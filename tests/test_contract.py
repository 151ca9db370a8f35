"""The HTTP contract (/work/shared/contract.md, sections 3 to 6), written once, run against both servers.

Every test takes the ``server`` fixture, which is parametrized: ``jupyter`` is a real
jupyter_server ServerApp with the workbench extension (pytest-jupyter), whose identity
provider knows two tokens, one per person; ``standalone`` is ``workbench serve``'s
application with a token table of the same two people. Both listen on 127.0.0.1, and a
test reaches either through the same small client: the API's URL (prefix included), the
headers of "ada", of "bob", of a wrong token or of no credentials at all, and raw sockets
for the exact bytes. What only one server has (Jupyter's XSRF, authorizer, traits and
restart; the CLI, loopback refusal, SIGTERM and CORS of ``workbench serve``) is tested in
``test_server_ext.py`` and ``test_server.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, ClassVar, Iterator, Mapping
from urllib.parse import urlencode

import aiohttp
import pytest

# pytest-jupyter's fixtures (jp_serverapp, jp_server_config, …) for this module only, as in
# test_server_ext.py: a session-wide ``pytest_plugins`` would wrap every other test too.
from browser import async_chromium
from jupyter_server.auth import IdentityProvider
from jupyter_server.auth.identity import User
from jupyter_server.serverapp import ServerApp
from pytest_jupyter.jupyter_server import *
from servers import HttpReply, Reply, frames_of, raw_get, slow_reader, start_server, without_keepalives
from yarl import URL

import workbench as wb
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.handle import Run
from workbench.core.runfile import read_run_file
from workbench.serving import sse
from workbench.serving.service import MAX_BODY_BYTES, Principal

PEOPLE = {"ada": "token-of-ada-0001", "bob": "token-of-bob-0002"}
WRONG = "token-of-nobody-9"
HEARTBEAT = 0.1
SUMMARY_KEYS = {"id", "task", "model", "strategy", "status", "createdAt", "endedAt", "eventCount", "waiting"}
UNKNOWN = "r_0000000000000000"
QUICK = {"task": "Write a haiku about tides", "model": "simulated", "strategy": "react"}


# --- the two servers behind one small client ---------------------------------------------


@dataclass
class Server:
    """One server under test, as a client sees it."""

    kind: str
    port: int
    prefix: str
    """The API's path: ``{base_url}workbench/api`` or ``/api``."""
    scheme: str
    """``token`` (Jupyter) or ``Bearer`` (standalone)."""
    service: Any
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def headers(self, who: str | None = "ada") -> dict[str, str]:
        """The credentials of ``who``: "ada", "bob", "wrong" (a token nobody has) or None (none at all)."""
        if who is None:
            return {}
        return {"Authorization": f"{self.scheme} {PEOPLE.get(who, WRONG)}"}

    async def request(self, method: str, path: str, *, who: str | None = "ada", json_body: Any = None,
                      data: Any = None, headers: Mapping[str, str] | None = None,
                      params: Mapping[str, str] | None = None) -> Reply:
        kwargs: dict[str, Any] = {"json": json_body} if json_body is not None else {"data": data}
        # encoded=True: the path goes out as written (Jupyter's base URL in tests is /a%40b/)
        url = URL(self.url + path + (f"?{urlencode(params)}" if params else ""), encoded=True)
        json_type = {"Content-Type": "application/json"} if method == "POST" else {}  # as the kernel's client sends
        async with self.session.request(method, url, headers={**self.headers(who), **json_type, **(headers or {})},
                                        allow_redirects=False, **kwargs) as r:
            return Reply(r.status, r.headers, await r.read())

    async def start(self, who: str = "ada", **fields: Any) -> dict[str, Any]:
        reply = await self.request("POST", "/runs", who=who, json_body={**QUICK, **fields})
        assert reply.status == 201, reply.body
        return reply.json()

    async def raw_get(self, path: str, *, who: str | None = "ada", headers: Mapping[str, str] | None = None,
                      cut: int | None = None, timeout: float = 20.0) -> HttpReply:
        """A hand-written HTTP/1.1 GET as ``who``; see :func:`servers.raw_get`."""
        return await raw_get(self.port, self.prefix + path, {**self.headers(who), **(headers or {})},
                             cut=cut, timeout=timeout)

    def run(self, run_id: str, who: str = "ada") -> Run:
        """The server's own run object, the truth a client's view is compared with."""
        return self.service.get(Principal(who), run_id)


class TwoPeople(IdentityProvider):
    """Jupyter's side of the two people: each token is one user."""

    users: ClassVar[dict[str, str]] = {token: name for name, token in PEOPLE.items()}

    async def get_user_token(self, handler: Any) -> User | None:
        name = self.users.get(self.get_token(handler) or "")
        return User(username=name) if name else None


@pytest.fixture
async def jp_asyncio_loop():
    """pytest-jupyter drives its server on ``jp_asyncio_loop``: make it the loop the test runs on."""
    return asyncio.get_running_loop()


@pytest.fixture
def jp_server_cleanup() -> None:
    """Replaces pytest-jupyter's autouse cleanup, which would make a ServerApp for the standalone
    tests too; ``jupyter_server`` cleans up the server it started."""


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"workbench": True}, "identity_provider_class": TwoPeople,
                      # gzip is on for the server's answers; an event stream must never be compressed
                      "tornado_settings": {"compress_response": True}},
        "WorkbenchApp": {"store_path": str(tmp_path / "store" / "runs.db"),
                         "workspace_root": str(tmp_path / "workspaces"), "heartbeat_seconds": HEARTBEAT},
    }


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def jupyter_server(jp_serverapp: ServerApp, http_server_client: Any, jp_base_url: str, jp_asyncio_loop: Any,
                   session) -> Iterator[Server]:
    ext = jp_serverapp.web_app.settings["workbench"]

    class Service:  # the extension's service, looked up when used (it goes away at shutdown)
        def get(self, who: Principal, run_id: str) -> Run:
            return ext.service.get(ext.principal(User(who.name)), run_id)

    yield Server("jupyter", http_server_client.get_http_port(), f"{jp_base_url}workbench/api", "token", Service(),
                 session)
    # What pytest-jupyter's jp_server_cleanup does: stop the server (and the extension, which ends
    # live runs and closes the store).
    jp_asyncio_loop.run_until_complete(jp_serverapp._cleanup())
    if hasattr(jp_serverapp, "kernel_manager"):
        jp_serverapp.kernel_manager.context.destroy()
    ServerApp.clear_instance()
    assert ext.service is None


@pytest.fixture
async def standalone_server(tmp_path: Path, session) -> AsyncIterator[Server]:
    served = await start_server(tmp_path, tokens={token: Principal(name) for name, token in PEOPLE.items()},
                                heartbeat=HEARTBEAT)
    yield Server("standalone", served.port, "/api", "Bearer", served.service, session)
    await served.runner.cleanup()


class Replicas(Server):
    """Two ``workbench serve --redis`` replicas and a worker, as one server: each request goes to the
    next replica, so every run is created on one, streamed from the other, controlled from either."""

    def __init__(self, ports: list[int], service: Any, session: aiohttp.ClientSession, worker: Any) -> None:
        # kind: what a client sees of it is `workbench serve`'s application, as the standalone server
        super().__init__("standalone", ports[0], "/api", "Bearer", service, session)
        self.ports = ports
        self.worker = worker
        self._turn = 0

    def _next_port(self) -> int:
        self._turn += 1
        return self.ports[self._turn % len(self.ports)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._next_port()}{self.prefix}"

    async def raw_get(self, path: str, *, who: str | None = "ada", headers: Mapping[str, str] | None = None,
                      cut: int | None = None, timeout: float = 20.0) -> HttpReply:
        return await raw_get(self._next_port(), self.prefix + path, {**self.headers(who), **(headers or {})},
                             cut=cut, timeout=timeout)

    async def start(self, who: str = "ada", **fields: Any) -> dict[str, Any]:
        """Start a run and wait until the worker executes it, so that :meth:`run` is the worker's own."""
        summary = await super().start(who, **fields)
        async with asyncio.timeout(20):
            while summary["id"] not in self.worker._runs and not self.service.get(Principal(who), summary["id"]).done:
                await asyncio.sleep(0.01)
        return summary

    def run(self, run_id: str, who: str = "ada") -> Run:
        """The worker's own run while it executes it (what a test appends there reaches the replicas through
        Redis, as the run's events), else the run as a replica reads it."""
        executing = self.worker._runs.get(run_id)
        return executing if executing is not None else self.service.get(Principal(who), run_id)


@pytest.fixture
async def redis_server(real_redis: Any, tmp_path: Path, session) -> AsyncIterator[Server]:
    from workbench.serving.redis_settings import RedisSettings
    from workbench.serving.worker import Worker

    settings = RedisSettings(url=real_redis.url)
    tokens = {token: Principal(name) for name, token in PEOPLE.items()}
    replicas = [await start_server(tmp_path / f"replica{i}", tokens=tokens, heartbeat=HEARTBEAT, redis=settings)
                for i in (1, 2)]
    worker = Worker(settings, workspace_root=tmp_path / "worker", name="w1")
    stop = asyncio.Event()
    working = asyncio.create_task(worker.run(stop))
    yield Replicas([r.port for r in replicas], replicas[0].service, session, worker)
    for replica in replicas:
        await replica.runner.cleanup()
    stop.set()
    await working


def servers_of(*kinds: str) -> Callable[[pytest.Metafunc], None]:
    """A ``pytest_generate_tests`` hook running each test that takes ``server`` against these servers."""
    def parametrize(metafunc: pytest.Metafunc) -> None:
        if "server" in metafunc.fixturenames:
            metafunc.parametrize("server", kinds, indirect=True)
    return parametrize


# The contract runs against a third set-up too: two replicas and a worker on Redis (`workbench serve
# --redis` twice, `workbench worker`). The suites that import `server` choose their own set-ups.
pytest_generate_tests = all_servers = servers_of("jupyter", "standalone", "redis")
both_servers = servers_of("jupyter", "standalone")


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(f"{request.param}_server")


# --- helpers ---------------------------------------------------------------------------------


def complete_frames(data: bytes) -> list[bytes]:
    """The whole SSE frames in ``data`` (each with its blank line), dropping a cut-off tail."""
    return [p + b"\n\n" for p in data.split(b"\n\n")[:-1]]


def event_frames(data: bytes) -> list[bytes]:
    return [f for f in complete_frames(data) if f.startswith(b"id: ")]


def assert_error(reply: Reply, status: int | tuple[int, ...], error_type: str | None = None,
                 message: str = "") -> dict[str, str]:
    """A refusal in the contract's shape: JSON ``{"error": {"type", "message"}}`` with a message a person can read."""
    statuses = (status,) if isinstance(status, int) else status
    assert reply.status in statuses, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json"), reply.headers
    payload = reply.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"type", "message"}, payload
    assert isinstance(payload["error"]["type"], str) and payload["error"]["message"].strip(), payload
    if error_type is not None:
        assert payload["error"]["type"] == error_type, payload
    assert message in payload["error"]["message"], payload
    return payload["error"]


async def ended(server: Server, run_id: str, who: str = "ada") -> Run:
    run = server.run(run_id, who)
    await asyncio.wait_for(run.wait_async(), 30)
    return run


# --- routes, statuses, summaries ---------------------------------------------------------------


async def test_every_route_answers_with_the_contract_s_status_and_summary(server: Server):
    created = await server.request("POST", "/runs", json_body=QUICK)
    assert created.status == 201 and created.headers["Content-Type"].startswith("application/json")
    first = created.json()
    assert set(first) == SUMMARY_KEYS
    assert re.fullmatch(r"r_[0-9a-f]{16}", first["id"]) and first["status"] == "running" and first["endedAt"] is None
    assert (first["task"], first["model"], first["strategy"]) == (QUICK["task"], "simulated", "react")
    assert created.headers["Location"] == f"{server.prefix}/runs/{first['id']}"

    stream = await server.request("GET", f"/runs/{first['id']}/events")
    assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
    run = await ended(server, first["id"])
    detail = await server.request("GET", f"/runs/{first['id']}")
    assert detail.status == 200
    state = detail.json()
    assert set(state) == SUMMARY_KEYS | {"state"}
    assert state["status"] == "complete" and state["eventCount"] == len(run.events) and state["endedAt"]
    assert state["state"]["status"] == "complete" and state["state"]["result"]

    second = await server.start(task="Plan a picnic", strategy="plan", options={"pace": 50})
    listed = await server.request("GET", "/runs")
    assert listed.status == 200 and set(listed.json()) == {"runs", "next"}
    runs = listed.json()["runs"]
    assert [r["id"] for r in runs] == [second["id"], first["id"]]  # newest first
    assert all(set(r) == SUMMARY_KEYS for r in runs)
    assert [r["status"] for r in runs] == ["running", "complete"] and runs[1]["eventCount"] == len(run.events)

    # Cancel: 202 with the summary while it runs, 409 once it has ended, 404 for an unknown id.
    cancelled = await server.request("POST", f"/runs/{second['id']}/cancel")
    assert cancelled.status == 202 and cancelled.json()["id"] == second["id"] and set(cancelled.json()) == SUMMARY_KEYS
    rest = await server.request("GET", f"/runs/{second['id']}/events")
    assert b"\nevent: execution:cancelled\n" in event_frames(rest.body)[-1]
    assert (await server.request("GET", f"/runs/{second['id']}")).json()["status"] == "cancelled"
    assert_error(await server.request("POST", f"/runs/{second['id']}/cancel"), 409, "already_finished", "already ended")
    assert_error(await server.request("POST", f"/runs/{UNKNOWN}/cancel"), 404, "not_found")
    for path in ("", "/events", "/log"):
        assert_error(await server.request("GET", f"/runs/{UNKNOWN}{path}"), 404, "not_found", "no run")


# --- SSE framing ----------------------------------------------------------------------------------


async def test_sse_bytes_on_the_wire_exactly(server: Server):
    finished = await server.start()
    run = await ended(server, finished["id"])
    response = await server.raw_get(f"/runs/{finished['id']}/events")
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers  # gzip was asked for: never for an event stream
    assert response.ended  # the stream ends after the terminal event
    assert response.body == b"retry: 2000\n\n" + frames_of(list(run.events))
    assert all(sse.encode_event(e).count(b"\ndata: ") == 1 for e in run.events)  # one data line per event

    # Live and idle: keep-alives between whole frames, the end right after the terminal event.
    slow = await server.start(task="Slow", options={"pace": 3})
    reading = asyncio.ensure_future(server.raw_get(f"/runs/{slow['id']}/events"))
    await asyncio.sleep(HEARTBEAT * 3)
    assert (await server.request("POST", f"/runs/{slow['id']}/cancel")).status == 202
    live = await asyncio.wait_for(reading, 10)
    run = await ended(server, slow["id"])
    assert run.events[-1].type == "execution:cancelled" and live.ended
    assert live.body.startswith(b"retry: 2000\n\n") and sse.KEEPALIVE in live.body
    assert without_keepalives(live.body) == b"retry: 2000\n\n" + frames_of(list(run.events))
    assert live.body.endswith(frames_of(list(run.events)[-1:]))
    assert all(f in (b"retry: 2000\n\n", sse.KEEPALIVE) or f.startswith(b"id: ") for f in complete_frames(live.body))


async def test_resume_with_last_event_id_or_after(server: Server):
    finished = await server.start()
    events = list((await ended(server, finished["id"])).events)
    path = f"/runs/{finished['id']}/events"
    for after in (0, 1, 17, len(events) - 1):
        by_query = await server.request("GET", path, params={"after": str(after)})
        by_header = await server.request("GET", path, headers={"Last-Event-ID": str(after)})
        assert by_query.body == by_header.body == b"retry: 2000\n\n" + frames_of(events[after:])
    for after in (len(events), len(events) + 5):  # at or past the terminal event: nothing more, ever
        by_query = await server.request("GET", path, params={"after": str(after)})
        by_header = await server.request("GET", path, headers={"Last-Event-ID": str(after)})
        assert by_query.status == by_header.status == 204 and by_query.body == by_header.body == b""
    both = await server.request("GET", path, params={"after": "3"}, headers={"Last-Event-ID": "5"})
    assert both.body == b"retry: 2000\n\n" + frames_of(events[5:])  # the header wins


# --- the reference profile (section 4) ---------------------------------------------------------

# The contract's table, written out here on its own (not with the server's encoder): each reference
# type and the fields its data has, after executionId and timestamp.
REFERENCE_FIELDS = {
    "execution:started": ("task", "startedAt"),
    "plan:created": ("plan",),
    "phase:start": ("phaseId", "phaseName", "phaseIndex"),
    "thinking": ("thought", "iteration"),
    "tool:start": ("toolName", "params"),
    "tool:complete": ("toolName", "result", "duration"),
    "phase:complete": ("phaseId", "phaseName"),
    "execution:complete": ("result", "duration", "tokensUsed"),
    "execution:error": ("error", "stack"),
}


def reference_frame(envelope: dict[str, Any]) -> bytes | None:
    """What the reference profile must send for one envelope of the full log."""
    type_, data = envelope["type"], dict(envelope["data"])
    if type_ == "execution:cancelled":
        type_, data = "execution:error", {"error": f"The run was cancelled: {data['reason']}", "stack": ""}
    elif type_ == "execution:error":
        data = {"error": data["error"]["message"], "stack": data["stack"] or ""}
    elif type_ == "execution:complete":
        data["tokensUsed"] = data["tokensUsed"]["input"] + data["tokensUsed"]["output"]
    elif type_ == "plan:created":
        data["plan"] = {"goal": data["plan"]["goal"], "phases": [
            {"id": p["id"], "name": p["name"], "description": p["description"]} for p in data["plan"]["phases"]]}
    if type_ not in REFERENCE_FIELDS:
        return None
    fields = {"executionId": envelope["runId"], "timestamp": envelope["ts"],
              **{name: data[name] for name in REFERENCE_FIELDS[type_]}}
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return f"id: {envelope['id']}\nevent: {type_}\ndata: {body}\n\n".encode()


def reference_body(run: Run, after: int = 0) -> bytes:
    frames = [reference_frame(e.to_dict()) for e in list(run.events)[after:]]
    return b"retry: 2000\n\n" + b"".join(f for f in frames if f is not None)


def reference_data(body: bytes) -> list[tuple[int, str, dict[str, Any]]]:
    """(id, event, data) of each frame of a reference-profile body."""
    out = []
    for frame in event_frames(body):
        id_line, event_line, data_line = frame.decode().strip("\n").split("\n")
        out.append((int(id_line[4:]), event_line[7:], json.loads(data_line[6:])))
    return out


async def test_the_reference_profile_of_a_complete_run_exactly(server: Server):
    finished = await server.start(strategy="plan", task="Plan a picnic")
    run = await ended(server, finished["id"])
    reply = await server.raw_get(f"/runs/{finished['id']}/events?profile=reference")
    assert reply.status == 200 and reply.headers["content-type"] == "text/event-stream" and reply.ended
    assert reply.body == reference_body(run)
    frames = reference_data(reply.body)
    assert {t for _, t, _ in frames} == set(REFERENCE_FIELDS) - {"execution:error"}  # all the others, nothing else
    assert [i for i, _, _ in frames] == [e.id for e in run.events if e.type in REFERENCE_FIELDS]  # the full log's ids
    last = frames[-1][2]
    usage = run.events[-1].data.tokens_used
    assert last["tokensUsed"] == usage.input + usage.output > 0 and last["executionId"] == finished["id"]
    assert all(set(d) == {"executionId", "timestamp", *REFERENCE_FIELDS[t]} for _, t, d in frames)
    # Resuming in the profile: by the full log's ids, after an id the profile left out too; 204 at the end.
    skipped = next(e.id for e in run.events if e.type not in REFERENCE_FIELDS)
    resumed = await server.request("GET", f"/runs/{finished['id']}/events", params={"profile": "reference"},
                                   headers={"Last-Event-ID": str(skipped)})
    assert resumed.body == reference_body(run, after=skipped)
    done = await server.request("GET", f"/runs/{finished['id']}/events",
                                params={"profile": "reference", "after": str(len(run.events))})
    assert done.status == 204 and done.body == b""
    assert_error(await server.request("GET", f"/runs/{finished['id']}/events", params={"profile": "fancy"}),
                 400, "invalid_request", "profile")


async def test_the_reference_profile_of_a_cancelled_run_ends_with_an_error_saying_so(server: Server):
    slow = await server.start(task="Slow", options={"pace": 20})
    reading = asyncio.ensure_future(server.raw_get(f"/runs/{slow['id']}/events?profile=reference"))
    await asyncio.sleep(0.3)
    assert (await server.request("POST", f"/runs/{slow['id']}/cancel")).status == 202
    live = await asyncio.wait_for(reading, 10)
    run = await ended(server, slow["id"])
    assert run.events[-1].type == "execution:cancelled" and live.ended
    assert without_keepalives(live.body) == reference_body(run)
    last_id, last_type, last = reference_data(live.body)[-1]
    assert (last_id, last_type) == (run.events[-1].id, "execution:error")
    assert last == {"executionId": slow["id"], "timestamp": run.events[-1].ts,
                    "error": f"The run was cancelled: {run.events[-1].data.reason}", "stack": ""}


async def test_the_reference_profile_of_a_failed_run_has_the_message_and_a_string_stack(server: Server):
    failed = await server.start(options={"maxTokens": 1})
    run = await ended(server, failed["id"])
    assert run.events[-1].type == "execution:error"
    reply = await server.raw_get(f"/runs/{failed['id']}/events?profile=reference")
    assert reply.status == 200 and reply.body == reference_body(run)
    _, last_type, last = reference_data(reply.body)[-1]
    assert last_type == "execution:error" and last["error"] == run.events[-1].data.error.message
    assert "maxTokens" in last["error"] and last["stack"] == ""


async def test_a_client_cut_off_anywhere_resumes_without_gaps_or_duplicates(server: Server):
    async def follow(seed: int) -> tuple[str, list[bytes], int]:
        rng = random.Random(seed)
        run_id = (await server.start(task=f"Resume test {seed}", options={"pace": 250, "seed": seed}))["id"]
        live = server.run(run_id)
        received: list[bytes] = []
        last_id: str | None = None
        connections = 0
        while True:
            cut = rng.choice([rng.randrange(0, 600), rng.randrange(0, 20_000)])
            connections += not live.done
            response = await server.raw_get(f"/runs/{run_id}/events", cut=cut,
                                            headers={"Last-Event-ID": last_id} if last_id is not None else {})
            assert response.status in (0, 200)  # 0: cut before the whole head arrived
            frames = event_frames(response.body)
            received += frames
            if frames:
                last_id = frames[-1].split(b"\n", 1)[0][4:].decode()
            if frames and b"\nevent: execution:complete\n" in frames[-1]:
                return run_id, received, connections
            assert len(received) < 10_000

    for run_id, received, live_connections in await asyncio.gather(follow(1), follow(2)):
        assert b"".join(received) == frames_of(list(server.run(run_id).events)), f"gap or duplicate in {run_id}"
        assert live_connections > 3  # cut many times while the run was going


async def test_a_client_that_stops_reading_is_dropped_and_the_run_goes_on(server: Server, monkeypatch):
    monkeypatch.setattr(sse, "SEND_TIMEOUT", 0.5)
    run_id = (await server.start(task="Very slow", strategy="react", options={"pace": 0.5}))["id"]
    run = server.run(run_id)
    reader, writer = await slow_reader(server.port, f"{server.prefix}/runs/{run_id}/events", server.headers())
    received = await reader.readuntil(b"retry: 2000\n\n")
    # Megabytes of events that the client does not read: a laptop that went to sleep.
    for i in range(2_000):
        run.log.append(ev.TextDeltaData(step_id="flood", delta=f"{i:04d}" + "x" * 4_000))
    await asyncio.sleep(2.0)  # SEND_TIMEOUT, and then some
    try:  # what was in flight, then the end: the server has let the connection go
        async with asyncio.timeout(10):  # (a server that kept the stream would send for ever)
            while chunk := await reader.read(1 << 16):
                received += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.transport.abort()
    reply = HttpReply(received)
    assert reply.status == 200 and not reply.ended, "the stream was dropped, not ended"
    got = event_frames(reply.body)
    assert 0 < len(got) < len(run.events) and b"".join(got) == frames_of(run.events[: len(got)])
    # The run goes on, and the client can come back for the rest from its last id.
    assert not run.done
    resumed = await server.raw_get(f"/runs/{run_id}/events", headers={"Last-Event-ID": str(len(got))}, cut=20_000)
    assert event_frames(resumed.body)[:2] == [frames_of(run.events[len(got) : len(got) + 1]),
                                             frames_of(run.events[len(got) + 1 : len(got) + 2])]
    assert (await server.request("POST", f"/runs/{run_id}/cancel", data=b"")).status == 202


# --- bad input ----------------------------------------------------------------------------------

BAD_BODIES = [
    (b'{"task": ', 400, "invalid_json", "not valid JSON"),
    (b"\xff\xfe\x00garbage", 400, "invalid_json", "not valid JSON"),
    (b'{"task": NaN}', 400, "invalid_json", "NaN"),
    (b"[" * 100_000, 400, "invalid_json", "nested too deeply"),
    (b"", 400, "invalid_request", "JSON object"),
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
    (b'{"task": "' + b"x" * MAX_BODY_BYTES + b'"}', 413, "too_large", "1,000,000"),
]


async def chunks_over_the_limit() -> AsyncIterator[bytes]:
    for _ in range(MAX_BODY_BYTES // 50_000 + 2):
        yield b" " * 50_000


async def test_bad_input_is_a_4xx_json_error_and_the_running_run_goes_on(server: Server):
    going = await server.start(task="Keep going", options={"pace": 400})
    run_id = going["id"]
    for payload, status, error_type, message in BAD_BODIES:
        reply = await server.request("POST", "/runs", data=payload, headers={"Content-Type": "application/json"})
        assert_error(reply, status, error_type, message)
    assert_error(await server.request("POST", "/runs", data=chunks_over_the_limit()), 413, "too_large")
    assert [r["id"] for r in (await server.request("GET", "/runs")).json()["runs"]] == [run_id]  # nothing half-made

    for value in ("abc", "-1", "1.5", " ", "9" * 40, "²", "１２", "١٢"):  # digits to str.isdigit(), not ids
        reply = await server.request("GET", f"/runs/{run_id}/events", headers={"Last-Event-ID": value})
        assert_error(reply, 400, "invalid_request", "Last-Event-ID must be a non-negative event id")
        reply = await server.request("GET", f"/runs/{run_id}/events", params={"after": value})
        assert_error(reply, 400, "invalid_request", "after must be a non-negative event id")

    for method, path in [("GET", f"/runs/{UNKNOWN}"), ("GET", f"/runs/{UNKNOWN}/events"),
                         ("GET", f"/runs/{UNKNOWN}/log"), ("POST", f"/runs/{UNKNOWN}/cancel"),
                         ("GET", "/runs/not-an-id"), ("GET", "/runs/R_" + "0" * 16), ("GET", f"/runs/{run_id}/bogus"),
                         ("GET", "/nope"), ("POST", f"/runs/{run_id}/events/more")]:
        assert_error(await server.request(method, path, data=b"" if method == "POST" else None), 404, "not_found")
    for method, path in [("PUT", "/runs"), ("DELETE", f"/runs/{run_id}"), ("GET", f"/runs/{run_id}/cancel"),
                         ("POST", f"/runs/{run_id}/events")]:
        assert_error(await server.request(method, path, data=b"{}"), 405, "method_not_allowed", method)

    # None of that touched the run that was going.
    stream = await server.request("GET", f"/runs/{run_id}/events")
    events = list((await ended(server, run_id)).events)
    assert events[-1].type == "execution:complete" and contract_violations(events) == []
    assert without_keepalives(stream.body) == b"retry: 2000\n\n" + frames_of(events)


# --- authentication and ownership ----------------------------------------------------------------

ROUTES = [("GET", "/runs"), ("POST", "/runs"), ("GET", "/runs/{id}"), ("POST", "/runs/{id}/cancel"),
          ("GET", "/runs/{id}/events"), ("GET", "/runs/{id}/log"), ("GET", f"/runs/{UNKNOWN}"), ("GET", "/elsewhere")]


async def test_without_credentials_every_route_refuses_and_shows_nothing(server: Server):
    run = await server.start(task="A secret task", options={"pace": 20})
    for method, route in ROUTES:
        for who in (None, "wrong"):
            reply = await server.request(method, route.format(id=run["id"]), who=who,
                                         json_body={"task": "x", "model": "simulated"} if method == "POST" else None)
            error = assert_error(reply, (401, 403), "unauthorized")  # 403 is Jupyter's way; the type is one
            assert "token" in error["message"]  # says what to send
            assert run["id"].encode() not in reply.body and b"secret" not in reply.body
    listed = (await server.request("GET", "/runs")).json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]  # the refused POSTs started nothing
    assert not server.run(run["id"]).done  # nor cancelled anything
    assert (await server.request("POST", f"/runs/{run['id']}/cancel")).status == 202


async def test_an_event_stream_takes_the_token_in_its_url(server: Server):
    """``EventSource`` cannot set headers: ``?token=`` is how a browser page follows a run."""
    run = await server.start()
    events = list((await ended(server, run["id"])).events)
    path = f"/runs/{run['id']}/events"
    reply = await server.request("GET", path, who=None, params={"token": PEOPLE["ada"], "after": "2"})
    assert reply.status == 200 and reply.body == b"retry: 2000\n\n" + frames_of(events[2:])
    refused = await server.request("GET", path, who=None, params={"token": WRONG})
    assert_error(refused, (401, 403), "unauthorized")
    assert run["id"].encode() not in refused.body


EVENT_SOURCE_JS = """
([url, types]) => {
  window.got = []; window.unnamed = 0; window.errors = 0;
  const source = window.source = new EventSource(url);
  source.onmessage = () => { window.unnamed += 1; };  // only frames without an event name: none
  source.onerror = () => { window.errors += 1; };
  for (const type of types) source.addEventListener(type, (e) => window.got.push([e.lastEventId, e.type]));
}
"""


async def test_a_browser_event_source_left_open_after_the_end_asks_once_more_and_gets_204(server: Server):
    """Without the 204 an EventSource reconnects every ``retry`` ms for as long as its page is open."""
    finished = await server.start()
    events = list((await ended(server, finished["id"])).events)
    path = f"{server.url}/runs/{finished['id']}/events"
    asked: list[str] = []
    answers: list[tuple[str | None, int]] = []
    async with async_chromium() as browser:
        page = await browser.new_page()
        page.on("request", lambda r: asked.append(r.url) if r.url.startswith(path) else None)

        async def answered(response: Any) -> None:
            if response.url.startswith(path):
                answers.append((await response.request.header_value("last-event-id"), response.status))

        page.on("response", answered)
        # A page of the server's origin (EventSource is same-origin) outside the API, whose answers
        # Jupyter serves with a CSP of default-src 'none'.
        home = server.prefix.removesuffix("workbench/api").removesuffix("api")
        await page.goto(f"http://127.0.0.1:{server.port}{home}?token={PEOPLE['ada']}")
        await page.evaluate(EVENT_SOURCE_JS, [f"{path}?token={PEOPLE['ada']}", sorted(ev.EVENT_TYPES)])
        await page.wait_for_function("window.source.readyState === EventSource.CLOSED", timeout=10_000)
        await asyncio.sleep(sse.RETRY_MS / 1000 * 2.5)  # well past two more retry periods: no request came
        got, unnamed, state = await page.evaluate("[window.got, window.unnamed, window.source.readyState]")
    assert got == [[str(e.id), e.type] for e in events] and unnamed == 0
    assert state == 2  # CLOSED: the browser gave up reconnecting, as the 204 tells it to
    assert len(asked) == 2 and answers == [(None, 200), (str(events[-1].id), 204)]


def readme_follow_loop() -> str:
    """The README's loop for clients that are not browsers (section "Following a run without a browser")."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index("```python\nimport json, httpx\n")
    return readme[start + len("```python\n") : readme.index("```", start + 10)]


async def test_the_readme_s_loop_follows_a_live_run_to_its_end_without_repeats(server: Server):
    code = readme_follow_loop()
    api_line = 'api, auth = "http://127.0.0.1:8765/api", {"Authorization": f"Bearer {token}"}'
    assert api_line in code
    live = await server.start(task="Followed with httpx", options={"pace": 200})

    def follow(run_id: str, after: int = 0) -> list[tuple[int, str]]:
        printed: list[tuple[int, str]] = []
        names = {"api": server.url, "auth": server.headers(), "run_id": run_id, "print": lambda *a: printed.append(a)}
        exec(code.replace(api_line, "").replace("last, done = 0,", f"last, done = {after},"), names)
        return printed

    printed = await asyncio.to_thread(follow, live["id"])
    events = list((await ended(server, live["id"])).events)
    assert printed == [(e.id, e.type) for e in events] and events[-1].type == "execution:complete"
    assert await asyncio.to_thread(follow, live["id"], len(events)) == []  # a 204: the loop ends at once


async def test_another_user_s_run_is_a_404_exactly_like_an_unknown_id(server: Server):
    ada_run = await server.start("ada", task="Ada's task", options={"pace": 20})
    bob_run = await server.start("bob", task="Bob's task")
    assert [r["id"] for r in (await server.request("GET", "/runs", who="ada")).json()["runs"]] == [ada_run["id"]]
    assert [r["id"] for r in (await server.request("GET", "/runs", who="bob")).json()["runs"]] == [bob_run["id"]]
    for me, theirs in (("bob", ada_run), ("ada", bob_run)):
        for method, route in ROUTES[2:6]:
            reply = await server.request(method, route.format(id=theirs["id"]), who=me)
            unknown = await server.request(method, route.format(id=UNKNOWN), who=me)
            assert_error(reply, 404, "not_found")
            assert reply.body == unknown.body.replace(UNKNOWN.encode(), theirs["id"].encode())
            assert theirs["task"].encode() not in reply.body
    # Each one's own routes work, and their workspaces are apart.
    assert (await server.request("GET", f"/runs/{bob_run['id']}/log", who="bob")).status == 200
    assert (await server.request("POST", f"/runs/{ada_run['id']}/cancel", who="ada")).status == 202
    assert server.run(ada_run["id"], "ada").workspace.parent.name == "ada"
    assert server.run(bob_run["id"], "bob").workspace.parent.name == "bob"


# --- run files -------------------------------------------------------------------------------------


async def test_the_run_file_from_log(server: Server, tmp_path: Path):
    created = await server.start(task="Plan a picnic for twelve people", strategy="plan")
    run = await ended(server, created["id"])
    reply = await server.request("GET", f"/runs/{created['id']}/log")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/x-ndjson"
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{created["id"]}.jsonl"'
    first = json.loads(reply.body.splitlines()[0])
    assert first["format"] == "workbench-run" and first["version"] == 2
    assert (first["parentId"], first["forkedAt"]) == (None, None)
    assert (first["runId"], first["task"], first["model"], first["createdAt"]) == (
        created["id"], created["task"], created["model"], created["createdAt"])

    path = tmp_path / f"{created['id']}.jsonl"
    path.write_bytes(reply.body)
    header, events = read_run_file(path)
    events = list(events)
    assert header.run_id == created["id"] and [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.to_dict() for e in events] == [e.to_dict() for e in run.events] and contract_violations(events) == []
    stream = await server.request("GET", f"/runs/{created['id']}/events")
    assert stream.body == b"retry: 2000\n\n" + frames_of(events)  # the stream and the file are one log
    detail = (await server.request("GET", f"/runs/{created['id']}")).json()
    assert wb.load(path).state.to_dict() == detail["state"]


async def test_the_run_list_comes_in_pages_newest_first(server: Server):
    started = []
    for i in range(5):  # one after another: more than the per-user limit of runs going at once
        started.append(await server.start(task=f"Haiku {i}"))
        await ended(server, started[-1]["id"])
    bob_run = await server.start("bob", task="Bob's task")
    pages, before = [], None
    while True:
        reply = await server.request("GET", "/runs", params={"limit": "2", **({"before": before} if before else {})})
        assert reply.status == 200 and set(reply.json()) == {"runs", "next"}
        pages.append([r["id"] for r in reply.json()["runs"]])
        before = reply.json()["next"]
        if before is None:
            break
    newest_first = [r["id"] for r in reversed(started)]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
    whole = (await server.request("GET", "/runs")).json()  # the default page holds them all
    assert [r["id"] for r in whole["runs"]] == newest_first and whole["next"] is None
    for bad in ("0", "1001", "two", "-1", "1e3"):
        assert_error(await server.request("GET", "/runs", params={"limit": bad}), 400, "invalid_request", "limit must be")
    # A cursor that is not one of the caller's runs (unknown, or someone else's) is refused the same way.
    for cursor in (UNKNOWN, bob_run["id"]):
        reply = await server.request("GET", "/runs", params={"before": cursor})
        assert_error(reply, 400, "invalid_request", "before must be the id of a run in your list")
        assert b"Bob" not in reply.body
