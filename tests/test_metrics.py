"""``GET /metrics`` on both servers, scraped with ``prometheus_client``'s own parser while a run
streams to several clients, and checked against what those clients did and received."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_jupyter.jupyter_server import *
from servers import HttpReply, slow_reader, start_server, until
from test_contract import (  # the two servers under test, as test_contract.py runs them
    both_servers as pytest_generate_tests,
    Server,
    ended,
    event_frames,
    jp_asyncio_loop,
    jp_server_cleanup,
    jp_server_config,
    jupyter_server,
    server,
    session,
    standalone_server,
)
from yarl import URL

from workbench.core import events as ev
from workbench.serving import sse
from workbench.serving.service import Principal

__all__ = ["jp_asyncio_loop", "jp_server_cleanup", "jp_server_config", "jupyter_server", "server", "session",
           "standalone_server"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

COUNTERS = ("workbench_events_appended_total", "workbench_sse_frames_sent_total", "workbench_sse_bytes_sent_total",
            "workbench_sse_resumes_total", "workbench_sse_clients_dropped_total", "workbench_model_retries_total")


def metrics_path(server: Server) -> str:
    """``/metrics`` beside ``/api``: ``{base_url}workbench/metrics`` on Jupyter."""
    return server.prefix.removesuffix("/api") + "/metrics"


async def get_metrics(server: Server, who: str | None = "ada") -> tuple[int, str, str]:
    url = URL(f"http://127.0.0.1:{server.port}{metrics_path(server)}", encoded=True)
    async with server.session.get(url, headers=server.headers(who)) as reply:
        return reply.status, reply.headers.get("Content-Type", ""), await reply.text()


async def scrape(server: Server) -> Samples:
    status, content_type, text = await get_metrics(server)
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type, text)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def subscribers(samples: Samples) -> dict[str, float]:
    return {dict(labels)["run_id"]: v for (name, labels), v in samples.items() if name == "workbench_run_subscribers"}


async def test_the_figures_agree_with_what_clients_did_and_received(server: Server):
    before = await scrape(server)
    assert {name: value(before, name) for name in COUNTERS} == dict.fromkeys(COUNTERS, 0)
    assert value(before, "workbench_event_streams_open") == 0 and subscribers(before) == {}
    assert value(before, "workbench_runs", status="running") == 0

    # One 529 the SDK retries, then a stream that breaks, which the run retries: two model retries.
    faults = [{"request": 1, "kind": "529"}, {"request": 2, "kind": "drop", "after_frames": 2}]
    run_id = (await server.start(task="Write a haiku about tides", options={"pace": 80, "faults": faults,
                                                                             "retryDelay": 0.01}))["id"]
    run = server.run(run_id)
    await until(lambda: run.log.published >= 3, what="three events stored")
    clients = {
        "from the start": {},
        "also from the start": {},
        "Last-Event-ID 2": {"Last-Event-ID": "2"},
    }
    reading = {name: asyncio.ensure_future(server.raw_get(f"/runs/{run_id}/events", headers=h, timeout=60))
               for name, h in clients.items()}
    reading["after=3"] = asyncio.ensure_future(server.raw_get(f"/runs/{run_id}/events?after=3", timeout=60))

    async def streaming() -> Samples:
        while (samples := await scrape(server))[("workbench_event_streams_open", ())] < 4:
            await asyncio.sleep(0.02)
        return samples

    during = await asyncio.wait_for(streaming(), 10)
    assert not run.done, "the run must still be going for this scrape to mean anything"
    assert value(during, "workbench_event_streams_open") == 4
    assert subscribers(during) == {run_id: 4}
    assert value(during, "workbench_runs", status="running") == 1

    replies: dict[str, HttpReply] = {name: await task for name, task in reading.items()}
    await ended(server, run_id)
    events = list(run.events)
    assert events[-1].type == "execution:complete" and len(run.state.retries) == 2
    skipped = {"from the start": 0, "also from the start": 0, "Last-Event-ID 2": 2, "after=3": 3}
    for name, reply in replies.items():
        assert reply.status == 200 and reply.ended, name
        assert len(event_frames(reply.body)) == len(events) - skipped[name], name
    # A resume at the end: a request with a resume point too, answered 204 with nothing sent.
    at_end = await server.request("GET", f"/runs/{run_id}/events", headers={"Last-Event-ID": str(len(events))})
    assert at_end.status == 204

    async def closed() -> Samples:
        while (samples := await scrape(server))[("workbench_event_streams_open", ())] != 0:
            await asyncio.sleep(0.02)
        return samples

    after = await asyncio.wait_for(closed(), 10)
    assert subscribers(after) == {}  # the run has ended: no series for it any more
    assert value(after, "workbench_events_appended_total") == len(events)
    assert value(after, "workbench_sse_frames_sent_total") == sum(len(event_frames(r.body)) for r in replies.values())
    # Every byte written is a byte the clients read: frames, retry: and keep-alives (de-chunked)
    assert value(after, "workbench_sse_bytes_sent_total") == sum(len(r.body) for r in replies.values())
    assert value(after, "workbench_sse_resumes_total") == 3
    assert value(after, "workbench_sse_clients_dropped_total") == 0
    assert value(after, "workbench_model_retries_total") == 2
    assert {s: value(after, "workbench_runs", status=s) for s in ("running", "complete", "error", "cancelled")} == \
        {"running": 0, "complete": 1, "error": 0, "cancelled": 0}


async def test_a_client_that_stops_reading_is_counted_as_dropped(server: Server, monkeypatch):
    monkeypatch.setattr(sse, "SEND_TIMEOUT", 0.5)
    run_id = (await server.start(task="Very slow", strategy="react", options={"pace": 0.5}))["id"]
    run = server.run(run_id)
    reader, writer = await slow_reader(server.port, f"{server.prefix}/runs/{run_id}/events", server.headers())
    try:
        await reader.readuntil(b"retry: 2000\n\n")
        assert subscribers(await scrape(server)) == {run_id: 1}
        for i in range(2_000):  # megabytes the client does not read
            run.log.append(ev.TextDeltaData(step_id="flood", delta=f"{i:04d}" + "x" * 4_000))

        async def dropped() -> Samples:
            while (samples := await scrape(server))[("workbench_sse_clients_dropped_total", ())] < 1:
                await asyncio.sleep(0.05)
            return samples

        samples = await asyncio.wait_for(dropped(), 15)
    finally:
        writer.transport.abort()
    assert value(samples, "workbench_sse_clients_dropped_total") == 1
    assert value(samples, "workbench_event_streams_open") == 0 and subscribers(samples) == {}
    assert 0 < value(samples, "workbench_sse_frames_sent_total") < len(run.events)
    assert value(samples, "workbench_events_appended_total") == len(run.events)
    assert not run.done
    assert (await server.request("POST", f"/runs/{run_id}/cancel", data=b"")).status == 202


async def test_without_credentials_the_metrics_are_refused(server: Server):
    for who in (None, "wrong"):
        status, content_type, text = await get_metrics(server, who)
        assert status in (401, 403) and content_type.startswith("application/json"), (status, text)
        assert "workbench_" not in text


@pytest.fixture
async def workshop(tmp_path: Path) -> Any:
    people: Mapping[str, Principal] = {"instructor-token-1": Principal("ines", "instructor"),
                                       "participant-token": Principal("ada", "participant")}
    served = await start_server(tmp_path, tokens=people)
    yield served
    await served.runner.cleanup()


async def test_in_a_workshop_only_instructors_read_the_metrics(workshop: Any, session: Any):
    async def get(token: str) -> tuple[int, str]:
        async with session.get(f"{workshop.root}/metrics", headers={"Authorization": f"Bearer {token}"}) as reply:
            return reply.status, await reply.text()

    status, text = await get("instructor-token-1")
    assert status == 200 and "workbench_event_streams_open 0.0" in text
    status, text = await get("participant-token")
    assert status == 403 and "instructors" in text and "workbench_" not in text



SERVE_AND_SCRAPE = """
import asyncio, json, sys, tempfile
from pathlib import Path

