"""Runs shared through Redis (issue 15): ``workbench serve --redis`` replicas and ``workbench worker``
processes around a real ``redis-server``, each in a process of its own, killed for real.

What holds: any replica serves any run (list, stream, resume, controls); a client that changes
replica at every reconnect gets the log exactly once, also when its replica is killed mid-stream;
a worker killed mid-run leaves a run another worker completes, asking the model nothing again for
the turns that had ended; Redis restarted (its AOF kept) loses nothing a client saw.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis_cluster import Process, RedisServer, environment, start_replica, start_worker
from test_fork import FINAL, KEY, MODEL, PHASES, PLAN, RecordingSimulator

from conftest import write_scenario
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.simulator import serve

SLOW = {"task": "Write a haiku about tides", "model": MODEL}
"""A run of six model calls, which the simulator streams for some seconds: long enough to cut, kill
and control it mid-way."""


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[tuple[RecordingSimulator, str]]:
    """The project's simulator over a socket, streaming slowly, counting the requests of every worker."""
    from workbench.simulator import load_scenario

    path = write_scenario(tmp_path / "scenario.json", plan=PLAN, phases=PHASES, final=FINAL)
    sim = RecordingSimulator(load_scenario(path), api_key=KEY, pace=15)
    async with serve(sim) as base_url:
        yield sim, base_url


@pytest.fixture
def env(tmp_path: Path, simulator: tuple[RecordingSimulator, str]) -> dict[str, str]:
    """The environment of the workbench processes: their own home, the simulator as the API."""
    return environment(WORKBENCH_HOME=str(tmp_path / "home"), ANTHROPIC_BASE_URL=simulator[1], ANTHROPIC_API_KEY=KEY)


@pytest.fixture
async def processes() -> AsyncIterator[list[Process]]:
    """Every process a test starts, stopped at its end whatever happened."""
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


async def cluster(redis: RedisServer, home: Path, env: dict[str, str], started: list[Process], *,
                  replicas: int = 2, workers: int = 2) -> tuple[list[Process], list[Process]]:
    """Replicas and workers on ``redis``, started together (each takes seconds to import)."""
    made = await asyncio.gather(*[start_replica(redis, home, env=env) for _ in range(replicas)],
                                *[start_worker(redis, home, f"w{i + 1}", env=env) for i in range(workers)])
    started.extend(made)
    return list(made[:replicas]), list(made[replicas:])


async def post(api: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(api + path, json=body or {}) as reply:
        return reply.status, await reply.json()


async def get(api: str, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(api + path) as reply:
        return reply.status, await reply.json()


async def frames(api: str, run_id: str, after: int) -> AsyncIterator[ev.Event]:
    """The events of one SSE connection resuming after event ``after``."""
    timeout = aiohttp.ClientTimeout(total=120, sock_read=30)
    url, headers = f"{api}/runs/{run_id}/events", {"Last-Event-ID": str(after)}
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, headers=headers) as reply:
        if reply.status == 204:
            return
        assert reply.status == 200, await reply.text()
        data: list[str] = []
        async for raw in reply.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                event = ev.parse_event("\n".join(data), keep_unknown=True)
                assert event is not None
                data = []
                yield event


async def read_whole_log(apis: list[str], run_id: str, *, per_connection: int,
                         kill_after: tuple[int, Process] | None = None) -> tuple[list[ev.Event], int]:
    """Read a run's log as a browser would, but going to the next replica at every reconnect: at most
    ``per_connection`` events per connection; ``kill_after``: SIGKILL that replica once that many events
    are in. The events received, and how many connections it took."""
    received: list[ev.Event] = []
    connections = 0
    while not received or received[-1].type not in ev.TERMINAL_TYPES:
        api = apis[connections % len(apis)]
        connections += 1
        taken = 0
        try:
            async for event in frames(api, run_id, received[-1].id if received else 0):
                received.append(event)
                taken += 1
                if kill_after is not None and len(received) == kill_after[0]:
                    kill_after[1].kill()
                if taken == per_connection:
                    break
        except (TimeoutError, aiohttp.ClientError):
            pass  # the replica went away: resume on the next one
        assert connections < 500, "the log never ended"
    return received, connections


def ids(events: list[ev.Event]) -> list[int]:
    return [e.id for e in events]


async def test_a_client_changing_replica_at_every_reconnect_gets_the_log_exactly_once(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]):
    replicas, _workers = await cluster(real_redis, tmp_path, env, processes)
    a, b = replicas
    status, created = await post(a.api, "/runs", SLOW)
    assert status == 201 and created["status"] == "running" and created["eventCount"] == 0
    # listed by the other replica at once
    status, listed = await get(b.api, "/runs")
    assert status == 200 and [r["id"] for r in listed["runs"]] == [created["id"]]
    received, connections = await read_whole_log([a.api, b.api], created["id"], per_connection=7)
    assert ids(received) == list(range(1, len(received) + 1)) and connections > 4
    assert contract_violations(received) == [] and received[-1].type == "execution:complete"
    # what both replicas have of it is what the client got, byte for byte
    for replica in replicas:
        whole = [e async for e in frames(replica.api, created["id"], 0)]
        assert [e.to_json() for e in whole] == [e.to_json() for e in received]
        status, detail = await get(replica.api, f"/runs/{created['id']}")
        assert detail["status"] == "complete" and detail["eventCount"] == len(received)


