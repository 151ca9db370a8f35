"""The run log: ids 1..n, subscribers get the backlog then live events exactly once, across threads."""

import asyncio
import gc
import threading
import weakref

import pytest

from workbench.core import events as ev
from workbench.core.log import LogClosed, RunLog
from workbench.core.loop import gc_untrack
from workbench.errors import UserError


def delta(i: int) -> ev.ThinkingDeltaData:
    return ev.ThinkingDeltaData(step_id="s1", delta=f"{i} ")


def test_ids_run_from_one_without_gaps_and_nothing_follows_the_terminal_event():
    log = RunLog("r")
    ids = [log.append(delta(i)).id for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    log.append(ev.ExecutionCancelledData(reason="x", duration=1))
    assert log.closed
    with pytest.raises(LogClosed):
        log.append(delta(9))


async def test_subscribe_gives_backlog_then_live_then_ends_after_terminal():
    log = RunLog("r")
    for i in range(3):
        log.append(delta(i))
    seen: list[int] = []

    async def reader(after: int) -> list[int]:
        return [e.id async for e in log.subscribe(after=after)]

    task_all = asyncio.create_task(reader(0))
    task_tail = asyncio.create_task(reader(2))
    await asyncio.sleep(0.01)
    for i in range(3, 6):
        log.append(delta(i))
        await asyncio.sleep(0)
    log.append(ev.ExecutionCancelledData(reason="x", duration=1))
    seen = await asyncio.wait_for(task_all, 2)
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert await asyncio.wait_for(task_tail, 2) == [3, 4, 5, 6, 7]
    assert [e.id async for e in log.subscribe(after=7)] == []


async def test_a_slow_subscriber_loses_nothing_and_does_not_hold_the_writer():
    log = RunLog("r")

    async def slow() -> list[int]:
        out = []
        async for e in log.subscribe():
            out.append(e.id)
            await asyncio.sleep(0.001)
        return out

    task = asyncio.create_task(slow())
    await asyncio.sleep(0)
    for i in range(500):  # the writer never waits for the reader
        log.append(delta(i))
    log.append(ev.ExecutionCancelledData(reason="x", duration=1))
    assert len(log) == 501
    assert await asyncio.wait_for(task, 20) == list(range(1, 502))


async def test_subscribers_on_another_threads_loop_are_woken():
    log = RunLog("r")
    received: list[int] = []

    def other_thread() -> None:
        async def read() -> None:
            async for e in log.subscribe():
                received.append(e.id)
        asyncio.run(read())

    thread = threading.Thread(target=other_thread)
    thread.start()
    await asyncio.sleep(0.05)
    for i in range(100):
        log.append(delta(i))
        if i % 10 == 0:
            await asyncio.sleep(0.001)
    log.append(ev.ExecutionCancelledData(reason="x", duration=1))
    thread.join(5)
    assert not thread.is_alive()
    assert received == list(range(1, 102))


async def test_cancelled_subscriber_leaves_no_waiter_behind():
    log = RunLog("r")

    async def read() -> None:
        async for _ in log.subscribe():
            pass

    task = asyncio.create_task(read())
    await asyncio.sleep(0.01)
    assert log.waiting == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.waiting == 0


@pytest.mark.parametrize("published", [False, True])
async def test_a_waiting_reader_holds_nothing_of_the_readers_that_left(published):
    # A thousand idle streams each leave and come back at every keep-alive: a reader that kept
    # the waiters' table it joined would keep every other reader's wait alive with it.
    log = RunLog("r")
    if published:
        log.gate()
    staying = asyncio.ensure_future(log.wait_beyond(0, published=published))
    await asyncio.sleep(0)
    leaving = asyncio.ensure_future(log.wait_beyond(0, published=published))
    await asyncio.sleep(0)
    assert log.waiting == 2
    left = weakref.ref(list(log._publish_waiters if published else log._waiters)[-1])  # its wait
    leaving.cancel()
    await asyncio.wait([leaving])
    assert leaving.cancelled()
    del leaving  # and with it the traceback of its cancellation
    gc.collect()
    assert log.waiting == 1 and left() is None and not staying.done()
    log.append(delta(1))
    if published:
        log.publish(1)
    assert await staying is True and log.waiting == 0


def test_extend_requires_continuing_ids_and_negative_after_is_refused():
    log = RunLog("r")
    first = ev.make_event(delta(0), id=1, run_id="r")
    third = ev.make_event(delta(1), id=3, run_id="r")
    log.extend([first])
    with pytest.raises(UserError, match="expected event id 2, got 3"):
        log.extend([third])
    with pytest.raises(UserError):
        asyncio.run(anext(log.subscribe(after=-1)))


def test_a_listener_may_remove_itself_and_others_still_run():
    log = RunLog("r")
    calls: list[str] = []

    def once(event: ev.Event) -> None:
        calls.append("once")
        log.remove_listener(once)

    log.add_listener(once)
    log.add_listener(lambda e: calls.append("always"))
    log.append(delta(0))
    log.append(delta(1))
    assert calls == ["once", "always", "always"]


def test_wait_closed_wakes_on_close_without_a_terminal_event():
    log = RunLog("r")
    threading.Timer(0.05, log.close).start()
    assert log.wait_closed(5)
    assert not RunLog("r2").wait_closed(0.01)


def test_append_all_stamps_a_batch_in_order_and_nothing_follows_a_terminal_event_in_it():
    log = RunLog("r")
    seen: list[int] = []
    log.add_listener(lambda event: seen.append(event.id))
    log.append(delta(0))
    log.append_all([delta(1), delta(2), ev.ExecutionCancelledData(reason="x", duration=1)])
    assert [(e.id, e.type) for e in log.events] == [
        (1, "thinking:delta"), (2, "thinking:delta"), (3, "thinking:delta"), (4, "execution:cancelled")]
    assert [e.data.delta for e in log.events[:3]] == ["0 ", "1 ", "2 "] and seen == [1, 2, 3, 4]
    assert log.events[1].ts == log.events[3].ts  # one timestamp for the batch
    with pytest.raises(LogClosed):
        log.append_all([delta(5)])
    other = RunLog("r2")
    with pytest.raises(LogClosed):
        other.append_all([ev.ExecutionCancelledData(reason="x", duration=1), delta(6)])
    assert [e.type for e in other.events] == ["execution:cancelled"]


@pytest.mark.skipif(gc_untrack is None, reason="PyObject_GC_UnTrack is CPython's")
def test_events_are_left_out_of_garbage_collection_yet_freed_with_their_log():
    log = RunLog("r")
    params = {"path": "a.txt", "nested": [1, 2]}
    events = [log.append(delta(0)), log.append(ev.ToolStartData(tool_name="write_file", params=params, tool_use_id="t1"))]
    log.append_all([ev.trusted_delta(ev.TextDeltaData, "s2", "piece", None)])
    events.append(log.events[-1])
    for event in events:
        parts = (event, event.__dict__, event.data, event.model_fields_set, event.data.model_fields_set)
        assert [gc.is_tracked(part) for part in parts] == [False] * 5
    # What an event holds beyond itself stays tracked, and so does the payload's dict holding it.
    assert [gc.is_tracked(e.data.__dict__) for e in events] == [False, True, False]
    assert gc.is_tracked(events[1].data.params)
    assert events[1].to_json() == ev.make_event(events[1].data, id=2, run_id="r", ts=events[1].ts).to_json()
    # A log in a reference cycle (through a listener of its own) is still collected, its events with it.
    holder = {"log": log}
    log.add_listener(lambda event, holder=holder: None)
    gone = [weakref.ref(event) for event in events]
    del log, holder, events, event, parts
    assert [ref() is None for ref in gone] == [False, False, False]  # only the collector can free a cycle
    gc.collect()
    assert [ref() for ref in gone] == [None, None, None]
