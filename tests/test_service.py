"""The run service both servers share, and the SSE bytes they send."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_reducer import sample_run

from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.handle import Run
from workbench.core.log import RunLog
from workbench.errors import UserError
from workbench.serving import service as service_module
from workbench.serving import sse
from workbench.serving.service import Principal, Refusal, RunService

ADA, BOB = Principal("ada"), Principal("bob")


@pytest.fixture
async def service(tmp_path: Path):
    svc = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws")
    yield svc
    await svc.close()


async def test_a_run_belongs_to_its_owner(service: RunService):
    run = service.create(ADA, {"task": "Write a haiku", "model": "simulated", "strategy": "react"})
    await asyncio.wait_for(run.wait_async(), 20)
    assert [s["id"] for s in service.list(ADA)["runs"]] == [run.id]
    assert service.list(BOB)["runs"] == []
    for call in (lambda: service.get(BOB, run.id), lambda: service.cancel(BOB, run.id), lambda: service.get(ADA, "r_0000000000000000")):
        with pytest.raises(Refusal) as info:
            call()
        assert info.value.status == 404
    summary = service.list(ADA)["runs"][0]
    assert set(summary) == {"id", "task", "model", "strategy", "status", "createdAt", "endedAt", "eventCount", "waiting"}
    assert summary["waiting"] == []
    assert summary["status"] == "complete" and summary["eventCount"] == len(run.events)
    detail = service.detail(ADA, run.id)
    assert detail["state"]["status"] == "complete"
    lines = b"".join(service.run_file(ADA, run.id)).decode().splitlines()
    assert json.loads(lines[0])["format"] == "workbench-run" and len(lines) == len(run.events) + 1
    assert str(service.workspace_root / "ada" / run.id) == str(run.workspace)
    with pytest.raises(Refusal) as info:
        service.cancel(ADA, run.id)
    assert info.value.status == 409


@pytest.mark.parametrize(
    "body, status, message",
    [
        ([1, 2], 400, "JSON object"),
        ({}, 400, "non-empty string"),
        ({"task": "  "}, 400, "non-empty string"),
        ({"task": "x" * 50_001}, 400, "limit is 50,000"),
        ({"task": "t", "model": "gpt-4"}, 400, "unknown model"),
        ({"task": "t", "model": "claude-sonnet-4-6"}, 400, "ANTHROPIC_API_KEY"),
        ({"task": "t", "strategy": "yolo"}, 400, "unknown strategy"),
        ({"task": "t", "tools": ["teleport"]}, 400, "not available here"),
        ({"task": "t", "options": {"workspace": "/etc"}}, 400, "cannot be set over HTTP"),
        ({"task": "t", "options": {"scenario": "/etc/passwd"}}, 400, "cannot be set over HTTP"),
        ({"task": "t", "options": {"pace": -1}}, 400, "pace"),
        ({"task": "t", "options": []}, 400, "options must be a JSON object"),
        ({"task": "t", "bogus": 1}, 400, "unknown fields"),
    ],
)
async def test_bad_input_is_a_4xx_with_a_clear_message(service: RunService, body, status, message):
    with pytest.raises(Refusal) as info:
        service.create(ADA, body)
    assert info.value.status == status and message in info.value.message
    assert service.list(ADA)["runs"] == []


async def test_limits_per_user_and_participants(service: RunService):
    runs = [service.create(ADA, {"task": f"t{i}", "model": "simulated", "options": {"pace": 5}}) for i in range(4)]
    with pytest.raises(Refusal) as info:
        service.create(ADA, {"task": "one too many", "model": "simulated"})
    assert info.value.status == 429
    service.create(BOB, {"task": "bob's", "model": "simulated"})  # other users are not held up
    with pytest.raises(Refusal) as info:
        service.create(Principal("pat", "participant"), {"task": "t"})
    assert info.value.status == 403
    service.cancel(ADA, runs[0].id)
    await asyncio.wait_for(runs[0].wait_async(), 5)
    assert runs[0].state.status == "cancelled"


async def test_close_interrupts_live_runs_and_a_new_service_serves_them(tmp_path: Path):
    first = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws")
    run = first.create(ADA, {"task": "A long one", "model": "simulated", "options": {"pace": 20}})
    await asyncio.sleep(0.2)
    await first.close()
    assert run.events[-1].data.error.type == "interrupted"
    second = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws")
    again = second.get(ADA, run.id)
    assert [e.to_dict() for e in again.events] == [e.to_dict() for e in run.events]
    assert second.list(ADA)["runs"][0]["status"] == "interrupted"
    assert contract_violations(list(again.events)) == []
    await second.close()


def test_sse_frames_are_exact():
    event = sample_run()[0]
    assert sse.encode_event(event) == (
        b"id: 1\nevent: execution:started\ndata: " + event.to_json().encode() + b"\n\n")
    assert sse.retry_frame() == b"retry: 2000\n\n"
    assert sse.KEEPALIVE == b": keep-alive\n\n"


@pytest.mark.parametrize("header, query, expected", [(None, None, 0), ("5", None, 5), (None, "7", 7), ("3", "9", 3), (" 4 ", None, 4)])
def test_resume_points(header, query, expected):
    assert sse.parse_resume(header, query) == expected


@pytest.mark.parametrize("header, query", [("abc", None), ("-1", None), (None, "1.5"), ("9" * 40, None), ("²", None),
                                           (None, "１２")])
def test_malformed_resume_points_are_refused(header, query):
    with pytest.raises(sse.ResumeError):
        sse.parse_resume(header, query)


async def test_run_stream_gives_the_backlog_after_n_then_live_events_then_ends():
    log = RunLog("r_test")
    events = sample_run()
    log.extend(events[:5])
    chunks: list[bytes] = []

    async def read() -> None:
        async for chunk in sse.run_stream(log, after=3, heartbeat=0.05):
            chunks.append(chunk)

    task = asyncio.create_task(read())
    await asyncio.sleep(0.12)  # idle: keep-alives
    log.extend(events[5:])
    await asyncio.wait_for(task, 5)
    body = b"".join(chunks)
    expected = b"".join(sse.encode_event(e) for e in events[3:])
    assert chunks[0] == b"retry: 2000\n\n"
    assert sse.KEEPALIVE in chunks
    assert body.replace(sse.KEEPALIVE, b"") == b"retry: 2000\n\n" + expected


async def test_a_keep_alive_comes_after_a_whole_idle_interval_however_many_waits_came_before():
    # One timer per interval, re-armed lazily (KeepAlive): it must never fire for a stream that
    # has waited less than the interval since its last chunk, and never swallow a cancellation.
    loop = asyncio.get_running_loop()
    log = RunLog("r_test")
    received: list[tuple[float, bytes]] = []

    async def read() -> None:
        async for chunk in sse.run_stream(log, heartbeat=1.0):
            received.append((loop.time(), chunk))

    task = asyncio.create_task(read())
    appended: list[float] = []
    for i in range(30):  # busy for 1.5 s, longer than the interval; every wait is far shorter
        await asyncio.sleep(0.05)
        log.append(ev.TextDeltaData(step_id="s1", delta=f"w{i} ", phase_id="p1"))
        appended.append(loop.time())
    await asyncio.sleep(1.4)  # then idle: one keep-alive, a whole interval after the last event
    keepalives = [t for t, chunk in received if chunk == sse.KEEPALIVE]
    assert len(keepalives) == 1 and keepalives[0] >= appended[-1] + 1.0, (keepalives, appended[-1])
    assert b"".join(c for _, c in received if c != sse.KEEPALIVE) == (
        sse.retry_frame() + b"".join(sse.encode_event(e) for e in log.events))
    before = len(received)
    task.cancel()  # the client went away while the stream waits: that is no keep-alive
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(received) == before and log.waiting == 0


async def test_run_stream_sends_what_is_waiting_as_one_chunk_of_at_most_max_batch_events():
    log = RunLog("r_test")
    events = sample_run()
    log.extend(events[:-1])
    while len(log) < 1_200:  # a long answer
        log.append(ev.TextDeltaData(step_id="s9", delta=f"word{len(log)} ", phase_id="p2"))
    stream = sse.run_stream(log, heartbeat=60)
    chunks = [await anext(stream) for _ in range(1 + 3)]  # retry, then the backlog in three chunks
    frames = [sse.encode_event(e) for e in log.events]
    assert chunks == [sse.retry_frame(), b"".join(frames[:500]), b"".join(frames[500:1_000]),
                      b"".join(frames[1_000:])]
    # Events appended while the stream is not being read go out together, as one chunk.
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    log.append(ev.TextDeltaData(step_id="s9", delta="more", phase_id="p2"))
    log.append(ev.TextData(step_id="s9", text="…", phase_id="p2"))
    log.append(events[-1].data)
    assert await asyncio.wait_for(waiting, 5) == b"".join(sse.encode_event(e) for e in log.events[1_200:])
    with pytest.raises(StopAsyncIteration):  # the terminal event was the last
        await anext(stream)


async def test_a_stream_waiting_for_the_next_event_holds_no_copy_of_what_it_sent():
    # A thousand idle streams would each hold their last chunk (up to MAX_BATCH frames) otherwise.
    log = RunLog("r_test")
    while len(log) < sse.MAX_BATCH:
        log.append(ev.TextDeltaData(step_id="s9", delta=f"{len(log):04d}" + "x" * 4_000, phase_id="p2"))
    first = sse.run_stream(log, heartbeat=60)
    await anext(first)
    await anext(first)  # the backlog: the log's frames are encoded now, before what is traced
    stream = sse.run_stream(log, heartbeat=60)
    await anext(stream)
    tracemalloc.start()
    try:
        sent = len(await anext(stream))  # the whole backlog, joined for this stream
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        assert not waiting.done() and log.waiting == 1
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent > 2_000_000 and held < 100_000
    log.append(ev.ExecutionCancelledData(reason="done", duration=1))
    assert (await asyncio.wait_for(waiting, 5)).startswith(b"id: 501\n")
    await first.aclose()
    await stream.aclose()


@dataclass
class Restarted:
    """A service on a store that holds one finished run, with every read of the store recorded."""

    service: RunService
    run: Run
    """The run as the first service had it."""
    loads: list[tuple[str, threading.Thread]]
    """(run id, thread) of each ``store.load``."""


@pytest.fixture
async def restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Restarted]:
    first = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws")
    run = first.create(ADA, {"task": "Write a haiku", "model": "simulated", "strategy": "react"})
    await asyncio.wait_for(run.wait_async(), 20)
    await first.close()
    second = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws")
    loads: list[tuple[str, threading.Thread]] = []
    original = second.store.load
    monkeypatch.setattr(second.store, "load",
                        lambda run_id: loads.append((run_id, threading.current_thread())) or original(run_id))
    yield Restarted(second, run, loads)
    await second.close()


async def test_finished_runs_are_read_from_the_store_once(restarted: Restarted):
    service, run = restarted.service, restarted.run
    for _ in range(3):
        assert len(service.get(ADA, run.id).events) == len(run.events)
    assert [run_id for run_id, _ in restarted.loads] == [run.id]
    with pytest.raises(Refusal):
        service.get(BOB, run.id)  # the cache does not bypass ownership


async def test_prefetch_reads_a_stored_run_in_a_worker_thread_once(restarted: Restarted):
    service, run = restarted.service, restarted.run
    for run_id in (run.id, run.id, "r_0000000000000000", "../etc"):
        await service.prefetch(run_id)
    assert [e.to_dict() for e in service.get(ADA, run.id).events] == [e.to_dict() for e in run.events]
    # held after the first read; an unknown id is looked for, a malformed one never
    assert [run_id for run_id, _ in restarted.loads] == [run.id, "r_0000000000000000"]
    assert all(thread is not threading.main_thread() for _, thread in restarted.loads)
    with pytest.raises(Refusal):
        service.get(BOB, run.id)  # holding a run gives no one else access to it


async def test_a_run_file_comes_in_a_few_chunks_header_first(restarted: Restarted, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service_module, "RUN_FILE_BATCH", 7)
    service, run = restarted.service, restarted.run
    chunks = list(service.run_file(ADA, run.id))
    assert json.loads(chunks[0])["format"] == "workbench-run" and chunks[0].count(b"\n") == 1
    assert [c.count(b"\n") for c in chunks[1:]] == [min(7, len(run.events) - i) for i in range(0, len(run.events), 7)]
    assert b"".join(chunks[1:]) == b"".join(e.to_json().encode() + b"\n" for e in run.events)
    refused = service.run_file(BOB, run.id)
    with pytest.raises(Refusal):  # before anything is sent
        next(refused)


async def test_requests_for_a_run_being_read_wait_for_that_one_read(restarted: Restarted):
    service, run = restarted.service, restarted.run
    await asyncio.gather(*(service.prefetch(run.id) for _ in range(10)))  # ten clients reconnecting at once
    assert [run_id for run_id, _ in restarted.loads] == [run.id]


async def test_closing_waits_for_reads_under_way_and_refuses_new_ones(restarted: Restarted, monkeypatch):
    service, run = restarted.service, restarted.run
    load = service.store.load

    def slow_load(run_id: str) -> Run | None:  # a long run takes a while to parse
        time.sleep(0.3)
        return load(run_id)

    monkeypatch.setattr(service.store, "load", slow_load)
    reading = asyncio.ensure_future(service.prefetch(run.id))
    await asyncio.sleep(0.05)
    await service.close()  # (the fixture's close then finds it closed, which is fine)
    await reading  # it finished on an open database, so no error
    assert service.get(ADA, run.id).id == run.id
    with pytest.raises(Refusal) as refused:
        await service.prefetch("r_0000000000000001")
    assert refused.value.status == 503


def test_a_service_that_cannot_start_lets_its_store_go(tmp_path: Path):
    with pytest.raises(UserError, match="unknown tools"):
        RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws", allowed_tools=["nope"])
    service = RunService(store_path=tmp_path / "runs.db", workspace_root=tmp_path / "ws")  # not StoreInUse
    asyncio.run(service.close())


async def test_ended_runs_leave_the_live_table_and_an_event_is_encoded_once(service: RunService, monkeypatch):
    runs = []
    for i in range(3):
        run = service.create(ADA, {"task": f"t{i}", "model": "simulated", "strategy": "react"})
        await asyncio.wait_for(run.wait_async(), 20)
        runs.append(run)
    assert service.store.flush()  # an ended run leaves once all its events are stored
    service.create(ADA, {"task": "one more", "model": "simulated", "strategy": "react"})
    assert all(r.id not in service._live for r in runs)
    assert service.get(ADA, runs[0].id) is runs[0]  # still served, from the bounded cache
    encoded: list[int] = []
    original = sse.encode_event
    monkeypatch.setattr(sse, "encode_event", lambda e: encoded.append(e.id) or original(e))
    log = runs[1].log
    bodies = [b"".join([c async for c in sse.run_stream(log)]) for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2] == sse.retry_frame() + b"".join(original(e) for e in log.events)
    assert sorted(encoded) == list(range(1, len(log.events) + 1))  # once each, for three streams
