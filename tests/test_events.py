"""The event envelope and payloads: camelCase on the wire, validation on read, unknown types skipped."""

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

import workbench as wb
from conftest import write_scenario
from workbench.agent.launch import resume_run
from workbench.core import events as ev
from workbench.core.log import RunLog


def test_every_contract_type_has_a_class():
    assert set(ev.EVENT_TYPES) == {
        "execution:started", "plan:created", "phase:start", "thinking", "tool:start", "tool:complete",
        "phase:complete", "execution:complete", "execution:error",
        "thinking:delta", "text:delta", "text", "usage", "model:retry", "execution:cancelled",
        "execution:paused", "execution:resumed", "tool:approval", "tool:decision", "user:message",
        "model:response", "run:forked", "run:resumed",
    }
    assert ev.TERMINAL_TYPES == {"execution:complete", "execution:error", "execution:cancelled"}


def test_envelope_is_camel_case_json_with_exact_fields():
    data = ev.ToolCompleteData(tool_name="write_file", result="ok", duration=1.5, tool_use_id="toolu_1", is_error=False)
    event = ev.make_event(data, id=7, run_id="r_abc", ts="2026-11-24T10:00:00.123Z")
    assert json.loads(event.to_json()) == {
        "id": 7, "runId": "r_abc", "type": "tool:complete", "ts": "2026-11-24T10:00:00.123Z",
        "data": {"toolName": "write_file", "result": "ok", "duration": 1.5, "toolUseId": "toolu_1", "isError": False},
    }


def test_round_trip_through_the_discriminated_union_gives_the_same_class_and_data():
    plan = ev.Plan(goal="g", phases=[ev.PlanPhase(id="p1", name="One", description="d")])
    original = ev.make_event(ev.PlanCreatedData(plan=plan), id=2, run_id="r_x")
    parsed = ev.parse_event(original.to_json())
    assert type(parsed) is ev.PlanCreated
    assert parsed == original
    usage = ev.make_event(ev.UsageData(input=1, output=2, cache_read=3, cache_write=4), id=3, run_id="r_x")
    assert json.loads(usage.to_json())["data"] == {"input": 1, "output": 2, "cacheRead": 3, "cacheWrite": 4}
    assert ev.parse_event(usage.to_json()) == usage


def test_unknown_types_are_ignored_not_rejected():
    line = json.dumps({"id": 4, "runId": "r", "type": "agent:dream", "ts": "t", "data": {"x": 1}})
    assert ev.parse_event(line) is None
    kept = ev.parse_event(line, keep_unknown=True)
    assert isinstance(kept, ev.UnknownEvent)
    assert json.loads(kept.to_json()) == json.loads(line)


def test_known_type_with_bad_fields_is_refused():
    line = json.dumps({"id": 1, "runId": "r", "type": "tool:start", "ts": "t", "data": {"toolName": "x"}})
    with pytest.raises(ValidationError):
        ev.parse_event(line)
    with pytest.raises(ValueError):
        ev.parse_event("[1, 2]")


def test_timestamps_are_utc_iso_with_milliseconds():
    assert ev.utc_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert ev.utc_timestamp(1.2345) == "1970-01-01T00:00:01.234Z"


# --- events the engine builds without validation ------------------------------------------------


def assert_same_as_validated(event: ev.Event) -> None:
    """``event`` is what validation gives, from its JSON and from its own fields: same bytes, fields, fields set."""
    parsed = ev.parse_event(event.to_json())
    assert type(parsed) is type(event) and type(parsed.data) is type(event.data)
    assert parsed.to_json() == event.to_json() and parsed == event and parsed.model_dump() == event.model_dump()
    data = event.data
    given = {name: getattr(data, name) for name in data.model_fields_set}
    rebuilt = ev.make_event(type(data)(**given), id=event.id, run_id=event.run_id, ts=event.ts)
    assert rebuilt.to_json() == event.to_json() and rebuilt == event
    assert rebuilt.model_fields_set == event.model_fields_set and rebuilt.data.model_fields_set == data.model_fields_set
    assert list(rebuilt.__dict__) == list(event.__dict__) and list(rebuilt.data.__dict__) == list(data.__dict__)
    assert rebuilt.model_dump_json(exclude_unset=True) == event.model_dump_json(exclude_unset=True)


