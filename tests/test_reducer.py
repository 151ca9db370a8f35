"""The reducer: a run's events fold into its state, with no I/O and without touching its input."""

import copy

from workbench.core import events as ev
from workbench.core.log import RunLog
from workbench.core.reducer import fold, initial_state, reduce


def sample_run() -> list[ev.Event]:
    log = RunLog("r_test")
    a = log.append
    a(ev.ExecutionStartedData(task="Write a poem", started_at="2026-11-24T10:00:00.000Z", model="simulated", strategy="plan"))
    a(ev.PlanCreatedData(plan=ev.Plan(goal="A poem", phases=[
        ev.PlanPhase(id="p1", name="Draft", description="write it"),
        ev.PlanPhase(id="p2", name="Polish", description="fix it"),
    ])))
    a(ev.PhaseStartData(phase_id="p1", phase_name="Draft", phase_index=0))
    a(ev.ThinkingDeltaData(step_id="s1", delta="Rhymes ", phase_id="p1"))
    a(ev.ThinkingDeltaData(step_id="s1", delta="first.", phase_id="p1"))
    a(ev.ThinkingData(thought="Rhymes first.", iteration=1, step_id="s1", phase_id="p1"))
    a(ev.ToolStartData(tool_name="write_file", params={"path": "poem.md"}, tool_use_id="t1", phase_id="p1"))
    a(ev.ToolCompleteData(tool_name="write_file", result="Wrote 10 bytes", duration=2.0, tool_use_id="t1"))
    a(ev.UsageData(input=100, output=20))
    a(ev.TextDeltaData(step_id="s2", delta="Done", phase_id="p1"))
    a(ev.TextData(step_id="s2", text="Done", phase_id="p1"))
    a(ev.PhaseCompleteData(phase_id="p1", phase_name="Draft", summary="Drafted"))
    a(ev.PhaseStartData(phase_id="p2", phase_name="Polish", phase_index=1))
    a(ev.ModelRetryData(attempt=1, reason="529 overloaded_error", delay_ms=20))
    a(ev.ToolStartData(tool_name="read_file", params={"path": "nope"}, tool_use_id="t2", phase_id="p2"))
    a(ev.ToolCompleteData(tool_name="read_file", result="no such file", duration=1.0, tool_use_id="t2", is_error=True))
    a(ev.PhaseCompleteData(phase_id="p2", phase_name="Polish", summary="Polished"))
    a(ev.ExecutionCompleteData(result="A poem", duration=1234.0, tokens_used=ev.Usage(input=200, output=40)))
    return list(log.events)


def test_fold_builds_the_whole_state():
    state = fold(sample_run())
    assert (state.run_id, state.task, state.model, state.strategy) == ("r_test", "Write a poem", "simulated", "plan")
    assert state.status == "complete" and state.finished
    assert state.goal == "A poem"
    assert [(p.id, p.status, p.summary) for p in state.phases.values()] == [
        ("p1", "complete", "Drafted"), ("p2", "complete", "Polished")]
    p1 = state.items_of("p1")
    assert [(s.kind, s.step_id, s.status) for s in p1] == [
        ("thinking", "s1", "complete"), ("tool", "t1", "complete"), ("message", "s2", "complete")]
    assert p1[0].text == "Rhymes first." and p1[0].iteration == 1
    assert p1[1].result == "Wrote 10 bytes" and p1[1].duration == 2.0
    failed = state.items_of("p2")[0]
    assert (failed.tool_name, failed.is_error, failed.status) == ("read_file", True, "error")
    assert [(r.attempt, r.reason) for r in state.retries] == [(1, "529 overloaded_error")]
    assert state.tokens == ev.Usage(input=200, output=40)
    assert (state.result, state.duration, state.event_count, state.last_event_id) == ("A poem", 1234.0, 18, 18)


def test_time_travel_is_the_fold_of_a_prefix():
    events = sample_run()
    mid = fold(events[:5])  # in the middle of the first thinking step
    assert mid.status == "running"
    assert mid.current_phase_id == "p1"
    assert mid.phases["p1"].status == "running" and mid.phases["p2"].status == "pending"
    step = mid.steps["s1"]
    assert (step.text, step.status) == ("Rhymes first.", "streaming")
    assert fold(events[:0]) == initial_state()


