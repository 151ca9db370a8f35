"""What runs shared through Redis keep once Redis lets them go, and what replicas count together:
``--archive`` (a SQLite file every replica and worker shares) holds each ended run whole; the limit of
runs going per user and ``/metrics``' run counts are those of every replica. Real ``redis-server``,
replicas and workers each in a process of their own, as in test_redis.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from redis_cluster import ROOT, Process, RedisServer, environment, start_replica, start_worker
from test_redis import SLOW, env, processes, simulator

from workbench.core import events as ev

__all__ = ["env", "processes", "simulator"]

TOKENS = {"ada": "ada-token-0123456789", "bob": "bob-token-0123456789"}


def workshop(tmp_path: Path) -> Path:
    """Two people who start runs of their own (instructors), so that each sees only their own runs."""
    path = tmp_path / "people.toml"
    path.write_text("".join(f'[[people]]\nname = "{name}"\nrole = "instructor"\ntoken = "{token}"\n\n'
                            for name, token in TOKENS.items()))
    return path


async def call(api: str, method: str, path: str, who: str = "ada", body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {TOKENS[who]}", **(headers or {})}
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session, \
            session.request(method, api + path, json={} if body is None and method == "POST" else body,
                            headers=headers) as reply:
        return reply.status, await reply.read()


async def answer(api: str, method: str, path: str, who: str = "ada", body: Any = None) -> tuple[int, Any]:
    import json

    status, raw = await call(api, method, path, who, body)
    return status, json.loads(raw) if raw else None


async def stream_bytes(api: str, run_id: str, who: str = "ada", after: int = 0) -> bytes:
    """A whole event stream as sent, but its keep-alive comments (they come when they come)."""
    _, raw = await call(api, "GET", f"/runs/{run_id}/events", who, headers={"Last-Event-ID": str(after)})
    return b"".join(line for line in raw.splitlines(keepends=True) if not line.startswith(b":"))


async def until_ended(api: str, run_id: str, who: str = "ada") -> dict[str, Any]:
    for _ in range(1200):
        status, detail = await answer(api, "GET", f"/runs/{run_id}", who)
        assert status == 200, detail
        if detail["status"] not in ("running", "paused"):
            return detail  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} never ended")


async def listed(api: str, who: str = "ada", limit: int = 1) -> list[list[str]]:
    """Every page of ``who``'s runs, ``limit`` to a page, following ``next``."""
    pages: list[list[str]] = []
    before = ""
    while True:
        status, page = await answer(api, "GET", f"/runs?limit={limit}{before}", who)
        assert status == 200, page
        pages.append([run["id"] for run in page["runs"]])
        if page["next"] is None:
            return pages
        before = f"&before={page['next']}"


