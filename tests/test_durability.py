"""Nothing a server took in is lost: a disk that fills up, a run the store cannot record,
a server killed with SIGKILL in the middle of a fast run.

The full disk is a real small filesystem made by the test (``tests/disk.py``: a tmpfs as
root, else SQLite's ``max_page_count``); the kills are of a real ``workbench serve``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from disk import SmallDisk
from servers import frames_of, raw_get, start_server, until
from test_store import make_run

from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.runfile import read_run_file
from workbench.core.store import RunStore, StoreUnavailable
from workbench.serving import sse
from workbench.serving.service import Principal, Refusal, RunService

ADA = Principal("ada")
LONG = {"task": "Write a long report on tide pools", "model": "simulated", "strategy": "react"}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "disk")
    yield small
    small.free()
    small.close()


def text_run(run_id: str, pieces: int, size: int) -> list[ev.EventData]:
    """A whole run whose text streams in ``pieces`` deltas of ``size`` characters."""
    deltas = [f"{i:06d}" + "x" * (size - 6) for i in range(pieces)]
    return [
        ev.ExecutionStartedData(task="t", started_at="2026-11-24T10:00:00.000Z", model="simulated", strategy="react"),
        *(ev.TextDeltaData(step_id="s1", delta=d) for d in deltas),
        ev.TextData(step_id="s1", text="".join(deltas)),
        ev.ExecutionCompleteData(result="done", duration=1.0, tokens_used=ev.Usage()),
    ]


# --- the store ----------------------------------------------------------------------------------


def test_a_full_disk_loses_nothing_and_the_store_writes_again_once_space_is_back(disk: SmallDisk):
    store = RunStore(disk.path / "runs.db")
    disk.cap(store)
    run = make_run("r_1", "ada", "2026-11-24T10:00:00.000Z")
    store.add(run)
    whole = text_run(run.id, pieces=400, size=2000)  # 800 KB: more than the WAL holds already
    run.log.append(whole[0])
    assert store.flush() and run.log.published == 1

    disk.fill()
    for data in whole[1:200]:
        run.log.append(data)
    deadline = time.monotonic() + 10
    while store.problem is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.problem is not None and "full" in store.problem, (disk.how, store.problem)
    assert run.log.published == len(run.log) == 200  # clients read them from memory meanwhile
    assert not store.flush(timeout=0.3) and store.unstored(run.id, len(run.log)) > 0
    with pytest.raises(StoreUnavailable, match="cannot write: database or disk is full"):
        store.add(make_run("r_2", "ada", "2026-11-24T11:00:00.000Z"))

    disk.free()
    assert store.flush(timeout=10) and store.problem is None  # retried by itself, nothing dropped
    for data in whole[200:]:
        run.log.append(data)
    assert store.flush()
    store.add(make_run("r_2", "ada", "2026-11-24T11:00:00.000Z"))  # and takes new runs again
    store.close()

    reopened = RunStore(disk.path / "runs.db")
    loaded = reopened.load("r_1")
    assert loaded is not None
    assert [e.to_json() for e in loaded.events] == [e.to_json() for e in run.events]
    assert contract_violations(list(loaded.events)) == []
    assert [(s["id"], s["status"], s["eventCount"]) for s in reopened.summaries("ada")] == [
        ("r_2", "running", 0), ("r_1", "complete", len(whole))]
    reopened.close()


def test_clients_see_an_event_only_once_it_is_stored(tmp_path: Path):
    store = RunStore(tmp_path / "runs.db")
    run = make_run("r_1", "ada", "2026-11-24T10:00:00.000Z")
    store.add(run)
    with store._database.lock:  # hold the writer at the database, as a slow disk would
        for data in text_run(run.id, pieces=3, size=10):
            run.log.append(data)
        time.sleep(0.2)
        assert (len(run.log), run.log.published, run.summary()["eventCount"]) == (6, 0, 0)
        assert run.state.status == "pending" and not run.log.wait_closed(0.05)
    assert store.flush() and run.log.published == 6 and run.log.wait_closed(1)
    assert run.state.status == "complete"
    store.close()


# --- the service: runs go on from memory, new ones are refused, then everything is stored ---------


async def test_while_the_disk_is_full_runs_stream_from_memory_and_new_runs_are_refused(disk: SmallDisk, tmp_path: Path):
    service = RunService(store_path=disk.path / "runs.db", workspace_root=tmp_path / "ws")
    disk.cap(service.store)
    run = service.create(ADA, {**LONG, "strategy": "plan", "options": {"pace": 300}})
    received: list[bytes] = []
    reading = asyncio.ensure_future(_collect(sse.run_stream(run.log, heartbeat=60), received))
    await until(lambda: run.log.published > 20, what="the first stored events", timeout=15.0)

    disk.fill()
    await until(lambda: service.store.problem is not None, what="the store to notice the full disk", timeout=15.0)
    with pytest.raises(Refusal) as refused:
        service.create(ADA, LONG)
    assert refused.value.status == 503 and refused.value.error_type == "store_unavailable"
    assert "database or disk is full" in refused.value.message and "keep streaming" in refused.value.message
    stored_then = len(run.log) - service.store.unstored(run.id, len(run.log))
    await until(lambda: run.log.published > stored_then + 20, what="events beyond the stored ones to reach clients", timeout=15.0)
    [listed] = service.list(ADA)["runs"]  # the refused run left nothing behind
    assert listed["id"] == run.id and listed["notStored"]["reason"] == "database or disk is full"
    assert listed["notStored"]["events"] > 0 and service.detail(ADA, run.id)["notStored"] == listed["notStored"]

    disk.free()
    await asyncio.wait_for(run.wait_async(), 60)
    await asyncio.wait_for(reading, 10)
    assert b"".join(received) == sse.retry_frame() + frames_of(list(run.events))
    assert service.store.flush(), service.store.problem
    assert service.store.problem is None
    summary, detail = service.list(ADA)["runs"][0], service.detail(ADA, run.id)
    assert "notStored" not in summary and summary == {k: detail[k] for k in summary}
    assert (summary["status"], summary["eventCount"]) == ("complete", len(run.events))
    service.create(ADA, {**LONG, "options": {"pace": 0}})  # space is back: runs start again
    await service.close()

    again = RunService(store_path=disk.path / "runs.db", workspace_root=tmp_path / "ws")
    stored = again.get(ADA, run.id)
    assert [e.to_json() for e in stored.events] == [e.to_json() for e in run.events]
    assert contract_violations(list(stored.events)) == []
    await again.close()


async def _collect(chunks: Any, into: list[bytes]) -> None:
    async for chunk in chunks:
        into.append(chunk)


async def test_a_run_that_cannot_be_stored_never_starts(tmp_path: Path):
    served = await start_server(tmp_path, max_runs_per_user=1)
    try:
        async with aiohttp.ClientSession() as http:
            # A lone surrogate: JSON can carry it, text cannot. Refused before anything starts.
            async with http.post(f"{served.api}/runs", data=b'{"task": "tide pools \\udfff", "model": "simulated"}',
                                 headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400
                error = (await r.json())["error"]
            assert error["type"] == "invalid_request" and "lone surrogate '\\udfff' at character 11" in error["message"]
            assert served.service.list(ADA)["runs"] == [] and served.service._live == {}
            async with http.post(f"{served.api}/runs", json={"task": "a haiku", "model": "simulated"}) as r:
                assert r.status == 201  # the refused run does not count against the limit of one
    finally:
        await served.runner.cleanup()


async def test_a_run_the_store_refuses_is_a_503_and_nothing_goes_on(disk: SmallDisk, tmp_path: Path):
    service = RunService(store_path=disk.path / "runs.db", workspace_root=tmp_path / "ws", max_runs_per_user=100)
    disk.cap(service.store)
    disk.fill()
    started = []
    with pytest.raises(Refusal) as refused:  # rows are small: the first few may still fit in the last pages
        for i in range(50):
            started.append(service.create(ADA, {**LONG, "task": f"run {i}", "options": {"pace": 0}}))
            await asyncio.sleep(0.05)
    assert refused.value.status == 503 and refused.value.error_type == "store_unavailable"
    disk.free()
    assert service.store.flush()
    # Every run that started is a stored run, and the refused one left no workspace behind.
    assert sorted(r.id for r in started) == sorted(s["id"] for s in service.store.summaries("ada"))
    workspaces = tmp_path / "ws" / "ada"
    assert sorted(p.name for p in workspaces.iterdir()) == sorted(r.id for r in started)
    await service.close()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs a tmpfs (root)")
async def test_a_server_restarted_on_a_full_disk_recovers_its_runs_once_space_is_back(disk: SmallDisk, tmp_path: Path):
    assert disk.mounted
    store = RunStore(disk.path / "runs.db")
    left = make_run("r_" + "1" * 16, "ada", "2026-11-24T10:00:00.000Z")
    store.add(left)  # a run whose process died before any event was stored, and one that died mid-way
    half = make_run("r_" + "2" * 16, "ada", "2026-11-24T11:00:00.000Z")
    store.add(half)
    for data in text_run(half.id, pieces=3, size=10)[:3]:
        half.log.append(data)
    assert store.flush()
    store.close()
    disk.fill()

    with pytest.raises(Exception, match="disk I/O error|database or disk is full"):
        RunService(store_path=disk.path / "runs.db", workspace_root=tmp_path / "ws")
    disk.free()
    service = RunService(store_path=disk.path / "runs.db", workspace_root=tmp_path / "ws")
    assert service.store.flush()
    await service.close()
    again = RunStore(disk.path / "runs.db")
    for run_id in (left.id, half.id):
        loaded = again.load(run_id)
        assert loaded is not None and contract_violations(list(loaded.events)) == [], run_id
        assert loaded.events[0].type == "execution:started" and loaded.state.status == "interrupted"
    assert [s["status"] for s in again.summaries("ada")] == ["interrupted", "interrupted"]
    again.close()


# --- kill -9 at a high event rate: what a client received is what the server kept -----------------


def _serve_command(tmp_path: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), "--store", str(tmp_path / "runs.db"),
            "--workspace-root", str(tmp_path / "ws")]


async def _start_serve(tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(*_serve_command(tmp_path, port), stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT,
                                                   env={**os.environ, "NO_COLOR": "1"})
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line, "workbench serve exited before listening"
        if line.startswith("Stop with Ctrl-C"):
            return process


@pytest.mark.parametrize("kill_after", [50, 300, 600])
async def test_after_kill_9_no_event_a_client_received_is_lost_or_its_id_reused(tmp_path: Path, kill_after: int):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = await _start_serve(tmp_path, port)
    api = f"http://127.0.0.1:{port}/api"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/runs", json={**LONG, "strategy": "plan", "options": {"pace": 2000}}) as r:
            assert r.status == 201
            run_id = (await r.json())["id"]
        received = b""
        async with http.get(f"{api}/runs/{run_id}/events") as stream:
            async for chunk in stream.content.iter_any():
                received += chunk
                if received.count(b"\n\nid: ") >= kill_after:
                    break
    process.send_signal(signal.SIGKILL)
    await asyncio.wait_for(process.wait(), 15)
    frames = [f + b"\n\n" for f in received.split(b"\n\n") if f.startswith(b"id: ")]
    ids = [int(f.split(b"\n", 1)[0][4:]) for f in frames]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= kill_after

    restarted = await _start_serve(tmp_path, port)
    try:
        log = await raw_get(port, f"/api/runs/{run_id}/log")
        path = tmp_path / "after.jsonl"
        path.write_bytes(log.body)
        _, kept = read_run_file(path)
        assert frames_of(kept[: len(frames)]) == b"".join(frames)  # every event received is there, unchanged
        assert contract_violations(kept) == [] and kept[-1].type == "execution:error"
        assert kept[-1].data.error.type == "interrupted" and kept[-1].id > ids[-1]  # a new id, not a reused one
        resumed = await raw_get(port, f"/api/runs/{run_id}/events", {"Last-Event-ID": str(ids[-1])})
        assert resumed.status == 200 and resumed.body == b"retry: 2000\n\n" + frames_of(kept[len(frames):])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api}/runs/{run_id}/events", headers={"Last-Event-ID": str(kept[-1].id)}) as past:
                assert past.status == 204  # at the end: a clear answer, never a stream that waits in silence
            async with http.get(f"{api}/runs/{run_id}") as detail:
                summary = await detail.json()
        assert (summary["status"], summary["eventCount"]) == ("interrupted", len(kept))
    finally:
        restarted.send_signal(signal.SIGINT)
        await asyncio.wait_for(restarted.wait(), 15)
