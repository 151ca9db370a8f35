"""``POST /runs/{id}/fork`` (contract sections 3 and 7) on both servers, in workshop mode, after a
restart, and through the kernel client (``wb.connect``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pytest_jupyter.jupyter_server import *
from servers import Served, start_server
from test_client import Remote
from test_contract import (
    all_servers as pytest_generate_tests,
    redis_server,
    QUICK,
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
from test_workshop_server import ADA, INSTRUCTOR, PARTICIPANTS, workshop_file

import workbench as wb
from workbench.core.contract import contract_violations
from workbench.core.events import parse_event
from workbench.remote.remote_run import RemoteRun
from workbench.serving.workshop import load_workshop

__all__ = ["jp_asyncio_loop", "jp_server_cleanup", "jp_server_config", "jupyter_server", "server", "session",
           "standalone_server", "redis_server"]  # fixtures, imported for pytest to find


async def ended(server: Server, run_id: str, who: str = "ada") -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        detail = (await server.request("GET", f"/runs/{run_id}", who=who)).json()
        if detail["status"] not in ("running", "paused"):
            return detail
        assert time.monotonic() < deadline, detail["status"]
        await asyncio.sleep(0.05)


async def run_file(server: Server, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reply = await server.request("GET", f"/runs/{run_id}/log")
    lines = reply.body.decode().splitlines()
    return json.loads(lines[0]), [parse_event(line).to_dict() for line in lines[1:]]


async def test_a_fork_over_http_shares_the_prefix_and_goes_on_live(server: Server):
    parent_id = (await server.start(options={"seed": 3}))["id"]
    assert (await ended(server, parent_id))["status"] == "complete"
    _, parent = await run_file(server, parent_id)
    at = [e["id"] for e in parent if e["type"] == "tool:complete"][1]
    reply = await server.request("POST", f"/runs/{parent_id}/fork", json_body={"at": at, "edits": {"message": "Be brief."}})
    assert reply.status == 201, reply.body
    summary = reply.json()
    assert (summary["parentId"], summary["forkedAt"], summary["task"]) == (parent_id, at, QUICK["task"])
    assert reply.headers["Location"].endswith(f"/runs/{summary['id']}")
    assert (await ended(server, summary["id"]))["status"] == "complete"
    header, fork = await run_file(server, summary["id"])
    assert (header["parentId"], header["forkedAt"], header["options"]) == (parent_id, at, {"seed": 3})
    assert fork[:at] == [{**e, "runId": summary["id"]} for e in parent[:at]]
    assert [e["type"] for e in fork[at:at + 2]] == ["run:forked", "user:message"]
    assert fork[at]["data"] == {"parentId": parent_id, "at": at, "edits": {"message": "Be brief."}}
    assert fork[at + 1]["data"]["by"] == "ada"
    assert contract_violations([parse_event(json.dumps(e)) for e in fork]) == []
    listed = (await server.request("GET", "/runs")).json()["runs"]
    assert [(r["id"], r.get("parentId"), r.get("forkedAt")) for r in listed][:2] == [
        (summary["id"], parent_id, at), (parent_id, None, None)]


async def test_forks_that_do_not_fit_are_4xx_in_the_contracts_shape(server: Server):
    parent_id = (await server.start())["id"]
    events = (await ended(server, parent_id))["eventCount"]
    fork = f"/runs/{parent_id}/fork"
    for body, words in [({"at": events + 1}, f"from 1 to {events}"), ({"at": "5"}, "at must be the id of an event"),
                        ({}, "at must be"), ({"at": 3, "colour": 1}, "unknown fields ['colour']"),
                        ({"at": 3, "options": {"workspace": "/etc"}}, "cannot be set over HTTP"),
                        ({"at": 3, "options": {"maxIterations": 0}}, "maxIterations"),
                        ({"at": 3, "edits": {"toolResult": {"toolUseId": "toolu_nope", "result": "x"}}},
                         "is not in the part of the run"),
                        ({"at": 3, "edits": {"note": "x"}}, "edits must be an object"),
                        ({"at": 3, "model": 7}, "model must be a string")]:
        assert_error(await server.request("POST", fork, json_body=body), 400, "invalid_request", words)
    assert_error(await server.request("POST", fork, data=b"{not json"), 400, "invalid_json")
    assert_error(await server.request("POST", fork, who="bob", json_body={"at": 3}), 404, "not_found")
    for who in (None, "wrong"):
        assert_error(await server.request("POST", fork, who=who, json_body={"at": 3}),
                     401 if server.kind == "standalone" else 403, "unauthorized")
    assert_error(await server.request("POST", "/runs/r_0123456789abcdef/fork", json_body={"at": 1}), 404, "not_found")
    assert [r["id"] for r in (await server.request("GET", "/runs")).json()["runs"]] == [parent_id]  # nothing made


# --- workshop mode ----------------------------------------------------------------------------


async def call(http: aiohttp.ClientSession, served: Served, method: str, path: str, token: str,
               body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with http.request(method, served.api + path, headers=headers, json=body) as r:
        return r.status, await r.json(content_type=None) if r.content_type == "application/json" else None


async def workshop_with(tmp_path: Path, extra: str) -> Served:
    path = workshop_file(tmp_path)
    path.write_text(extra + "\n" + path.read_text())
    return await start_server(tmp_path, authenticate=load_workshop(path).principal_for)


@pytest.mark.parametrize("allowed", [False, True])
async def test_participants_fork_a_shared_run_only_where_the_workshop_allows_it(tmp_path: Path, allowed: bool):
    served = await workshop_with(tmp_path, f"participants_may_fork = {'true' if allowed else 'false'}")
    try:
        async with aiohttp.ClientSession() as http:
            status, created = await call(http, served, "POST", "/runs", INSTRUCTOR, QUICK)
            assert status == 201
            run_id = created["id"]
            while (await call(http, served, "GET", f"/runs/{run_id}", ADA))[1]["status"] == "running":
                await asyncio.sleep(0.05)
            status, answer = await call(http, served, "POST", f"/runs/{run_id}/fork", ADA, {"at": 5})
            if not allowed:
                assert status == 403 and answer["error"]["type"] == "forbidden"
                assert "participants_may_fork = true" in answer["error"]["message"]
                assert [r["id"] for r in (await call(http, served, "GET", "/runs", ADA))[1]["runs"]] == [run_id]
                return
            assert status == 201 and answer["parentId"] == run_id
            fork_id = answer["id"]
            # the fork is Ada's own: hers to list and control, nobody else's to see
            assert [r["id"] for r in (await call(http, served, "GET", "/runs", ADA))[1]["runs"]] == [fork_id, run_id]
            assert (await call(http, served, "GET", f"/runs/{fork_id}", PARTICIPANTS[1]))[0] == 404
            assert (await call(http, served, "GET", f"/runs/{fork_id}", INSTRUCTOR))[0] == 404
            assert (await call(http, served, "POST", f"/runs/{fork_id}/cancel", ADA))[0] in (202, 409)
            # the instructor's own fork is shared, as their runs are
            status, theirs = await call(http, served, "POST", f"/runs/{run_id}/fork", INSTRUCTOR, {"at": 5})
            assert status == 201
            assert (await call(http, served, "GET", f"/runs/{theirs['id']}", PARTICIPANTS[1]))[0] == 200
    finally:
        await served.runner.cleanup()


async def test_a_run_forks_after_the_server_restarts_with_its_settings(tmp_path: Path):
    served = await start_server(tmp_path)
    async with aiohttp.ClientSession() as http:
        async with http.post(served.api + "/runs", json={**QUICK, "options": {"seed": 5, "thinking": "off"}}) as r:
            run_id = (await r.json())["id"]
        while not served.service.get(_owner(), run_id).done:
            await asyncio.sleep(0.05)
        parent = served.service.get(_owner(), run_id)
        assert parent.status == "complete"
        last_tool = [e.id for e in parent.events if e.type == "tool:complete"][-1]
        result = parent.result
        await served.runner.cleanup()
        served = await start_server(tmp_path)  # the same store: the run is read back from it
        try:
            async with http.post(served.api + f"/runs/{run_id}/fork", json={"at": last_tool}) as r:
                assert r.status == 201, await r.text()
                fork_id = (await r.json())["id"]
            while not served.service.get(_owner(), fork_id).done:
                await asyncio.sleep(0.05)
            fork = served.service.get(_owner(), fork_id)
            assert fork.status == "complete" and fork.options == {"seed": 5, "thinking": "off"}
            assert fork.result == result  # the same seed and settings: it ends as its parent did
        finally:
            await served.runner.cleanup()


def _owner() -> Any:
    from workbench.serving.tokens import OWNER

    return OWNER


# --- the kernel client --------------------------------------------------------------------------


@pytest.fixture
def remote(tmp_path: Path):
    server = Remote(tmp_path)
    yield server
    server.close()
    wb.disconnect()


def test_wb_connect_forks_on_the_server(remote: Remote):
    wb.connect(remote.root, token=remote.token)
    run = wb.run(QUICK["task"], model="simulated", strategy="react")
    assert run.wait(30).status == "complete"
    at = next(e.id for e in run.events if e.type == "tool:complete")
    fork = run.fork(at=at, message="Shorter, please.")
    assert isinstance(fork, RemoteRun) and fork.parent_id == run.id and fork.forked_at == at
    assert fork.wait(30).status == "complete"
    assert [e.to_dict() for e in fork.events] == remote.log(fork.id)
    assert [r.id for r in fork.lineage()] == [fork.id, run.id]
    again = wb.attach(fork.id)  # another kernel: the parent is found on the server
    assert [r.id for r in again.lineage()] == [fork.id, run.id]
    with pytest.raises(wb.UserError, match="from 1 to"):
        run.fork(at=10_000)