async def test_an_ended_run_redis_let_go_is_listed_streamed_downloaded_and_forked_from_the_archive(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]) -> None:
    people, archive = workshop(tmp_path), tmp_path / "archive" / "runs.db"
    made = await asyncio.gather(
        start_replica(real_redis, tmp_path, "--workshop", str(people), "--archive", str(archive), env=env),
        start_replica(real_redis, tmp_path, "--workshop", str(people), env=env),  # no archive: as before
        start_worker(real_redis, tmp_path, "w1", "--archive", str(archive), "--ended-ttl", "1", env=env))
    processes.extend(made)
    archived, plain, _worker = made
    status, first = await answer(plain.api, "POST", "/runs", body=SLOW)
    assert status == 201, first
    run_id = first["id"]
    await until_ended(plain.api, run_id)
    # Read through the replica without the archive while Redis has the run: the one with it never held it.
    before_stream = await stream_bytes(plain.api, run_id)
    resumed_before = await stream_bytes(plain.api, run_id, after=7)
    _, run_file = await call(plain.api, "GET", f"/runs/{run_id}/log")
    _, detail = await answer(plain.api, "GET", f"/runs/{run_id}")
    client = redis.Redis.from_url(real_redis.url, decode_responses=True)
    try:
        for _ in range(100):  # the worker lets it expire once it is in the archive: one second
            if not client.exists(f"wb:run:{run_id}", f"wb:run:{run_id}:events"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the run never expired from Redis")
        assert client.zscore("wb:owner:ada:going", run_id) is None
    finally:
        client.close()
    # Gone from Redis: a replica without the archive lists it no more; one with it serves it as it was.
    assert (await answer(plain.api, "GET", "/runs"))[1] == {"runs": [], "next": None}
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/events", f"/runs/{run_id}/log"):
        assert (await call(archived.api, "GET", path, "bob"))[0] == 404  # someone else's run, as any unknown one
    assert (await answer(archived.api, "GET", "/runs", "bob"))[1] == {"runs": [], "next": None}
    assert before_stream.count(b"\nevent: ") + before_stream.startswith(b"event: ") > 10
    assert await stream_bytes(archived.api, run_id) == before_stream
    assert await stream_bytes(archived.api, run_id, after=7) == resumed_before
    assert (await call(archived.api, "GET", f"/runs/{run_id}/log")) == (200, run_file)
    assert (await answer(archived.api, "GET", f"/runs/{run_id}")) == (200, detail)
    # A fork of the archived run: the replica plans it from the archive, the worker reads its parent there.
    status, fork = await answer(archived.api, "POST", f"/runs/{run_id}/fork", body={"at": 5})
    assert status == 201, fork
    forked = await until_ended(archived.api, fork["id"])
    assert forked["status"] == "complete" and forked["parentId"] == run_id
    status, going = await answer(archived.api, "POST", "/runs", body=SLOW)  # in Redis, going
    assert status == 201, going
    # Pages across Redis (the run going) and the archive (the parent, and the fork once it expires), newest first.
    expected = [going["id"], fork["id"], run_id]
    assert await listed(archived.api, limit=1) == [[run_id] for run_id in expected]
    assert await listed(archived.api, limit=2) == [expected[:2], expected[2:]]
    assert await listed(archived.api, limit=100) == [expected]
    await until_ended(archived.api, going["id"])
    await asyncio.sleep(1.5)  # every run ended has now expired from Redis: the archive lists them all
    assert await listed(archived.api, limit=1) == [[run_id] for run_id in expected]
    assert await listed(archived.api, "bob") == [[]]


async def scrape_runs(api: str, metric: str = "workbench_runs", label: str = "status") -> dict[str, float]:
    """``workbench_runs`` by status (or another metric by its label), from a replica's ``/metrics``."""
    _, raw = await call(api.removesuffix("/api"), "GET", "/metrics")
    return {s.labels[label]: s.value for family in text_string_to_metric_families(raw.decode())
            for s in family.samples if s.name == metric}


async def test_the_limit_of_runs_going_and_the_run_counts_are_those_of_every_replica(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]) -> None:
    people = workshop(tmp_path)
    made = await asyncio.gather(*[start_replica(real_redis, tmp_path, "--workshop", str(people),
                                                "--max-runs-per-user", "2", env=env) for _ in range(2)],
                                start_worker(real_redis, tmp_path, "w1", env=env))
    processes.extend(made)
    a, b, _worker = made
    started = [await answer(a.api, "POST", "/runs", body=SLOW) for _ in range(2)]
    assert [status for status, _ in started] == [201, 201]
    status, refused = await answer(b.api, "POST", "/runs", body=SLOW)
    assert status == 429 and refused["error"]["type"] == "too_many_runs", refused
    assert "you have 2 runs going" in refused["error"]["message"]
    assert (await answer(b.api, "POST", "/runs", "bob", SLOW))[0] == 201  # someone else's limit is their own
    going = {"running": 3, "complete": 0, "error": 0, "cancelled": 0, "interrupted": 0}
    assert await scrape_runs(a.api) == await scrape_runs(b.api) == going
    # A stream's figures are its replica's own: one watcher on A is on A's figures only.
    second = started[1][1]["id"]
    watching = asyncio.create_task(stream_bytes(a.api, second))
    for _ in range(100):
        if await scrape_runs(a.api, "workbench_run_subscribers", "run_id"):
            break
        await asyncio.sleep(0.1)
    assert await scrape_runs(a.api, "workbench_run_subscribers", "run_id") == {second: 1}
    assert await scrape_runs(b.api, "workbench_run_subscribers", "run_id") == {}
    watching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watching
    first = started[0][1]["id"]
    assert (await answer(b.api, "POST", f"/runs/{first}/cancel"))[0] == 202
    assert (await until_ended(b.api, first))["status"] == "cancelled"
    status, again = await answer(b.api, "POST", "/runs", body=SLOW)  # one ended: a place again, on any replica
    assert status == 201, again
    assert (await answer(a.api, "POST", "/runs", body=SLOW))[0] == 429
    counts = {**going, "running": 3, "cancelled": 1}
    assert await scrape_runs(a.api) == await scrape_runs(b.api) == counts


