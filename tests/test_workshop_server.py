"""Workshop mode of the standalone server (``workbench serve --workshop FILE``), over real sockets.

Instructors start and cancel runs, which are shared with every participant; participants
list, stream and download them and can start or cancel nothing. Twenty participants follow
one run at once, each receiving all of it, in order; the kernel client works for them too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from servers import LoopThread, Served, raw_get, start_server

import workbench as wb
from workbench.cli import main as cli
from workbench.core.contract import contract_violations
from workbench.core.events import parse_event
from workbench.core.log import RunLog
from workbench.remote.follow import Backoff, follow_events
from workbench.serving import sse
from workbench.serving.service import Principal
from workbench.serving.workshop import load_workshop, token_sha256

INSTRUCTOR = "ines-instructor-token"
OTHER_INSTRUCTOR = "ivan-instructor-token"
PARTICIPANTS = [f"participant-token-{i:02d}" for i in range(1, 21)]
ADA, BOB = PARTICIPANTS[0], PARTICIPANTS[1]
QUICK = {"task": "Write a haiku", "model": "simulated", "strategy": "react"}
SLOW = {"task": "Plan a picnic for twelve people", "model": "simulated", "options": {"pace": 60}}
LIVE = {"task": "Plan a picnic for twelve people", "model": "simulated", "options": {"pace": 800}}


def workshop_file(tmp_path: Path) -> Path:
    people = [("ines", "instructor", INSTRUCTOR), ("ivan", "instructor", OTHER_INSTRUCTOR)]
    people += [(f"p{i:02d}", "participant", token) for i, token in enumerate(PARTICIPANTS, 1)]
    lines = []
    for n, (name, role, token) in enumerate(people):
        lines += ["[[people]]", f'name = "{name}"', f'role = "{role}"']
        # Half of the participants are listed by the hash of their token, as a careful instructor would.
        lines.append(f'token_sha256 = "{token_sha256(token)}"' if n % 2 else f'token = "{token}"')
        lines.append("")
    path = tmp_path / "workshop.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
async def workshop(tmp_path: Path):
    """``workbench serve --workshop``'s application, on 127.0.0.1 and a free port."""
    served = await start_server(tmp_path, authenticate=load_workshop(workshop_file(tmp_path)).principal_for,
                                heartbeat=0.2)
    yield served
    await served.runner.cleanup()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(http: aiohttp.ClientSession, served: Served, method: str, path: str, token: str | None,
               body: Any = None) -> tuple[int, Any]:
    headers = bearer(token) if token else {}
    if method == "POST":
        headers["Content-Type"] = "application/json"  # also without a body, as the kernel's client sends
    async with http.request(method, served.api + path, headers=headers, json=body) as r:
        text = await r.text()
        if r.content_type == "application/json":
            return r.status, json.loads(text)
        return r.status, text


def refusal(payload: Any, error_type: str, words: str) -> bool:
    return (set(payload) == {"error"} and payload["error"]["type"] == error_type
            and words in payload["error"]["message"])


