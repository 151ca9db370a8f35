"""A person's hand on a run over HTTP (contract v2, section 3): pause, resume, tool decisions and
messages, on both servers, in workshop mode, and through the kernel client (``wb.connect``).

One script of controls drives a run with ``options={"approve": ["write_file"], "breakpoints":
["model"]}``: in this process through ``Run``'s methods, on each server through the routes
alone, and on a server through ``RemoteRun``. The three logs must obey the contract and have the
same shape; every refusal is the contract's JSON error with the status it names.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest

# The two servers behind one client, and pytest-jupyter's fixtures, as test_contract.py has them.
from pytest_jupyter.jupyter_server import *
from servers import Served, start_server
from test_client import Remote
from test_contract import (
    all_servers as pytest_generate_tests,
    redis_server,
    UNKNOWN,
    Server,
    assert_error,
    jp_asyncio_loop,
    jp_server_cleanup,
    jp_server_config,
    jupyter_server,
    server,
    session,
    standalone_server,
)
from test_orchestrator import shape
from test_widget import capture  # noqa: F401 - a fixture
from test_widget_controls import ask
from test_workshop_server import ADA, INSTRUCTOR, OTHER_INSTRUCTOR, workshop_file

import workbench as wb
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.events import parse_event
from workbench.core.log import RunLog
from workbench.errors import NotWaiting, ServerError, UnknownToolCall, UserError
from workbench.notebook.widget import RunView
from workbench.remote.follow import Backoff, follow_events
from workbench.remote.remote_run import RemoteRun
from workbench.serving.service import MAX_BODY_BYTES
from workbench.serving.tokens import OWNER
from workbench.serving.workshop import load_workshop

__all__ = ["jp_asyncio_loop", "jp_server_cleanup", "jp_server_config", "jupyter_server", "server", "session",
           "standalone_server", "redis_server"]  # fixtures, imported for pytest to find

TASK = "Write a haiku"
OPTIONS = {"approve": ["write_file"], "breakpoints": ["model"]}
INTERACTIVE = {"task": TASK, "model": "simulated", "strategy": "plan", "options": OPTIONS}
MESSAGE = "Keep it to three lines"
EDIT = {"path": "notes/edited.md", "content": "Edited by a person."}


# --- one script of controls, three ways to send it ------------------------------------------


@dataclass
class Look:
    """Where a run is, as the one driving it sees it."""

    status: str
    waiting: list[str]
    events: int
    paused: dict[str, Any] | None


class Controls(Protocol):
    async def look(self) -> Look: ...

    async def send(self, control: str, body: dict[str, Any] | None = None, tool_use_id: str = "") -> int:
        """Send a control (``pause``, ``resume``, ``decision``, ``messages``); the event count after it."""


class LocalControls:
    """A run of this process, through ``Run``'s methods."""

    def __init__(self, run: wb.Run) -> None:
        self.run = run

    async def look(self) -> Look:
        state = self.run.state
        paused = state.to_dict()["paused"]
        return Look(state.status, list(state.waiting), len(self.run.events), paused)

    async def send(self, control: str, body: dict[str, Any] | None = None, tool_use_id: str = "") -> int:
        return await asyncio.to_thread(_control_run, self.run, control, body or {}, tool_use_id)


CAUSED = {"resume": "execution:resumed", "decision": "tool:decision", "messages": "user:message"}
"""The event each control causes at once (a pause shows only at the next boundary)."""


def _control_run(run: wb.Run, control: str, body: dict[str, Any], tool_use_id: str) -> int:
    """A control through ``run``'s method; the id of the event it caused (the run may be past it already)."""
    before = len(run.events)
    _call_run(run, control, body, tool_use_id)
    if control == "pause":
        return before
    # Back from a control, the view has the event it caused already (a RemoteRun's too, from its stream).
    return next(e.id for e in run.events[before:] if e.type == CAUSED[control])


def _call_run(run: wb.Run, control: str, body: dict[str, Any], tool_use_id: str) -> None:
    if control == "pause":
        run.pause()
    elif control == "resume":
        run.resume(step=body.get("step", False))
    elif control == "decision":
        run.decide(tool_use_id, body["decision"], body.get("params"), body.get("note"))
    else:
        run.say(body["text"])