async def test_a_replica_killed_mid_stream_costs_its_clients_one_reconnect(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]):
    replicas, _workers = await cluster(real_redis, tmp_path, env, processes)
    a, b = replicas
    _, created = await post(b.api, "/runs", SLOW)
    received, connections = await read_whole_log([a.api, b.api], created["id"], per_connection=10**9,
                                                 kill_after=(12, a))
    assert connections == 2  # the first replica's stream, then the other's
    assert ids(received) == list(range(1, len(received) + 1))
    assert contract_violations(received) == [] and received[-1].type == "execution:complete"


def conversation(body: dict[str, Any]) -> str:
    """A request's conversation, the part that says which turn it asks for."""
    return json.dumps([body.get("system"), body["messages"]], sort_keys=True)


async def test_a_worker_killed_mid_run_leaves_a_run_another_worker_completes_asking_no_turn_twice(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process],
        simulator: tuple[RecordingSimulator, str]):
    replicas, workers = await cluster(real_redis, tmp_path, env, processes, replicas=1, workers=1)
    _, created = await post(replicas[0].api, "/runs", SLOW)
    run_id = created["id"]
    # kill the worker once the draft turn has fully ended (its write_file call complete), in the next turn
    seen: list[ev.Event] = []
    async for event in frames(replicas[0].api, run_id, 0):
        seen.append(event)
        if event.type == "thinking:delta" and any(e.type == "tool:complete" for e in seen):
            workers[0].kill()
            break
    asked_before = len(simulator[0].bodies)
    assert asked_before == 3  # the plan, the draft, and the turn under way
    processes.append(await start_worker(real_redis, tmp_path, "w2", env=env))
    log = [e async for e in frames(replicas[0].api, run_id, 0)]
    assert contract_violations(log) == [], contract_violations(log)
    assert log[-1].type == "execution:complete"
    resumed = [e for e in log if e.type == "run:resumed"]
    assert len(resumed) == 1 and (resumed[0].data.attempt, resumed[0].data.worker) == (2, "w2")
    # it goes on from the end of the draft turn: its write_file call's tool:complete
    assert resumed[0].data.at == max(e.id for e in seen if e.type == "tool:complete")
    # events 1..n of the stopped worker are kept as they were: the client that saw them sees the same
    assert [e.to_json() for e in log[: len(seen)]] == [e.to_json() for e in seen]
    # no turn that had ended was asked again: the turn under way is the only one asked twice
    asked = [conversation(b) for b in simulator[0].bodies]
    assert len(asked) == 7 and len(set(asked)) == 6 and asked[2] == asked[3]
    assert sum(e.type == "model:response" for e in log) == 6


async def test_redis_restarted_with_its_aof_loses_nothing(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]):
    replicas, _workers = await cluster(real_redis, tmp_path, env, processes, replicas=1, workers=1)
    _, created = await post(replicas[0].api, "/runs", SLOW)
    received: list[ev.Event] = []
    restarted = False
    while not received or received[-1].type not in ev.TERMINAL_TYPES:
        try:
            async for event in frames(replicas[0].api, created["id"], received[-1].id if received else 0):
                received.append(event)
                if len(received) == 20 and not restarted:
                    restarted = True
                    await asyncio.to_thread(real_redis.restart)
        except (TimeoutError, aiohttp.ClientError):
            await asyncio.sleep(0.2)
    assert restarted and ids(received) == list(range(1, len(received) + 1))
    assert contract_violations(received) == [] and received[-1].type == "execution:complete"
    whole = [e async for e in frames(replicas[0].api, created["id"], 0)]
    assert [e.to_json() for e in whole] == [e.to_json() for e in received]