from aiohttp import ClientSession, web

from workbench.serving import listener  # what `workbench serve` imports
from workbench.serving.connections import make_runner
from workbench.serving.service import RunService
from workbench.serving.standalone import create_app
from workbench.serving.tokens import single_token


async def main() -> None:
    seen = {"imported": "prometheus_client" in sys.modules}
    root = Path(tempfile.mkdtemp())
    service = RunService(store_path=root / "runs.db", workspace_root=root / "workspaces")
    runner = make_runner(create_app(service, authenticate=single_token("metrics-token-0001")))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    async with ClientSession() as session:
        url = f"http://127.0.0.1:{port}/api/runs/r_0000000000000000/events"
        async with session.get(url, headers={"Authorization": "Bearer metrics-token-0001"}) as reply:
            seen["stream"] = reply.status
        seen["serving"] = "prometheus_client" in sys.modules
        url = f"http://127.0.0.1:{port}/metrics"
        async with session.get(url, headers={"Authorization": "Bearer metrics-token-0001"}) as reply:
            seen["scrape"] = [reply.status, reply.headers["Content-Type"], await reply.text()]
    seen["scraped"] = "prometheus_client" in sys.modules
    await runner.cleanup()
    print(json.dumps(seen))


asyncio.run(main())
"""


async def test_prometheus_client_is_imported_at_the_first_scrape_not_with_the_server():
    # It costs a server's start-up some 15 ms; a server nobody scrapes never needs it. (The Jupyter
    # extension gains nothing here: jupyter_server imports it for its own /metrics.)
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SERVE_AND_SCRAPE,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    seen = json.loads(out)
    assert seen["imported"] is False and seen["stream"] == 404 and seen["serving"] is False
    status, content_type, text = seen["scrape"]
    assert status == 200 and content_type.startswith("text/plain; version=")
    samples = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples["workbench_event_streams_open"] == 0 and samples["workbench_sse_resumes_total"] == 0
    assert seen["scraped"] is True
