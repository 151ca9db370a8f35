"""What only the standalone server (``workbench serve``) has: its token handling, the access
log, CORS, loopback refusal, what it refuses from web pages on other sites (a Host that is not
loopback without a token, POSTs that are not JSON or come from another origin), JSON answers
to what aiohttp's parser refuses, and the CLI as a real process (a graceful stop on SIGTERM).

The HTTP contract itself (routes, statuses, SSE bytes, resume, bad input, ownership, run
files) is tested once for both servers in ``test_contract.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from servers import Served, raw_request, start_server

from workbench.core.contract import contract_violations
from workbench.core.events import parse_event
from workbench.core.store import fcntl
from workbench.remote.follow import SseParser
from workbench.serving.middleware import is_loopback
from workbench.serving.service import Principal

TOKEN = "s3cret-t0ken"
QUICK = {"task": "Write a haiku", "model": "simulated", "strategy": "react"}
SLOW = {"task": "Write a long essay", "model": "simulated", "strategy": "react", "options": {"pace": 20}}


@pytest.fixture
async def servers(tmp_path: Path):
    started: list[Served] = []

    async def start(**kwargs) -> Served:
        served = await start_server(tmp_path / f"server-{len(started)}", **kwargs)  # a store each
        started.append(served)
        return served

    yield start
    for served in started:
        await served.runner.cleanup()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def finished(served: Served, run_id: str) -> None:
    run = served.service.get(Principal("owner"), run_id)
    await asyncio.wait_for(run.wait_async(), 20)


async def test_requests_without_the_right_token_are_refused_and_learn_nothing(servers, http):
    served = await servers(token=TOKEN)
    async with http.post(served.api + "/runs", json=QUICK, headers=bearer()) as r:
        run_id = (await r.json())["id"]
    await finished(served, run_id)
    paths = [("POST", "/runs"), ("GET", "/runs"), ("GET", f"/runs/{run_id}"), ("POST", f"/runs/{run_id}/cancel"),
             ("GET", f"/runs/{run_id}/events"), ("GET", f"/runs/{run_id}/log"), ("GET", "/runs/r_0000000000000000"),
             ("GET", "/elsewhere")]
    refusals = [({}, None), (bearer("wrong"), None), (bearer(TOKEN + "x"), None), (bearer(TOKEN[:-1]), None),
                ({"Authorization": f"Basic {TOKEN}"}, None), ({"Authorization": TOKEN}, None),
                ({"Authorization": "Bearer"}, None)]
    on_streams = [({}, {"token": "wrong"}), ({}, {"token": ""}),
                  (bearer("wrong"), {"token": TOKEN})]  # a header, once sent, is what counts
    bodies = set()
    for method, path in paths:
        for headers, params in refusals + (on_streams if path.endswith("/events") else []):
            async with http.request(method, served.api + path, headers=headers, params=params, json=QUICK) as r:
                assert r.status == 401, (method, path, headers, params)
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                bodies.add(await r.text())
    assert len(bodies) == 1 and json.loads(bodies.pop())["error"]["type"] == "unauthorized"
    assert [s["id"] for s in served.service.list(Principal("owner"))["runs"]] == [run_id]  # no run was started

    async with http.get(f"{served.api}/runs/{run_id}/events", params={"token": TOKEN, "after": "3"}) as r:
        assert r.status == 200 and b"id: 4\n" in await r.read()  # EventSource cannot set headers


async def test_a_token_in_the_url_is_only_taken_on_event_streams(servers, http):
    served = await servers(token=TOKEN)
    async with http.post(served.api + "/runs", json=SLOW, headers=bearer()) as r:
        run_id = (await r.json())["id"]
    refused = {"error": {"type": "unauthorized", "message": "a token in the URL ('?token=') is only accepted on "
                         "event streams (GET .../events); send it as 'Authorization: Bearer <token>'"}}
    for method, path in [("POST", "/runs"), ("GET", "/runs"), ("GET", f"/runs/{run_id}"),
                         ("POST", f"/runs/{run_id}/cancel"), ("GET", f"/runs/{run_id}/log"), ("GET", "/elsewhere"),
                         ("POST", f"/runs/{run_id}/events")]:
        for headers in ({}, bearer()):  # a right header does not make the URL's token go away
            async with http.request(method, served.api + path, params={"token": TOKEN}, headers=headers,
                                    json=QUICK) as r:
                assert (r.status, await r.json()) == (401, refused), (method, path, headers)
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert [s["id"] for s in served.service.list(Principal("owner"))["runs"]] == [run_id]  # nothing started
    assert not served.service.get(Principal("owner"), run_id).done  # nor cancelled


async def test_the_token_in_a_query_never_reaches_the_access_log(servers, http, caplog):
    served = await servers(token=TOKEN)
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with http.get(served.api + "/runs/r_0000000000000000/events", params={"token": TOKEN}) as r:
            assert r.status == 404
        await asyncio.sleep(0.05)
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "aiohttp.access"]
    assert lines and lines[0].startswith("GET /api/runs/r_0000000000000000/events 404")
    assert all(TOKEN not in line for line in lines)


async def test_paths_outside_the_api_are_json_404s(servers, http):
    served = await servers(token=TOKEN)
    for path in ("/", "/index.html", "/api", "/apis/runs"):
        async with http.get(served.root + path, headers=bearer()) as r:
            assert r.status == 404 and r.headers["Content-Type"].startswith("application/json")
            body = await r.json()
        assert body["error"]["type"] == "not_found" and "no route" in body["error"]["message"]


async def test_without_a_token_on_loopback_everyone_is_the_one_local_user(servers, http):
    served = await servers()
    async with http.post(served.api + "/runs", json=QUICK) as r:
        assert r.status == 201
    async with http.get(served.api + "/runs", headers=bearer("anything")) as r:
        assert len((await r.json())["runs"]) == 1


async def test_cors_allow_list(servers, http):
    allowed, other = "http://localhost:3000", "https://evil.example"
    served = await servers(token=TOKEN, cors=[allowed])
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with http.options(served.api + "/runs", headers={"Origin": allowed, **preflight}) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == allowed
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
    async with http.options(served.api + "/runs", headers={"Origin": other, **preflight}) as r:
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    async with http.get(served.api + "/runs", headers={"Origin": allowed, **bearer()}) as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == allowed
    async with http.get(served.api + "/runs", headers={"Origin": allowed}) as r:  # a browser can read the 401
        assert r.status == 401 and r.headers["Access-Control-Allow-Origin"] == allowed
    async with http.get(served.api + "/runs", headers={"Origin": other, **bearer()}) as r:
        assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
    async with http.post(served.api + "/runs", json=QUICK, headers={"Origin": allowed, **bearer()}) as r:
        run_id = (await r.json())["id"]
    async with http.get(f"{served.api}/runs/{run_id}/events", params={"token": TOKEN}, headers={"Origin": allowed}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == allowed  # EventSource from that page
        await r.read()

    closed = await servers(token=TOKEN)  # none by default
    async with http.options(closed.api + "/runs", headers={"Origin": allowed, **preflight}) as r:
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    async with http.get(closed.api + "/runs", headers={"Origin": allowed, **bearer()}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers


# --- what a web page on another site may not do ------------------------------------------------

NOT_JSON = {"error": {"type": "unsupported_media_type", "message": "send POST requests with 'Content-Type: "
                      "application/json' (and a JSON body, where the route takes one)"}}


def foreign_origin(origin: str) -> dict[str, Any]:
    return {"error": {"type": "forbidden", "message": f"requests from the web page at {origin!r} may not change "
                      "anything here; the server allows its own origin and those given with --cors-origin"}}


def foreign_host(host: str) -> dict[str, Any]:
    return {"error": {"type": "forbidden", "message": "this server has no token, so it only answers requests "
                      f"addressed to localhost, 127.0.0.1 or [::1], not Host {host!r}; use one of those names, "
                      "or start the server with a token (--token)"}}


async def test_without_a_token_a_page_on_another_site_can_neither_start_nor_cancel_runs(servers, http):
    served = await servers()
    async with http.post(served.api + "/runs", json=SLOW) as r:
        run_id = (await r.json())["id"]
    body = json.dumps(QUICK)
    # What a page may send without asking the server first: a form, text/plain, no content type at all.
    for path in ("/runs", f"/runs/{run_id}/cancel"):
        for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", None):
            for origin in ("https://evil.example", "null", None):
                headers = {"Content-Type": content_type} if content_type else {}
                async with http.post(served.api + path, data=body.encode(), headers=headers | (
                        {"Origin": origin} if origin else {}), skip_auto_headers=["Content-Type"]) as r:
                    expected = foreign_origin(origin) if origin else NOT_JSON
                    assert (r.status, await r.json()) == (403 if origin else 415, expected), (path, content_type, origin)
        # JSON from another origin is refused too (a browser would have asked first, and been told no).
        async with http.post(served.api + path, json=QUICK, headers={"Origin": "http://127.0.0.1:1"}) as r:
            assert (r.status, await r.json()) == (403, foreign_origin("http://127.0.0.1:1"))
    assert [s["id"] for s in served.service.list(Principal("owner"))["runs"]] == [run_id]  # nothing started
    assert not served.service.get(Principal("owner"), run_id).done  # nor cancelled

    # JSON, with no Origin (a script, the kernel's client) or the server's own, is served.
    own = served.root
    async with http.post(f"{served.api}/runs/{run_id}/cancel", headers={"Content-Type": "application/json",
                                                                         "Origin": own}) as r:
        assert r.status == 202
    for headers in ({}, {"Origin": own}, {"Origin": own + "/"}, {"Content-Type": "application/json; charset=utf-8"}):
        async with http.post(served.api + "/runs", data=body, headers={"Content-Type": "application/json", **headers}) as r:
            assert r.status == 201, (headers, await r.text())


async def test_without_a_token_only_loopback_host_names_are_served(servers, http):
    served = await servers()
    async with http.post(served.api + "/runs", json=QUICK) as r:
        run_id = (await r.json())["id"]
    await finished(served, run_id)
    port = served.port
    # DNS rebinding: a page whose own name now points at 127.0.0.1 sends its own name as Host.
    for host in ("rebind.evil.example", f"rebind.evil.example:{port}", "localhost.evil.example", "127.0.0.1.nip.io",
                 f"0.0.0.0:{port}", "192.0.2.1", "localhost:x", "[::1]x", "[::1]:x", ""):
        for method, path in (("GET", "/runs"), ("GET", f"/runs/{run_id}"), ("GET", f"/runs/{run_id}/events"),
                             ("GET", f"/runs/{run_id}/log"), ("POST", "/runs")):
            async with http.request(method, served.api + path, headers={"Host": host}, json=QUICK) as r:
                assert (r.status, await r.json()) == (403, foreign_host(host)), (host, path)
                assert run_id.encode() not in await r.read()
    for host in ("localhost", f"localhost:{port}", "LOCALHOST", "127.0.0.1", f"127.0.0.1:{port}", "127.8.0.1",
                 f"[::1]:{port}", "[::1]"):
        async with http.get(served.api + "/runs", headers={"Host": host}) as r:
            assert r.status == 200 and [s["id"] for s in (await r.json())["runs"]] == [run_id], host
    # With a token, Host is not what keeps a page out: it has no token to send.
    guarded = await servers(token=TOKEN)
    async with http.get(guarded.api + "/runs", headers={"Host": "rebind.evil.example", **bearer()}) as r:
        assert r.status == 200


async def test_with_a_token_posts_must_be_json_from_an_allowed_origin(servers, http):
    allowed = "http://localhost:3000"
    served = await servers(token=TOKEN, cors=[allowed])
    async with http.post(served.api + "/runs", data=json.dumps(QUICK), headers={"Content-Type": "text/plain",
                                                                                 **bearer()}) as r:
        assert (r.status, await r.json()) == (415, NOT_JSON)
    async with http.post(served.api + "/runs", json=QUICK, headers={"Origin": "https://evil.example", **bearer()}) as r:
        assert (r.status, await r.json()) == (403, foreign_origin("https://evil.example"))
    for origin in (allowed, served.root):
        async with http.post(served.api + "/runs", json=QUICK, headers={"Origin": origin, **bearer()}) as r:
            assert r.status == 201, origin
    assert len(served.service.list(Principal("owner"))["runs"]) == 2


# --- bytes aiohttp's parser refuses, and bytes that are not UTF-8 ------------------------------------


def _head(port: int, *lines: bytes, target: bytes = b"/api/runs") -> bytes:
    return b"\r\n".join([b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port, *lines]) + b"\r\n\r\n"


async def test_odd_bytes_and_oversized_requests_are_json_errors_with_nothing_in_the_log(servers, caplog):
    served = await servers(token=TOKEN)
    port = served.port
    wrong = {"error": {"type": "unauthorized", "message": "missing or wrong token: send 'Authorization: Bearer "
                       "<token>' (or '?token=<token>' on an event stream, where headers cannot be set)"}}
    url = {"error": {"type": "uri_too_long", "message": "the URL is longer than 8,190 bytes, the limit here; "
                     "shorten its path or query"}}
    header = {"error": {"type": "headers_too_large", "message": "a header is longer than 16,384 bytes (name and "
                        "value), the limit here; shorten it"}}
    many = {"error": {"type": "headers_too_large", "message": "the request has more than 128 headers, the limit "
                      "here; send fewer"}}
    malformed = {"error": {"type": "bad_request", "message": "the request is not well-formed HTTP/1.1; check its "
                           "request line and headers"}}
    cases = [
        (_head(port, b"Authorization: Bearer \xff"), 401, wrong),
        (_head(port, b"Authorization: Bearer " + TOKEN.encode() + b"\xff\xfe"), 401, wrong),
        (_head(port, b"Authorization: \xff " + TOKEN.encode()), 401, wrong),
        (_head(port, target=b"/api/runs/r_0000000000000000/events?token=%FF"), 401, wrong),
        (_head(port, target=b"/api/runs?q=" + b"x" * 9000), 414, url),
        (_head(port, target=b"/api/runs/r_0000000000000000/events?token=" + TOKEN.encode() + b"x" * 9000), 414, url),
        (_head(port, b"X-Padding: " + b"x" * 17_000), 431, header),
        (_head(port, b"Authorization: Bearer " + TOKEN.encode() + b"x" * 17_000), 431, header),
        (_head(port, b"X" * 17_000 + b": x"), 431, header),
        (_head(port, *(b"X-Header-%d: x" % i for i in range(200))), 431, many),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400, malformed),  # TLS to a plain port
        (b"G@T /api/runs HTTP/1.1\r\n\r\n", 400, malformed),
        (_head(port, target=b"/api/runs/\xff"), 400, malformed),
    ]
    with caplog.at_level(logging.DEBUG):
        for request, status, expected in cases:
            reply = await raw_request(port, request, timeout=10)
            assert reply.status == status, (request[:60], reply.raw[:300])
            assert reply.headers["content-type"] == "application/json; charset=utf-8"
            assert json.loads(reply.body) == expected, request[:60]
            assert (status == 401) == ("www-authenticate" in reply.headers)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text
    assert TOKEN not in caplog.text and "xxxxxxxx" not in caplog.text


# --- workbench serve, as a real process ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", **extra}


async def _serve(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workbench.cli", "serve", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env or _env())


async def _started(process: asyncio.subprocess.Process) -> tuple[int, list[str]]:
    lines = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line, (lines, (await process.stderr.read()).decode())
        lines.append(line.rstrip("\n"))
        if line.startswith("Workbench server on "):
            url = line.split()[3]
            port = int(url.rsplit(":", 1)[1].split("/")[0])
        if line.startswith("Stop with Ctrl-C"):
            return port, lines


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False), ("::", False), ("", False),
                                            ("192.0.2.1", False), ("example.org", False), ("localhost.evil", False)])
def test_what_counts_as_loopback(host: str, loopback: bool):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "example.org"])
async def test_serve_refuses_to_listen_off_loopback_without_a_token(tmp_path: Path, host: str):
    port = _free_port()
    process = await _serve("--host", host, "--port", str(port), "--store", str(tmp_path / "runs.db"))
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert f"refusing to listen on {host} without a token" in err.decode() and "WORKBENCH_TOKEN" in err.decode()
    assert "Traceback" not in err.decode() and out == b""
    assert not _listening(port)
    assert not (tmp_path / "runs.db").exists()


async def test_serve_with_a_token_from_the_environment_listens_and_says_how_to_connect(tmp_path: Path, http):
    process = await _serve("--port", "0", "--store", str(tmp_path / "runs.db"), "--workspace-root", str(tmp_path / "ws"),
                           env=_env(WORKBENCH_TOKEN=TOKEN))
    try:
        port, lines = await _started(process)
        text = "\n".join(lines)
        assert f"http://127.0.0.1:{port}/api" in text and "wb.connect(" in text and TOKEN not in text
        async with http.get(f"http://127.0.0.1:{port}/api/runs") as r:
            assert r.status == 401
        async with http.get(f"http://127.0.0.1:{port}/api/runs", headers=bearer()) as r:
            assert r.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 15) == 0


async def test_serve_on_a_busy_port_is_a_clear_error(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = await _serve("--port", str(busy.getsockname()[1]), "--store", str(tmp_path / "runs.db"))
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1 and "cannot listen on" in (out + err).decode() and b"Traceback" not in err


@pytest.mark.skipif(fcntl is None, reason="stores are locked with fcntl (Linux, macOS)")
async def test_a_second_server_on_the_same_store_is_refused_and_the_first_goes_on(tmp_path: Path, http):
    store, env = str(tmp_path / "runs.db"), _env(WORKBENCH_TOKEN=TOKEN)
    first = await _serve("--port", "0", "--store", store, "--workspace-root", str(tmp_path / "ws"), env=env)
    try:
        port, _ = await _started(first)
        api = f"http://127.0.0.1:{port}/api"
        body = {"task": "Write a long report", "model": "simulated", "options": {"pace": 20}}
        async with http.post(f"{api}/runs", json=body, headers=bearer()) as r:
            assert r.status == 201
            run = await r.json()
        second = await _serve("--port", "0", "--store", store, "--workspace-root", str(tmp_path / "ws"), env=env)
        out, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 2 and b"Traceback" not in err and out == b"", err
        assert f"the run store {store} is in use by another process (pid {first.pid})" in err.decode()
        async with http.get(f"{api}/runs/{run['id']}", headers=bearer()) as r:  # the second took nothing from it
            assert (await r.json())["status"] == "running"
    finally:
        first.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(first.wait(), 15) == 0


async def test_sigterm_ends_open_streams_interrupts_runs_and_a_new_server_serves_them(tmp_path: Path, http):
    store, workspaces = str(tmp_path / "runs.db"), str(tmp_path / "ws")
    process = await _serve("--port", "0", "--store", store, "--workspace-root", workspaces, "--heartbeat", "0.5")
    port, lines = await _started(process)
    assert any("No token" in line for line in lines)
    api = f"http://127.0.0.1:{port}/api"
    async with http.post(api + "/runs", json={**SLOW, "strategy": "plan"}) as r:
        run_id = (await r.json())["id"]
    parser, frames = SseParser(), []
    async with http.get(f"{api}/runs/{run_id}/events") as stream:
        async for chunk in stream.content.iter_any():
            frames += parser.feed(chunk)
            if len(frames) >= 5 and process.returncode is None and not hasattr(stream, "_signalled"):
                stream._signalled = time.monotonic()  # type: ignore[attr-defined]
                process.send_signal(signal.SIGTERM)
        ended = time.monotonic() - stream._signalled  # type: ignore[attr-defined]
    assert ended < 5, f"the stream took {ended:.1f} s to end"
    assert await asyncio.wait_for(process.wait(), 10) == 0
    out = (await process.stdout.read()).decode()
    assert "Stopping" in out and "Stopped." in out
    received = [parse_event(f.data) for f in frames]
    assert received[-1].type == "execution:error" and received[-1].data.error.type == "interrupted"
    assert [e.id for e in received] == list(range(1, len(received) + 1))

    again = await _serve("--port", "0", "--store", store, "--workspace-root", workspaces)
    try:
        port, _ = await _started(again)
        api = f"http://127.0.0.1:{port}/api"
        async with http.get(f"{api}/runs/{run_id}") as r:
            detail = await r.json()
        assert detail["status"] == "interrupted" and detail["eventCount"] == len(received)
        async with http.get(f"{api}/runs/{run_id}/log") as r:
            logged = [parse_event(line) for line in (await r.text()).splitlines()[1:]]
        assert [e.to_dict() for e in logged] == [e.to_dict() for e in received]
        assert contract_violations(logged) == []
    finally:
        again.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.wait(), 15) == 0