async def test_pause_messages_and_cancel_sent_to_any_replica_reach_the_worker_running_the_run(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]):
    replicas, _workers = await cluster(real_redis, tmp_path, env, processes)
    a, b = replicas
    _, created = await post(a.api, "/runs", SLOW)
    run_id = created["id"]
    async for event in frames(b.api, run_id, 0):
        if event.type == "thinking:delta":
            break
    status, paused = await post(b.api, f"/runs/{run_id}/pause")
    assert status == 202, paused
    async for event in frames(a.api, run_id, 0):
        if event.type == "execution:paused":
            break
    status, detail = await get(b.api, f"/runs/{run_id}")
    assert detail["status"] == "paused"
    # the worker's own refusal, as a local run gives it
    status, refused = await post(a.api, f"/runs/{run_id}/tools/toolu_none/decision", {"decision": "approve"})
    assert status == 404 and refused["error"]["type"] == "unknown_tool_call", refused
    status, said = await post(a.api, f"/runs/{run_id}/messages", {"text": "Make it about the moon"})
    assert status == 202, said
    status, _ = await post(b.api, f"/runs/{run_id}/messages", {"text": ""})
    assert status == 400
    status, resumed = await post(a.api, f"/runs/{run_id}/resume")
    assert status == 202, resumed
    status, cancelled = await post(b.api, f"/runs/{run_id}/cancel")
    assert status == 202, cancelled
    log = [e async for e in frames(a.api, run_id, 0)]
    assert log[-1].type == "execution:cancelled" and log[-1].data.reason == "cancelled by owner"
    kinds = [e.type for e in log]
    assert kinds.index("execution:paused") < kinds.index("user:message") < kinds.index("execution:resumed")
    assert contract_violations(log) == []
    message = next(e for e in log if e.type == "user:message")
    assert message.data.text == "Make it about the moon"


async def test_a_run_that_keeps_stopping_its_workers_ends_with_an_error_after_the_set_tries(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]):
    replica, first = await asyncio.gather(start_replica(real_redis, tmp_path, env=env),
                                          start_worker(real_redis, tmp_path, "w1", "--max-attempts", "1", env=env))
    processes += [replica, first]
    _, created = await post(replica.api, "/runs", SLOW)
    async for event in frames(replica.api, created["id"], 0):
        if event.type == "tool:start":
            first.kill()  # in the middle of a tool call
            break
    processes.append(await start_worker(real_redis, tmp_path, "w2", "--max-attempts", "1", env=env))
    log = [e async for e in frames(replica.api, created["id"], 0)]
    assert contract_violations(log) == []
    assert log[-1].type == "execution:error" and log[-1].data.error.type == "worker_lost"
    assert log[-1].data.error.message == ("the worker running this run stopped 1 time; it is not tried again "
                                          "(at most 1 attempt, --max-attempts)")
    # no worker went on with it: nothing of the turn under way was done again
    assert not any(e.type == "run:resumed" for e in log)
    _, detail = await get(replica.api, f"/runs/{created['id']}")
    assert detail["status"] == "error"


async def test_an_ended_run_expires_from_redis_after_ended_ttl_and_a_stale_writer_is_refused(real_redis: RedisServer):
    import redis

    from workbench.core.log import RunLog
    from workbench.serving.redis_settings import Keys, RedisSettings
    from workbench.serving.redis_writer import EventWriter

    conflicts: list[str] = []
    settings = RedisSettings(url=real_redis.url, ended_ttl=60)
    writer = EventWriter(settings, on_conflict=conflicts.append)
    client = redis.Redis.from_url(real_redis.url, decode_responses=True)
    keys = Keys(settings.prefix)
    try:
        client.hset(keys.row("r_1"), mapping={"id": "r_1", "status": "running"})
        log = RunLog("r_1")
        writer.follow(log)
        log.append(ev.ExecutionStartedData(task="t", started_at=ev.utc_timestamp(), model="simulated", strategy="react"))
        assert await asyncio.to_thread(writer.wait_written, "r_1", 10)
        assert client.ttl(keys.events("r_1")) == -1  # going: kept
        # another writer of the same run (a worker thought dead) is refused by Redis: ids are entry ids
        stale = RunLog("r_1")
        other = EventWriter(settings, on_conflict=conflicts.append)
        other.follow(stale)
        stale.append(ev.ExecutionStartedData(task="other", started_at=ev.utc_timestamp(), model="m", strategy="react"))
        await asyncio.to_thread(other.wait_written, "r_1", 10)
        other.close()
        assert conflicts == ["r_1"] and client.xlen(keys.events("r_1")) == 1
        log.append(ev.ExecutionCancelledData(reason="done", duration=1.0))
        assert await asyncio.to_thread(writer.wait_written, "r_1", 10)
        assert 0 < client.ttl(keys.events("r_1")) <= 60 and 0 < client.ttl(keys.row("r_1")) <= 60
        assert client.hget(keys.row("r_1"), "status") == "cancelled" and log.published == 2
    finally:
        writer.close()
        client.close()