class RouteControls:
    """A run on a server, through the contract's routes only.

    Controls are sent at waits, when the run does nothing: the event a control causes is the
    next one after what the last look saw (and a message's resume the one after that)."""

    def __init__(self, server: Server, run_id: str, who: str = "ada") -> None:
        self.server, self.run_id, self.who = server, run_id, who
        self.known = 0

    async def look(self) -> Look:
        reply = await self.server.request("GET", f"/runs/{self.run_id}", who=self.who)
        assert reply.status == 200, reply.body
        detail = reply.json()
        state = detail["state"]
        assert (detail["status"], detail["waiting"]) == (state["status"].replace("pending", "running"), state["waiting"])
        if detail["status"] == "paused":  # while it waits nothing changes: the list says the same
            listed = (await self.server.request("GET", "/runs", who=self.who)).json()["runs"]
            mine = next(s for s in listed if s["id"] == self.run_id)
            assert (mine["status"], mine["waiting"], mine["eventCount"]) == (
                "paused", detail["waiting"], detail["eventCount"])
        self.known = detail["eventCount"]
        return Look(detail["status"], detail["waiting"], detail["eventCount"], state["paused"])

    async def send(self, control: str, body: dict[str, Any] | None = None, tool_use_id: str = "") -> int:
        path = f"/tools/{tool_use_id}/decision" if control == "decision" else f"/{control}"
        reply = await self.server.request("POST", f"/runs/{self.run_id}{path}", who=self.who, json_body=body)
        assert reply.status == 202, reply.body
        summary = reply.json()
        if control != "pause":
            self.known += 1
        # The answer shows what the control did: its event is in the count, the call waits no more.
        assert summary["eventCount"] >= self.known and tool_use_id not in summary["waiting"]
        if control in ("resume", "decision") and summary["eventCount"] == self.known:
            assert summary["status"] == "running"
        return self.known


class ClientControls:
    """A run on a server, through ``wb.connect``'s ``RemoteRun``: what it knows comes from the stream."""

    def __init__(self, run: RemoteRun) -> None:
        self.run = run

    async def look(self) -> Look:
        return await LocalControls(self.run).look()

    async def send(self, control: str, body: dict[str, Any] | None = None, tool_use_id: str = "") -> int:
        caused = await asyncio.to_thread(_control_run, self.run, control, body or {}, tool_use_id)
        if control == "decision":  # the stream has brought the decision already: the call waits no more
            assert tool_use_id not in self.run.waiting
        return caused


async def next_wait(controls: Controls, after: int, timeout: float = 15) -> Look:
    """The run's next wait (or its end): paused, and past event ``after``, the last control's."""
    deadline = time.monotonic() + timeout
    while True:
        look = await controls.look()
        if look.events > after and look.status not in ("pending", "running"):
            return look
        assert time.monotonic() < deadline, f"no wait after event {after}; the run is {look.status}"
        await asyncio.sleep(0.01)


async def drive(controls: Controls) -> list[str]:
    """The script: a message and a step at the first pause, resume at every other; approve the
    first call, pause-then-edit the second, deny the third, approve any later. What it saw, in order."""
    seen: list[str] = []
    mark, decided = 0, 0
    while True:
        look = await next_wait(controls, mark)
        if look.status != "paused":
            return [*seen, look.status]
        assert look.waiting == [] or look.paused is None  # never both, with these options
        if look.waiting:
            decided += 1
            seen.append(f"waiting #{decided}")
            call = look.waiting[0]
            if decided == 2:
                await controls.send("pause")  # while it waits on the decision: it holds at the next boundary
                body: dict[str, Any] = {"decision": "edit", "params": EDIT, "note": "a file of its own"}
            elif decided == 3:
                body = {"decision": "deny", "note": "no more files"}
            else:
                body = {"decision": "approve"}
            mark = await controls.send("decision", body, call)
        else:
            assert look.paused is not None
            seen.append(f"paused {look.paused['reason']} before {look.paused['before']}")
            if len(seen) == 1:
                await controls.send("messages", {"text": MESSAGE})
                mark = await controls.send("resume", {"step": True})
            else:
                mark = await controls.send("resume")