async def test_instructors_start_and_cancel_participants_watch_and_download(workshop: Served, http):
    status, created = await call(http, workshop, "POST", "/runs", INSTRUCTOR, SLOW)
    assert status == 201 and created["status"] == "running"
    run_id = created["id"]

    # A participant lists the instructor's run (with its owner), reads it, streams it and downloads it.
    status, listed = await call(http, workshop, "GET", "/runs", ADA)
    assert status == 200 and [(r["id"], r["owner"]) for r in listed["runs"]] == [(run_id, "ines")]
    status, detail = await call(http, workshop, "GET", f"/runs/{run_id}", ADA)
    assert status == 200 and detail["owner"] == "ines" and detail["task"] == SLOW["task"] and "state" in detail

    # ...but can start nothing, whatever the body, and cancel nothing.
    for body in (QUICK, None, {"task": ""}):
        status, payload = await call(http, workshop, "POST", "/runs", ADA, body)
        assert status == 403 and refusal(payload, "forbidden", "only an instructor starts them")
    status, payload = await call(http, workshop, "POST", f"/runs/{run_id}/cancel", ADA)
    assert status == 403 and refusal(payload, "forbidden", "only ines, who started this run, can cancel it")
    assert not workshop.service.get(Principal("ines", "instructor"), run_id).done

    # Another instructor's runs are theirs: this one answers 404, exactly like an unknown id.
    status, payload = await call(http, workshop, "GET", "/runs", OTHER_INSTRUCTOR)
    assert status == 200 and payload == {"runs": [], "next": None}
    for method, path in (("GET", ""), ("GET", "/events"), ("GET", "/log"), ("POST", "/cancel")):
        status, theirs = await call(http, workshop, method, f"/runs/{run_id}{path}", OTHER_INSTRUCTOR)
        _, unknown = await call(http, workshop, method, f"/runs/r_0000000000000000{path}", OTHER_INSTRUCTOR)
        assert status == 404 and theirs == json.loads(json.dumps(unknown).replace("r_0000000000000000", run_id))
    status, other = await call(http, workshop, "POST", "/runs", OTHER_INSTRUCTOR, QUICK)
    assert status == 201

    # Participants see every instructor's shared runs, newest first; instructors only their own.
    status, listed = await call(http, workshop, "GET", "/runs", BOB)
    assert [(r["id"], r["owner"]) for r in listed["runs"]] == [(other["id"], "ivan"), (run_id, "ines")]
    status, mine = await call(http, workshop, "GET", "/runs", INSTRUCTOR)
    assert [r["id"] for r in mine["runs"]] == [run_id] and "owner" not in mine["runs"][0]

    # The instructor cancels; the participant's stream ends with the terminal event; the download is the run.
    status, payload = await call(http, workshop, "POST", f"/runs/{run_id}/cancel", INSTRUCTOR)
    assert status == 202 and payload["id"] == run_id
    response = await raw_get(workshop.port, f"/api/runs/{run_id}/events", bearer(ADA))
    run = workshop.service.get(Principal("ines", "instructor"), run_id)
    assert response.status == 200 and run.events[-1].type == "execution:cancelled"
    frames = b"".join(sse.encode_event(e) for e in run.events)
    assert response.body.replace(sse.KEEPALIVE, b"") == sse.retry_frame() + frames
    status, text = await call(http, workshop, "GET", f"/runs/{run_id}/log", BOB)
    lines = text.splitlines()
    assert status == 200 and json.loads(lines[0])["runId"] == run_id
    assert [parse_event(line).to_dict() for line in lines[1:]] == [e.to_dict() for e in run.events]
    status, payload = await call(http, workshop, "POST", f"/runs/{run_id}/cancel", INSTRUCTOR)
    assert status == 409 and refusal(payload, "already_finished", "already ended")
    status, payload = await call(http, workshop, "POST", f"/runs/{run_id}/cancel", ADA)
    assert status == 403  # a participant cannot cancel a finished run either

    # Nobody else gets in; EventSource clients may send the token in the query.
    for token in (None, "participant-token-21", INSTRUCTOR[:-1], "x" * 200):
        status, payload = await call(http, workshop, "GET", "/runs", token)
        assert status == 401 and refusal(payload, "unauthorized", "token")
    async with http.get(f"{workshop.api}/runs/{run_id}/events", params={"token": ADA, "after": "1"}) as r:
        assert r.status == 200 and (await r.read()).startswith(b"retry: 2000\n\nid: 2\n")


async def test_posts_must_be_json_from_the_server_s_origin_and_tokens_go_in_the_header(workshop: Served, http):
    status, created = await call(http, workshop, "POST", "/runs", INSTRUCTOR, SLOW)
    run_id = created["id"]
    for path in ("/runs", f"/runs/{run_id}/cancel"):
        async with http.post(workshop.api + path, data=json.dumps(QUICK),
                             headers={"Content-Type": "text/plain", **bearer(INSTRUCTOR)}) as r:
            assert r.status == 415 and refusal(await r.json(), "unsupported_media_type", "application/json")
        async with http.post(workshop.api + path, json=QUICK,
                             headers={"Origin": "https://evil.example", **bearer(INSTRUCTOR)}) as r:
            assert r.status == 403 and refusal(await r.json(), "forbidden", "--cors-origin")
        async with http.post(workshop.api + path, json=QUICK, params={"token": INSTRUCTOR}) as r:
            assert r.status == 401 and refusal(await r.json(), "unauthorized", "'Authorization: Bearer <token>'")
    assert [r["id"] for r in workshop.service.list(Principal("ines", "instructor"))["runs"]] == [run_id]
    assert not workshop.service.get(Principal("ines", "instructor"), run_id).done
    async with http.post(f"{workshop.api}/runs/{run_id}/cancel", headers={"Origin": workshop.root,
                         "Content-Type": "application/json", **bearer(INSTRUCTOR)}) as r:
        assert r.status == 202


