"""The event envelope and payloads: camelCase on the wire, validation on read, unknown types skipped."""

import json

import pytest
from pydantic import ValidationError

from workbench.core import events as ev


def test_all_fifteen_contract_types_have_a_class():
    assert set(ev.EVENT_TYPES) == {
        "execution:started", "plan:created", "phase:start", "thinking", "tool:start", "tool:complete",
        "phase:complete", "execution:complete", "execution:error",
        "thinking:delta", "text:delta", "message", "usage", "model:retry", "execution:cancelled",
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