async def local_reference() -> tuple[list[str], list[ev.Event]]:
    """The script on a run of this process: what it saw and its events."""
    run = wb.run(TASK, model="simulated", options=OPTIONS)
    seen = await drive(LocalControls(run))
    await asyncio.wait_for(run.wait_async(), 30)
    return seen, list(run.events)


def check_log(events: list[ev.Event], seen: list[str], by: str | None) -> None:
    """What the script leaves in a log, wherever it ran."""
    assert contract_violations(events) == []
    decisions = [e.data for e in events if isinstance(e.data, ev.ToolDecisionData)]
    assert [(d.decision, d.params, d.note, d.by) for d in decisions] == [
        ("approve", None, None, by), ("edit", EDIT, "a file of its own", by), ("deny", None, "no more files", by),
        *[("approve", None, None, by)] * (len(decisions) - 3)]
    messages = [e.data for e in events if isinstance(e.data, ev.UserMessageData)]
    assert [(m.text, m.by) for m in messages] == [(MESSAGE, by)]
    resumed = [e.data for e in events if isinstance(e.data, ev.ExecutionResumedData)]
    assert [r.step for r in resumed][:2] == [True, False] and {r.by for r in resumed} == {by}
    assert seen[:3] == ["paused breakpoint before model", "paused user before model", "paused breakpoint before model"]
    assert seen[-1] == "complete" and "waiting #3" in seen
    edited = seen.index("waiting #2")
    assert seen[edited + 1] == "paused user before model"  # the pause asked for while it waited


async def log_of(server: Server, run_id: str, who: str = "ada") -> list[ev.Event]:
    reply = await server.request("GET", f"/runs/{run_id}/log", who=who)
    assert reply.status == 200
    return [parse_event(line) for line in reply.body.decode().splitlines()[1:]]


# --- both servers ---------------------------------------------------------------------------


async def test_a_run_driven_through_the_routes_alone_is_the_run_driven_here(server: Server):
    local_seen, local_events = await local_reference()
    check_log(local_events, local_seen, None)

    created = await server.start(**INTERACTIVE)
    assert created["waiting"] == [] and created["status"] in ("pending", "running", "paused")
    seen = await drive(RouteControls(server, created["id"]))
    events = await log_of(server, created["id"])
    check_log(events, seen, "ada")
    assert seen == local_seen
    assert shape(events) == shape(local_events)
    assert [e.type for e in events if not e.type.endswith(":delta")] == [
        e.type for e in local_events if not e.type.endswith(":delta")]
    detail = (await server.request("GET", f"/runs/{created['id']}")).json()
    assert (detail["status"], detail["waiting"], detail["eventCount"]) == ("complete", [], len(events))
    call = next(s for p in detail["state"]["phases"] for s in p["steps"] if s.get("decision") == "edit")
    assert (call["decidedParams"], call["result"]) == (EDIT, "Wrote 19 bytes to notes/edited.md")


async def wait_for_decision(server: Server, run_id: str, mark: int = 0) -> Look:
    """Resume the run through its breakpoints until a tool call waits for a decision."""
    controls = RouteControls(server, run_id)
    while True:
        look = await next_wait(controls, mark)
        assert look.status == "paused"
        if look.waiting:
            return look
        mark = await controls.send("resume")