async def test_a_replica_reads_a_run_from_redis_once_however_many_clients_watch_it(
        real_redis: RedisServer, tmp_path: Path, env: dict[str, str], processes: list[Process]):
    import redis

    replicas, _ = await cluster(real_redis, tmp_path, env, processes, replicas=1, workers=1)
    _, created = await post(replicas[0].api, "/runs", SLOW)
    started = asyncio.Event()
    counts: list[int] = []

    async def watch() -> None:
        async for event in frames(replicas[0].api, created["id"], 0):
            counts.append(event.id)
            if len(counts) >= 50 * 3:
                started.set()
            if event.type in ev.TERMINAL_TYPES:
                return

    watchers = [asyncio.create_task(watch()) for _ in range(50)]
    await asyncio.wait_for(started.wait(), 60)
    client = redis.Redis.from_url(real_redis.url, decode_responses=True)
    connections = client.client_list()
    client.close()
    reading = [c for c in connections if c["cmd"] in ("xread", "xreadgroup")]
    # the replica's one reading loop of the run, and the worker's reads (its queue, the run's controls)
    assert len(reading) <= 3 and len(connections) <= 12, [(c["cmd"], c["addr"]) for c in connections]
    await asyncio.wait_for(asyncio.gather(*watchers), 120)
    # each of the fifty got the whole log, once
    assert sorted(counts) == sorted(list(range(1, max(counts) + 1)) * 50)


async def test_blocking_reads_cancelled_at_any_moment_end_and_leave_the_pool_usable(real_redis: RedisServer):
    """Every loop that follows Redis (a replica's follower, a worker's claims and controls) stops by
    being cancelled. On Python 3.11, redis-py's sends can lose a cancellation (asyncio.wait_for),
    and a loop that lost it read on for ever: a worker or a replica that never finished stopping."""
    import random

    import redis.asyncio as aioredis

    from workbench.serving.redis_settings import blocking_read

    client = aioredis.Redis.from_url(real_redis.url)
    await client.xadd("full", {"e": "1"})
    chance = random.Random(15)

    async def follow(pool: aioredis.BlockingConnectionPool, key: str) -> None:
        while True:  # as the loops do: a failed read is read again, only a cancellation ends it
            try:
                await blocking_read(pool, "XREAD", "COUNT", 10, "BLOCK", chance.choice([1, 5, 50, 2000]),
                                    "STREAMS", key, "0-0")
            except (aioredis.ConnectionError, OSError):
                await asyncio.sleep(0.01)

    for _ in range(40):
        pool = aioredis.BlockingConnectionPool.from_url(real_redis.url, max_connections=chance.choice([2, 3, 6]))
        loops = [asyncio.create_task(follow(pool, chance.choice(["full", "empty"]))) for _ in range(chance.randint(2, 8))]
        for _ in range(chance.randint(0, 4)):  # some stop on their own while the others go on
            await asyncio.sleep(chance.random() * 0.02)
            chance.choice(loops).cancel()
        await asyncio.sleep(chance.random() * 0.02)
        for loop in loops:
            loop.cancel()
        _, going = await asyncio.wait(loops, timeout=5)
        assert not going, "a loop read on after it was cancelled"
        assert await blocking_read(pool, "XREAD", "COUNT", 1, "STREAMS", "full", "0-0")  # no answer left on a connection
        await pool.disconnect()
    await client.aclose()