def test_reduce_is_pure():
    events = sample_run()
    before = fold(events[:6])
    snapshot = copy.deepcopy(before)
    after = reduce(before, events[6])
    assert before == snapshot  # the input is untouched
    assert after is not before and "t1" in after.steps and "t1" not in before.steps
    assert reduce(before, events[6]) == after  # same inputs, same output


def test_folding_one_by_one_equals_folding_all():
    events = sample_run()
    state = initial_state()
    for event in events:
        state = reduce(state, event)
    assert state == fold(events)


def test_retry_interrupts_streaming_steps_and_terminal_events_close_everything():
    log = RunLog("r")
    log.append(ev.ExecutionStartedData(task="t", started_at="x", model="m", strategy="react"))
    log.append(ev.ThinkingDeltaData(step_id="s1", delta="half a tho"))
    log.append(ev.ModelRetryData(attempt=1, reason="connection dropped mid-stream", delay_ms=5))
    log.append(ev.ToolStartData(tool_name="slow", params={}, tool_use_id="t1"))
    assert fold(log.events).steps["s1"].status == "interrupted"
    log.append(ev.ExecutionCancelledData(reason="cancelled by the user", duration=10))
    state = fold(log.events)
    assert state.status == "cancelled" and state.cancel_reason == "cancelled by the user"
    assert state.steps["t1"].status == "interrupted"
    assert [s.step_id for s in state.items_of(None)] == ["s1", "t1"]


def test_error_and_interrupted_runs():
    log = RunLog("r")
    log.append(ev.ExecutionStartedData(task="t", started_at="x", model="m", strategy="plan"))
    log.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type="interrupted", message="the server stopped")))
    assert fold(log.events).status == "interrupted"
    log2 = RunLog("r2")
    log2.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type="limit_exceeded", message="too long"),
                                      stack="Traceback (most recent call last): ..."))
    state = fold(log2.events)
    assert state.status == "error" and state.error.message == "too long"
    assert state.error_stack == state.to_dict()["errorStack"] == "Traceback (most recent call last): ..."


def test_a_delta_naming_a_tool_call_leaves_the_call_as_it_was():
    # A broken (or hand-written) log: the fold goes on instead of failing on a step with no text.
    log = RunLog("r_test")
    log.append(ev.ToolStartData(tool_name="write_file", params={"path": "a"}, tool_use_id="t1", phase_id=None))
    log.append(ev.ThinkingDeltaData(step_id="t1", delta="hm", phase_id=None))
    log.append(ev.TextDeltaData(step_id="t1", delta="so", phase_id=None))
    state = fold(log.events)
    [call] = state.steps.values()
    assert (call.kind, call.tool_name, call.params, call.status) == ("tool", "write_file", {"path": "a"}, "running")
    assert not hasattr(call, "text") and state.event_count == 3


def test_unknown_events_only_advance_the_count():
    unknown = ev.parse_event('{"id":1,"runId":"r","type":"x:y","ts":"t","data":{}}', keep_unknown=True)
    state = fold([unknown])
    assert (state.event_count, state.last_event_id, state.status) == (1, 1, "pending")


def test_state_to_dict_nests_steps_under_phases_in_camel_case():
    d = fold(sample_run()).to_dict()
    assert d["status"] == "complete" and d["tokens"] == {"input": 200, "output": 40, "cacheRead": 0, "cacheWrite": 0}
    assert [p["id"] for p in d["phases"]] == ["p1", "p2"]
    assert [s["stepId"] for s in d["phases"][0]["steps"]] == ["s1", "t1", "s2"]
    assert d["phases"][0]["steps"][1]["toolName"] == "write_file"
    assert d["steps"] == [] and d["currentPhaseId"] is None and d["errorStack"] is None
    assert fold(sample_run()[:3]).to_dict()["currentPhaseId"] == "p1"