async def test_every_control_that_does_not_fit_is_a_4xx_in_the_contracts_shape(server: Server):
    async def post(path: str, body: Any = None, *, data: bytes | None = None, who: str | None = "ada") -> Any:
        return await server.request("POST", path, json_body=body, data=data, who=who)

    for route in ("pause", "resume", "tools/toolu_x/decision", "messages"):
        assert_error(await post(f"/runs/{UNKNOWN}/{route}", {"text": "hi", "decision": "approve"}), 404, "not_found")
    run_id = (await server.start(**INTERACTIVE))["id"]
    run = f"/runs/{run_id}"
    await next_wait(RouteControls(server, run_id), 0)  # paused before its first model call

    assert_error(await post(f"{run}/tools/toolu_nope/decision", {"decision": "approve"}), 404, "unknown_tool_call",
                 "no tool call 'toolu_nope'")
    assert_error(await post(f"{run}/resume", {"step": "yes"}), 400, "invalid_request", "step must be true or false")
    assert_error(await post(f"{run}/resume", {"stop": True}), 400, "invalid_request",
                 "unknown fields ['stop'] in a resume; use step")
    assert_error(await post(f"{run}/resume", [True]), 400, "invalid_request", 'such as {"step": true}')
    assert_error(await post(f"{run}/resume", data=b'{"step": tru'), 400, "invalid_json", "not valid JSON")
    assert_error(await post(f"{run}/pause", {"now": True}), 400, "invalid_request", "send no body, or {}")
    for body, words in [(None, 'such as {"text": "…"}'), ({}, "non-empty string"), ({"text": "   "}, "non-empty string"),
                        ({"text": 7}, "non-empty string"), ({"text": "hi", "to": "me"}, "unknown fields ['to']"),
                        ({"text": "x" * 20_001}, "the limit is 20,000")]:
        assert_error(await post(f"{run}/messages", body), 400, "invalid_request", words)
    assert_error(await post(f"{run}/messages", data=b"NaN"), 400, "invalid_json")
    assert_error(await post(f"{run}/messages", {"text": "x" * MAX_BODY_BYTES}), 413, "too_large", "1,000,000")
    assert (await post(f"{run}/pause", data=b"{}")).status == 202  # an empty object is no body
    waiting = await wait_for_decision(server, run_id)
    call = waiting.waiting[0]
    decision = f"{run}/tools/{call}/decision"

    assert_error(await post(f"{run}/resume"), 409, "not_waiting", "not paused")
    for body, words in [(None, 'such as {"decision": "edit"'), ({"params": {}}, "the body needs a decision"),
                        ({"decision": "maybe"}, "decision must be one of approve, edit, deny"),
                        ({"decision": "edit"}, "an edit needs params"),
                        ({"decision": "edit", "params": {"path": "x.md"}},
                         "do not fit the schema of write_file: params: 'content' is a required property"),
                        ({"decision": "approve", "params": EDIT}, "params go with an edit only"),
                        ({"decision": "deny", "note": 3}, "note must be a string"),
                        ({"decision": "approve", "why": "x"}, "unknown fields ['why'] in a decision; use decision, params, note")]:
        assert_error(await post(decision, body), 400, "invalid_request", words)
    assert (await RouteControls(server, run_id).look()).waiting == [call]  # still waiting after every refusal
    assert (await post(decision, {"decision": "approve"})).status == 202
    assert_error(await post(decision, {"decision": "approve"}), 409, "not_waiting",
                 f"tool call {call} (write_file) is not waiting for a decision")

    assert (await post(f"{run}/cancel")).status == 202
    await asyncio.wait_for(server.run(run_id).wait_async(), 10)
    for route, body in [("pause", None), ("resume", None), (f"tools/{call}/decision", {"decision": "approve"}),
                        ("messages", {"text": "too late"})]:
        assert_error(await post(f"{run}/{route}", body), 409, "already_finished", "has already ended (cancelled)")
    summary = (await server.request("GET", run)).json()
    assert (summary["status"], summary["waiting"]) == ("cancelled", [])


async def test_the_control_routes_are_the_owners_alone(server: Server):
    run_id = (await server.start(**INTERACTIVE))["id"]
    routes = [("pause", None), ("resume", None), ("tools/toolu_x/decision", {"decision": "approve"}),
              ("messages", {"text": "hi"})]
    for route, body in routes:
        for who in (None, "wrong"):
            reply = await server.request("POST", f"/runs/{run_id}/{route}", who=who, json_body=body)
            assert_error(reply, 401 if server.kind == "standalone" else 403, "unauthorized")
            assert run_id not in reply.body.decode()
        # another user's run is an unknown one
        assert_error(await server.request("POST", f"/runs/{run_id}/{route}", who="bob", json_body=body), 404,
                     "not_found")
    look = await RouteControls(server, run_id).look()
    deadline = time.monotonic() + 15
    while look.status != "paused":  # the breakpoint before the first model call: stored in a moment
        assert time.monotonic() < deadline, look
        await asyncio.sleep(0.02)
        look = await RouteControls(server, run_id).look()
    assert look.events == 2  # execution:started, execution:paused: none of the refused requests did anything
    assert (await server.request("POST", f"/runs/{run_id}/cancel")).status == 202