@pytest.mark.parametrize("command", ["serve", "worker"])
async def test_an_archive_that_cannot_be_opened_stops_the_start_saying_which_and_why(
        real_redis: RedisServer, tmp_path: Path, command: str) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("these are notes, not a database\n" * 200)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "workbench.cli", command, "--redis", real_redis.url,
                         "--archive", str(not_a_database), "--workspace-root", str(tmp_path / "w")],
        env=environment(WORKBENCH_HOME=str(tmp_path / "home")), capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"cannot open the run archive {not_a_database}: file is not a database" in done.stderr


def test_an_archive_keeps_a_whole_run_once_in_the_run_stores_own_file_format(tmp_path: Path) -> None:
    from workbench.core.handle import Run
    from workbench.core.log import RunLog
    from workbench.core.run_archive import RunArchive
    from workbench.core.store import RunStore

    run = Run(run_id="r_00000000000000a1", task="Write a haiku", model="simulated", strategy="react",
              created_at="2026-12-02T10:00:00.000Z", owner="ada", log=RunLog("r_00000000000000a1"),
              options={"maxTurns": 3}, tools=["read_file"], parent_id="r_00000000000000a0", forked_at=4)
    run.log.append(ev.ExecutionStartedData(task=run.task, started_at=run.created_at, model="simulated", strategy="react"))
    run.log.append(ev.ExecutionCancelledData(reason="enough", duration=1.0))
    first, second = RunArchive(tmp_path / "a.db"), RunArchive(tmp_path / "a.db")  # two processes' worth
    first.put(run, shared=True)
    second.put(run, shared=False)  # a second worker archiving the run again (a takeover) changes nothing
    for archive in (first, second):
        again = archive.load(run.id)
        assert again is not None
        assert [e.to_json() for e in again.log.events] == [e.to_json() for e in run.log.events]
        assert (again.owner, again.task, again.options, again.tools, again.parent_id, again.forked_at) == (
            "ada", "Write a haiku", {"maxTurns": 3}, ["read_file"], "r_00000000000000a0", 4)
        assert archive.owner_of(run.id) == ("ada", True) and archive.owner_of("r_00000000000000ff") is None
        summary = archive.summaries_of([run.id, "r_00000000000000ff"])
        assert list(summary) == [run.id] and summary[run.id]["status"] == "cancelled"
        assert summary[run.id]["eventCount"] == 2
        archive.close()
    store = RunStore(tmp_path / "a.db")  # the same file, as a server's store: the same run
    try:
        assert store.summaries() == [{**summary[run.id]}]
        loaded = store.load(run.id)
        assert loaded is not None and [e.id for e in loaded.log.events] == [1, 2]
    finally:
        store.close()