async def test_unshared_instructor_runs_stay_the_instructor_s(tmp_path: Path, http):
    served = await start_server(tmp_path, authenticate=load_workshop(workshop_file(tmp_path)).principal_for,
                                share_instructor_runs=False)
    try:
        status, created = await call(http, served, "POST", "/runs", INSTRUCTOR, QUICK)
        assert status == 201
        status, listed = await call(http, served, "GET", "/runs", ADA)
        assert status == 200 and listed == {"runs": [], "next": None}
        for method, path in (("GET", ""), ("GET", "/events"), ("GET", "/log"), ("POST", "/cancel")):
            status, payload = await call(http, served, method, f"/runs/{created['id']}{path}", ADA)
            assert status == 404 and refusal(payload, "not_found", "no run")
    finally:
        await served.runner.cleanup()


async def test_twenty_participants_each_receive_the_whole_run_in_order(workshop: Served, http):
    status, created = await call(http, workshop, "POST", "/runs", INSTRUCTOR, LIVE)
    assert status == 201
    run_id = created["id"]
    run = workshop.service.get(Principal("ines", "instructor"), run_id)
    path = f"/api/runs/{run_id}/events"
    joined_at: list[int] = []

    async def raw_client(token: str) -> bytes:
        joined_at.append(len(run.events))
        response = await raw_get(workshop.port, path, {**bearer(token), "Accept": "text/event-stream"}, timeout=60)
        assert response.status == 200 and response.headers["content-type"] == "text/event-stream"
        return response.body

    async def follower(token: str) -> RunLog:
        joined_at.append(len(run.events))
        log = RunLog(run_id)
        errors: list[Exception] = []
        await asyncio.wait_for(follow_events(workshop.root + path, log, headers=bearer(token), on_fatal=errors.append,
                                             backoff=Backoff(base=0.05)), 60)
        assert errors == [] and log.closed
        return log

    raw_tokens, follower_tokens = PARTICIPANTS[:10], PARTICIPANTS[10:]
    results = await asyncio.gather(*(raw_client(t) for t in raw_tokens), *(follower(t) for t in follower_tokens))
    assert run.done and max(joined_at) < len(run.events)  # every one of them joined while the run was going

    status, text = await call(http, workshop, "GET", f"/runs/{run_id}/log", INSTRUCTOR)
    logged = [parse_event(line) for line in text.splitlines()[1:]]
    assert status == 200 and len(logged) == len(run.events) > 500
    assert logged[-1].type == "execution:complete" and contract_violations(logged) == []
    expected = sse.retry_frame() + b"".join(sse.encode_event(e) for e in logged)
    for body in results[:10]:
        assert body.replace(sse.KEEPALIVE, b"") == expected  # every event once, in order, byte for byte
    for log in results[10:]:
        assert [e.to_dict() for e in log.events] == [e.to_dict() for e in logged]


# --- the kernel client, as a participant's notebook uses it ---------------------------------------


@pytest.fixture
def remote(tmp_path: Path):
    """The workshop server in a thread of its own, for the blocking ``wb`` calls."""
    thread = LoopThread()
    served = thread.run(start_server(tmp_path, authenticate=load_workshop(workshop_file(tmp_path)).principal_for))
    yield served
    wb.disconnect()
    thread.run(served.runner.cleanup())
    thread.close()