async def test_the_interactive_options_are_allowed_over_http_and_checked(server: Server):
    started = await server.start(task=TASK, options={"approve": "all", "breakpoints": ["tool", {"tool": "read_file"}]})
    look = await next_wait(RouteControls(server, started["id"]), 0)
    assert look.paused is not None and look.paused["before"] == "tool"  # react's first call, list_files
    assert (await server.request("POST", f"/runs/{started['id']}/cancel")).status == 202
    for options, words in [({"breakpoints": ["phase"]}, "breakpoints"), ({"approve": ["send_email"]}, "send_email"),
                           ({"breakpoints": [{"tool": "nope"}]}, "options name tools this run does not have: nope"),
                           ({"approve": "some"}, "approve")]:
        reply = await server.request("POST", "/runs", json_body={**INTERACTIVE, "options": options})
        assert_error(reply, 400, "invalid_request", words)


async def test_jupyter_asks_cookie_clients_for_xsrf_on_the_control_routes(jupyter_server: Server):
    server = jupyter_server
    run_id = (await server.start(**INTERACTIVE))["id"]
    login = await server.request("GET", "/runs", who=None, params={"token": "token-of-ada-0001"})
    cookie = "; ".join(c.split(";", 1)[0] for c in login.headers.getall("Set-Cookie", []))
    assert login.status == 200 and cookie, "a ?token= login sets Jupyter's login cookie"
    xsrf = {"Cookie": cookie + "; _xsrf=abcdef0123456789", "X-XSRFToken": "abcdef0123456789"}
    for route, body in [("messages", {"text": "hi"}), ("pause", None), ("resume", None)]:
        refused = await server.request("POST", f"/runs/{run_id}/{route}", who=None, json_body=body,
                                       headers={"Cookie": cookie})
        assert_error(refused, 403, "forbidden", "_xsrf")
        accepted = await server.request("POST", f"/runs/{run_id}/{route}", who=None, json_body=body, headers=xsrf)
        assert accepted.status == 202, accepted.body
    refused = await server.request("POST", f"/runs/{run_id}/tools/toolu_x/decision", who=None,
                                   json_body={"decision": "approve"}, headers={"Cookie": cookie})
    assert_error(refused, 403, "forbidden", "_xsrf")
    assert (await server.request("POST", f"/runs/{run_id}/cancel")).status == 202


# --- workshop mode ----------------------------------------------------------------------------


@pytest.fixture
async def workshop(tmp_path: Path):
    served = await start_server(tmp_path, authenticate=load_workshop(workshop_file(tmp_path)).principal_for,
                                heartbeat=0.2)
    yield served
    await served.runner.cleanup()