async def test_every_event_the_orchestrator_builds_is_byte_for_byte_a_validated_one(tmp_path: Path):
    # The log stamps every envelope unvalidated (trusted_event) and the orchestrator builds deltas so
    # (trusted_delta): a complete run with tools and a retried call, a failed run and a cancelled one.
    scenario = write_scenario(
        tmp_path / "scenario.json",
        plan={"goal": "g", "phases": [{"name": "Write", "description": "d"}]},
        phases=[[{"thinking": "Think ünïcode 🙂.", "text": "Saying it.",
                  "toolCalls": [{"name": "write_file", "input": {"path": "a.txt", "content": "x"}}]},
                 {"text": "Done."}]],
        final={"thinking": "Sum up.", "text": "The end."},
    )
    complete = wb.run("t", model="simulated", options={
        "scenario": scenario, "faults": [{"request": 3, "kind": "drop"}], "retryDelay": 0.01})
    failed = wb.run("t", model="simulated", options={
        "scenario": scenario, "faults": [{"request": 2, "kind": "midstream_error"}], "maxRetries": 0})
    await asyncio.wait_for(complete.wait_async(), 30)
    await asyncio.wait_for(failed.wait_async(), 30)
    cancelled = wb.run("t", model="simulated", options={"pace": 50})
    async for event in cancelled.subscribe():
        if event.type == "text:delta" or event.type == "thinking:delta":
            break
    cancelled.cancel()
    await asyncio.wait_for(cancelled.wait_async(), 10)
    # a person taking part: a pause with a message, then a call approved after a look
    supervised = wb.run("t", model="simulated", options={"scenario": scenario, "approve": ["write_file"],
                                                         "breakpoints": ["model"]})
    while not supervised.done:
        await asyncio.sleep(0.01)
        if supervised.waiting:
            supervised.decide(supervised.waiting[0], "edit", {"path": "b.txt", "content": "y"}, note="b, not a")
        elif supervised.status == "paused":
            supervised.say("Go on, ünïcode 🙂")
            supervised.resume()
    # a fork, with every edit
    read = next(e for e in complete.events if e.type == "tool:complete")
    forked = complete.fork(at=read.id, message="Go on, ünïcode 🙂", options={"seed": 2},
                           tool_result={"toolUseId": read.data.tool_use_id, "result": {"edited": ["ünïcode 🙂"]}})
    await asyncio.wait_for(forked.wait_async(), 30)
    # a run taken over from a stopped worker, in the middle of a tool call
    stopped_log = RunLog(complete.id)
    stopped_log.extend(complete.events[: next(e.id for e in complete.events if e.type == "tool:start")])
    resumed = resume_run(stopped_log, attempt=2, worker="w2", task="t", model="simulated",
                         options={"scenario": scenario})
    await asyncio.wait_for(resumed.wait_async(), 30)
    events = [*complete.events, *failed.events, *cancelled.events, *supervised.events, *forked.events, *resumed.events]
    assert {e.type for e in events} == set(ev.EVENT_TYPES)
    for event in events:
        assert_same_as_validated(event)


@pytest.mark.parametrize("cls", [ev.ThinkingDeltaData, ev.TextDeltaData])
@pytest.mark.parametrize("phase_id", ["p1", None])
def test_a_trusted_delta_is_the_validated_one(cls: type[ev.ThinkingDeltaData] | type[ev.TextDeltaData], phase_id: str | None):
    trusted = ev.trusted_delta(cls, "s7", " naïve \"quoted\" 🙂\n", phase_id)
    validated = cls(step_id="s7", delta=" naïve \"quoted\" 🙂\n", phase_id=phase_id)
    assert trusted == validated and trusted.model_dump_json() == validated.model_dump_json()
    assert trusted.model_fields_set == validated.model_fields_set == {"step_id", "delta", "phase_id"}
    event = ev.trusted_event(trusted, id=3, run_id="r_x", ts="2026-11-24T10:00:00.123Z")
    assert event.to_json() == ev.make_event(validated, id=3, run_id="r_x", ts="2026-11-24T10:00:00.123Z").to_json()
    assert_same_as_validated(event)


def test_copies_of_trusted_events_leave_the_originals_alone():
    # Trusted events share one fields set: pydantic copies it before changing a copy's.
    first = ev.trusted_event(ev.trusted_delta(ev.TextDeltaData, "s1", "a", None), id=1, run_id="r", ts="t")
    second = ev.trusted_event(ev.trusted_delta(ev.TextDeltaData, "s1", "b", None), id=2, run_id="r", ts="t")
    copy = first.model_copy(update={"ts": "u", "note": "extra"})
    data = first.data.model_copy(update={"delta": "z"})
    assert (copy.ts, copy.to_dict()["note"], data.delta) == ("u", "extra", "z")
    assert first.model_fields_set == second.model_fields_set == {"id", "run_id", "ts", "data"}
    assert first.data.model_fields_set == {"step_id", "delta", "phase_id"}
    assert (first.ts, first.data.delta, first.to_dict().get("note")) == ("t", "a", None)
    with pytest.raises(ValidationError):
        first.ts = "changed"  # frozen: nothing changes an event, or the set it shares


def test_timestamps_of_one_millisecond_are_one_string_and_seconds_roll_over():
    assert ev.utc_timestamp(59.9995) == "1970-01-01T00:00:59.999Z"
    assert ev.utc_timestamp(60.0) == "1970-01-01T00:01:00.000Z"
    assert ev.utc_timestamp(1_700_000_000.5) == "2023-11-14T22:13:20.500Z"
    assert ev.utc_timestamp(1_700_000_000.5004) is ev.utc_timestamp(1_700_000_000.5009)