def test_a_participant_s_client_lists_and_attaches_to_the_instructor_s_run_live(remote: Served):
    wb.connect(remote.root, token=INSTRUCTOR)
    started = wb.run("Write a guide to tide pools", model="simulated", strategy="react", options={"pace": 300})

    wb.connect(remote.root, token=ADA)  # the participant's notebook
    listed = wb.runs()
    assert [(r["id"], r["owner"], r["status"]) for r in listed] == [(started.id, "ines", "running")]
    watched = wb.attach(started.id)
    assert watched.owner == "ines" and not watched.done
    assert watched.wait(60).status == "complete" and started.wait(10).status == "complete"
    assert [e.to_dict() for e in watched.events] == [e.to_dict() for e in started.events]
    assert watched.follow_error is None and watched.follow_stats.connections == 1
    assert [(r["id"], r["status"]) for r in wb.runs()] == [(started.id, "complete")]

    with pytest.raises(wb.UserError) as info:
        wb.run("Anything", model="simulated")
    message = str(info.value)
    assert info.value.status == 403 and info.value.error_type == "forbidden"
    assert "refused this request (HTTP 403): participants watch runs; only an instructor starts them" in message
    assert "credentials" not in message and ADA not in message
    assert [r["id"] for r in wb.runs()] == [started.id]


# --- workbench serve --workshop --------------------------------------------------------------------


async def test_serve_with_a_workshop_file(tmp_path: Path, http):
    path = workshop_file(tmp_path)
    env = {**os.environ, "NO_COLOR": "1", "WORKBENCH_TOKEN": "a-token-from-the-environment"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workbench.cli", "serve", "--workshop", str(path), "--port", "0",
        "--store", str(tmp_path / "runs.db"), "--workspace-root", str(tmp_path / "ws"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    lines: list[str] = []
    try:
        while not (lines and lines[-1].startswith("Stop with Ctrl-C")):
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, lines
            lines.append(line.rstrip("\n"))
        api = lines[0].split()[3]
        assert f"Workshop mode ({path}): 2 instructors and 20 participants loaded." in lines[1]
        async with http.post(api + "/runs", json=QUICK, headers=bearer(INSTRUCTOR)) as r:
            assert r.status == 201
            run_id = (await r.json())["id"]
        async with http.post(api + "/runs", json=QUICK, headers=bearer(ADA)) as r:
            assert r.status == 403 and (await r.json())["error"]["type"] == "forbidden"
        async with http.get(api + "/runs", headers=bearer(ADA)) as r:
            assert [s["id"] for s in (await r.json())["runs"]] == [run_id]
        async with http.get(api + "/runs", headers=bearer("a-token-from-the-environment")) as r:
            assert r.status == 401  # the environment's token is not one of the workshop's
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    out = "\n".join(lines) + (await process.stdout.read()).decode()
    err = (await process.stderr.read()).decode()
    assert "WORKBENCH_TOKEN is ignored in workshop mode" in err
    for token in (INSTRUCTOR, OTHER_INSTRUCTOR, *PARTICIPANTS, "a-token-from-the-environment"):
        assert token not in out and token not in err


def test_serve_workshop_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    path = workshop_file(tmp_path)
    assert cli.main(["serve", "--workshop", str(path), "--token", "s3cret-t0ken"]) == cli.EXIT_USAGE
    assert "--workshop and --token cannot be used together" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[people]]\nname = "ada"\nrole = "participant"\ntoken = "ada-token-000000001"\n')
    assert cli.main(["serve", "--workshop", str(bad)]) == cli.EXIT_USAGE
    assert "a workshop needs at least one instructor" in capsys.readouterr().err

    # Off loopback is allowed: everyone needs a token from the file. (Nothing listens here: serve is replaced.)
    seen: dict[str, Any] = {}

    async def fake_serve(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("workbench.serving.listener.serve", fake_serve)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    assert cli.main(["serve", "--workshop", str(path), "--host", "0.0.0.0"]) == cli.EXIT_USAGE  # but not as plain HTTP
    assert "refusing to serve plain HTTP on 0.0.0.0" in capsys.readouterr().err and not seen
    assert cli.main(["serve", "--workshop", str(path), "--host", "0.0.0.0", "--allow-http"]) == 0
    assert seen["host"] == "0.0.0.0" and seen["token"] is None and seen["workshop_file"] == str(path)
    authenticate = seen["workshop"].principal_for
    assert authenticate(INSTRUCTOR) == Principal("ines", "instructor")
    assert authenticate(PARTICIPANTS[-1]) == Principal("p20", "participant")
    assert authenticate(None) is None and authenticate("") is None and authenticate("nobody-at-all") is None
    seen.clear()
    assert cli.main(["serve", "--host", "0.0.0.0"]) == cli.EXIT_USAGE  # without a workshop: still refused
    assert "refusing to listen on 0.0.0.0 without a token" in capsys.readouterr().err and not seen