async def test_instructors_control_participants_watch_the_waiting_and_the_decision(workshop: Served):
    async with aiohttp.ClientSession() as http:
        async def call(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with http.request(method, workshop.api + path, headers=headers, json=body) as r:
                return r.status, await r.json(content_type=None) if r.content_type == "application/json" else None

        status, created = await call("POST", "/runs", INSTRUCTOR, {"task": TASK, "model": "simulated",
                                                                   "strategy": "react",
                                                                   "options": {"approve": ["write_file"]}})
        assert status == 201
        run_id = created["id"]
        # Two views of the run, the instructor's and a participant's, from its first event.
        logs = {token: RunLog(run_id) for token in (INSTRUCTOR, ADA)}
        errors: list[Exception] = []
        followers = [asyncio.ensure_future(follow_events(f"{workshop.api}/runs/{run_id}/events", log,
                                                         headers={"Authorization": f"Bearer {token}"},
                                                         on_fatal=errors.append, backoff=Backoff(base=0.05)))
                     for token, log in logs.items()]
        deadline = time.monotonic() + 15
        while not all(any(e.type == "tool:approval" for e in log.events) for log in logs.values()):
            assert time.monotonic() < deadline, "no tool:approval on both streams"
            await asyncio.sleep(0.01)
        status, seen = await call("GET", f"/runs/{run_id}", ADA)
        call_id = seen["waiting"][0]
        assert status == 200 and (seen["status"], seen["owner"]) == ("paused", "ines")
        assert seen["state"]["now"] == "waiting for your decision on write_file"
        status, listed = await call("GET", "/runs", ADA)
        assert [(r["id"], r["status"], r["waiting"]) for r in listed["runs"]] == [(run_id, "paused", [call_id])]

        for route, body in [("pause", None), ("resume", None), (f"tools/{call_id}/decision", {"decision": "approve"}),
                            ("messages", {"text": "hi"})]:
            status, refused = await call("POST", f"/runs/{run_id}/{route}", ADA, body)
            assert status == 403 and refused["error"]["type"] == "forbidden"
            assert "only ines, who started this run, can" in refused["error"]["message"]
            status, _ = await call("POST", f"/runs/{run_id}/{route}", ADA, [1, 2])  # whatever the body
            assert status == 403
            status, refused = await call("POST", f"/runs/{run_id}/{route}", OTHER_INSTRUCTOR, body)
            assert status == 404  # another instructor's run is not theirs to see
        assert (await call("GET", f"/runs/{run_id}", ADA))[1]["waiting"] == [call_id]  # nothing changed

        status, _ = await call("POST", f"/runs/{run_id}/tools/{call_id}/decision", INSTRUCTOR,
                               {"decision": "deny", "note": "not now"})
        decided = time.monotonic()
        assert status == 202
        while not all(any(e.type == "tool:decision" for e in log.events) for log in logs.values()):
            assert time.monotonic() - decided < 1.0, "a view did not get the decision at once"
            await asyncio.sleep(0.005)
        for log in logs.values():
            decision = next(e.data for e in log.events if isinstance(e.data, ev.ToolDecisionData))
            assert (decision.tool_use_id, decision.decision, decision.note, decision.by) == (
                call_id, "deny", "not now", "ines")
        await asyncio.wait_for(asyncio.gather(*followers), 30)
        assert errors == []
        instructor, participant = (list(log.events) for log in logs.values())
        assert [e.to_dict() for e in instructor] == [e.to_dict() for e in participant]
        assert contract_violations(instructor) == [] and instructor[-1].type == "execution:complete"
        status, detail = await call("GET", f"/runs/{run_id}", ADA)
        assert (detail["status"], detail["waiting"]) == ("complete", [])
        steps = [s for s in detail["state"]["steps"] if s["kind"] == "tool"]  # a react run has no phases
        assert [(s["toolName"], s["status"]) for s in steps][:2] == [("list_files", "complete"), ("write_file", "denied")]


# --- a restart ----------------------------------------------------------------------------------


async def test_a_paused_run_ends_interrupted_when_the_server_stops_and_stays_so(tmp_path: Path):
    token = "restart-t0ken"
    async with aiohttp.ClientSession() as http:
        first = await start_server(tmp_path, token=token)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(first.api + "/runs", json=INTERACTIVE, headers=headers) as r:
            run_id = (await r.json())["id"]
        run = first.service.get(OWNER, run_id)
        deadline = time.monotonic() + 10
        while run.status != "paused":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await first.runner.cleanup()  # the server stops while the run waits
        second = await start_server(tmp_path, token=token)
        try:
            async with http.get(f"{second.api}/runs", headers=headers) as r:  # from the store's rows
                assert [(s["status"], s["waiting"]) for s in (await r.json())["runs"]] == [("interrupted", [])]
            async with http.get(f"{second.api}/runs/{run_id}", headers=headers) as r:  # from its events
                detail = await r.json()
            assert (detail["status"], detail["waiting"]) == ("interrupted", [])
            assert detail["state"]["paused"] is None and detail["state"]["now"] == "interrupted"
            async with http.post(f"{second.api}/runs/{run_id}/resume", headers=headers, json={}) as r:
                assert r.status == 409 and (await r.json())["error"]["type"] == "already_finished"
        finally:
            await second.runner.cleanup()


# --- the kernel client ----------------------------------------------------------------------------


@pytest.fixture
def remote(tmp_path: Path):
    server = Remote(tmp_path)
    yield server
    server.close()
    wb.disconnect()


def test_wb_connect_drives_a_run_on_the_server_as_a_local_one(remote: Remote):
    local_seen, local_events = asyncio.run(local_reference())
    wb.connect(remote.root, token=remote.token)
    run = wb.run(TASK, model="simulated", options=OPTIONS)
    assert isinstance(run, RemoteRun)
    seen = asyncio.run(drive(ClientControls(run)))
    assert run.wait(30).status == "complete"
    events = list(run.events)
    assert [e.to_dict() for e in events] == remote.log(run.id)
    check_log(events, seen, OWNER.name)
    assert seen == local_seen and shape(events) == shape(local_events)


def test_a_remote_runs_controls_raise_what_a_local_runs_do(remote: Remote):
    wb.connect(remote.root, token=remote.token)
    run = wb.run(TASK, model="simulated", strategy="react", options={"approve": ["write_file"]})
    deadline = time.monotonic() + 15
    while not run.waiting:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    call = run.waiting[0]
    assert run.status == "paused" and run.state.now == "waiting for your decision on write_file"
    with pytest.raises(NotWaiting, match="not paused") as refused:
        run.resume()
    assert isinstance(refused.value, ServerError) and refused.value.status == 409
    with pytest.raises(UnknownToolCall, match="no tool call 'toolu_nope'"):
        run.decide("toolu_nope", "approve")
    with pytest.raises(UserError, match="'content' is a required property") as refused:
        run.decide(call, "edit", {"path": "x.md"})
    assert isinstance(refused.value, ServerError) and refused.value.status == 400
    with pytest.raises(UserError, match="non-empty string"):
        run.say("  ")
    with pytest.raises(UserError, match="JSON values only"):
        run.decide(call, "edit", {"path": "x.md", "content": object()})  # type: ignore[dict-item]
    assert run.waiting == [call]
    run.pause()  # it holds at the boundary after the call
    run.decide(call, "approve")
    assert run.waiting == [] and run.state.tool_calls[-1].decision == "approve"  # at once, from the stream
    deadline = time.monotonic() + 15
    while run.status != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.say("Thanks")
    assert run.events[-1].type == "user:message" and run.events[-1].data.text == "Thanks"
    run.step()
    run.cancel()
    state = run.wait(15)
    assert state.status == "cancelled"
    with pytest.raises(NotWaiting, match="has already ended"):
        run.pause()
    assert contract_violations(list(run.events)) == []


def test_the_view_of_a_run_on_the_server_takes_the_controls(remote: Remote, capture: Any):
    """A notebook view of a ``wb.connect`` run has the controls, and they go over the routes."""

    wb.connect(remote.root, token=remote.token)
    run = wb.run(TASK, model="simulated", strategy="react", options={"approve": ["write_file"]})
    assert isinstance(run, RemoteRun) and run.takes_controls
    view = RunView(run)
    sent = capture(view)
    assert view.controls is True
    deadline = time.monotonic() + 15
    while not run.waiting:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    refused = ask(view, sent, {"kind": "decide", "toolUseId": run.waiting[0], "decision": "edit", "params": {"path": "x"}})
    assert refused["ok"] is False and "'content' is a required property" in refused["error"]
    call = run.waiting[0]
    answer = ask(view, sent, {"kind": "decide", "toolUseId": call, "decision": "approve"})
    assert answer == {"kind": "control", "requestId": answer["requestId"], "ok": True, "error": None}
    decided = run.state.steps[call]
    assert getattr(decided, "decision", None) == "approve"  # back from the control, the view's run has it
    run.cancel()
    assert run.wait(30).status == "cancelled" and not run.takes_controls
    decision = next(e for e in remote.log(run.id) if e["type"] == "tool:decision")
    assert decision["data"]["decision"] == "approve" and decision["data"]["by"] == OWNER.name
