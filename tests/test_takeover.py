"""A run taken over from a stopped worker (core/takeover.py, launch.resume_run), in one process: the
log the stopped worker left, cut anywhere, goes on to a complete run that keeps the contract and asks
the model again only for the turn that had not ended. The same over Redis, with processes killed for
real, is in test_redis.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from servers import until
from test_fork import FINAL, PHASES, PLAN

import workbench as wb
from conftest import write_scenario
from workbench.agent.launch import resume_run
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.core.log import RunLog
from workbench.core.forking import recorded_calls
from workbench.core.takeover import INTERRUPTED_BY_WORKER, resume_plan

@pytest.fixture
def scenario(tmp_path: Path) -> str:
    return write_scenario(tmp_path / "scenario.json", plan=PLAN, phases=PHASES, final=FINAL)

async def complete_run(scenario: str, **options: object) -> wb.Run:
    run = wb.run("Write a haiku about tides", model="simulated", options={"scenario": scenario, **options})
    await asyncio.wait_for(run.wait_async(), 30)
    assert run.state.status == "complete"
    return run

async def taken_over(run: wb.Run, cut: int, scenario: str, **options: object) -> list[ev.Event]:
    """The run as a second worker finishes it, the first having stopped after event ``cut``."""
    left = RunLog(run.id)
    left.extend(run.events[:cut])
    resumed = resume_run(left, attempt=2, worker="w2", task=run.task, model="simulated",
                         options={"scenario": scenario, **options})
    await asyncio.wait_for(resumed.wait_async(), 30)
    return list(resumed.events)

async def test_a_run_cut_anywhere_is_completed_asking_only_the_unended_turn_again(scenario: str):
    run = await complete_run(scenario)
    events = list(run.events)
    answers = sum(e.type == "model:response" for e in events)
    kinds = {e.type: e.id for e in events}  # the last event of each type: cuts in every kind of place
    cuts = sorted({2, 5, kinds["tool:start"], kinds["tool:complete"], kinds["phase:start"], len(events) - 1,
                   *(e.id for e in events if e.type == "tool:start"), *(e.id - 1 for e in events if e.type == "model:response")})
    for cut in cuts:
        log = await taken_over(run, cut, scenario)
        assert contract_violations(log) == [], (cut, contract_violations(log))
        assert log[-1].type == "execution:complete" and log[-1].data.result == events[-1].data.result
        assert [e.to_json() for e in log[:cut]] == [e.to_json() for e in events[:cut]]  # kept as they were
        resumed = next(e for e in log if e.type == "run:resumed")
        m = resume_plan(events[:cut]).at
        assert (resumed.data.attempt, resumed.data.at, resumed.data.worker) == (2, m, "w2")
        # what came between the end of the last ended turn and the cut is closed, not repeated
        opened = {e.data.tool_use_id for e in events[:cut] if e.type == "tool:start"}
        closed = {e.data.tool_use_id for e in events[:cut] if e.type == "tool:complete"}
        closing = log[cut: resumed.id - 1]
        assert [(e.type, e.data.tool_use_id, e.data.result) for e in closing] == [
            ("tool:complete", i, INTERRUPTED_BY_WORKER) for i in sorted(opened - closed, key=str)]
        # the model was asked only for the turns that had not fully ended by m
        ended_turns = sum(e.type == "model:response" for e in events[:m])
        assert sum(e.type == "model:response" for e in log[resumed.id:]) == answers - ended_turns

async def test_a_run_taken_over_while_paused_pauses_again(scenario: str):
    run = wb.run("Write a haiku about tides", model="simulated",
                 options={"scenario": scenario, "breakpoints": ["model"]})
    while run.status != "paused":
        await asyncio.sleep(0.01)
    run.resume()
    while run.status != "paused" or sum(e.type == "execution:paused" for e in run.events) < 2:
        await asyncio.sleep(0.01)
    cut = len(run.events)
    run.cancel()
    left = RunLog(run.id)
    left.extend(run.events[:cut])
    resumed = resume_run(left, attempt=2, worker="w2", task=run.task, model="simulated",
                         options={"scenario": scenario, "breakpoints": ["model"]})
    while resumed.status != "paused" or not any(e.type == "run:resumed" for e in resumed.events):
        await asyncio.sleep(0.01)
    after = [e.type for e in resumed.events[cut:]]
    assert after[:2] == ["execution:resumed", "run:resumed"] and after[-1] == "execution:paused"
    assert resumed.events[cut].data.step is True
    assert contract_violations(list(resumed.events), complete=False) == []
    resumed.cancel()
    await asyncio.wait_for(resumed.wait_async(), 10)
    assert contract_violations(list(resumed.events)) == []

async def test_a_run_taken_over_while_a_call_waits_for_a_decision_asks_for_it_again(scenario: str):
    options = {"scenario": scenario, "approve": "all"}
    run = wb.run("Write a haiku about tides", model="simulated", options=options)
    await until(lambda: run.waiting, 20, what="a call to wait for its decision")
    cut, waited = len(run.events), run.waiting[0]
    run.cancel()
    left = RunLog(run.id)
    left.extend(run.events[:cut])
    resumed = resume_run(left, attempt=2, worker="w2", task=run.task, model="simulated", options=options)
    await until(lambda: resumed.waiting, 20, what="the call to wait again")
    after = resumed.events[cut:]
    # the wait the stopped worker left is ended as the contract wants (one decision per approval) ...
    assert [(e.type, e.data.tool_use_id) for e in after[:2]] == [("tool:decision", waited), ("tool:complete", waited)]
    assert (after[0].data.decision, after[0].data.note, after[1].data.is_error) == ("deny", INTERRUPTED_BY_WORKER, True)
    assert after[2].type == "run:resumed"
    # ... and the turn, done again, asks the person again before the call runs
    again = [e for e in after if e.type == "tool:approval"]
    assert len(again) == 1 and again[0].data.tool_name == next(
        e.data.tool_name for e in run.events if e.type == "tool:approval")
    while not resumed.done:
        for tool_use_id in resumed.waiting:
            resumed.decide(tool_use_id, "approve")
        await asyncio.sleep(0.01)
    assert resumed.state.status == "complete"
    assert contract_violations(list(resumed.events)) == []

async def test_a_message_given_in_the_turn_done_again_reaches_its_new_model_call(scenario: str):
    options = {"scenario": scenario, "breakpoints": ["tool"]}
    run = wb.run("Write a haiku about tides", model="simulated", options=options)
    await until(lambda: run.status == "paused", 20, what="the pause before the first tool call")
    run.say("use the word moon")
    cut = len(run.events)
    run.cancel()
    left = RunLog(run.id)
    left.extend(run.events[:cut])
    resumed = resume_run(left, attempt=2, worker="w2", task=run.task, model="simulated", options={"scenario": scenario})
    await until(lambda: resumed.status == "paused", 20, what="the pause again (it was paused)")
    resumed.resume()
    await asyncio.wait_for(resumed.wait_async(), 30)
    assert resumed.state.status == "complete" and contract_violations(list(resumed.events)) == []
    at = next(e.id for e in resumed.events if e.type == "run:resumed")
    heard = "The person supervising this run says: \u201cuse the word moon\u201d"
    said = [e for e in resumed.events if heard in (getattr(e.data, "thought", None) or getattr(e.data, "text", None) or "")
            and e.type in ("thinking", "text")]
    assert said and said[0].id > at  # by the model's first call after the takeover, and only once
    assert len(said) == 1
    # and the log says so: a fork of the resumed run replays the same requests
    calls = recorded_calls(list(resumed.events))
    taking = [call for call in calls if call.messages]
    assert [call.messages for call in taking] == [("use the word moon",)]
    assert taking[0].response == next(e.data for e in resumed.events if e.type == "model:response" and e.id > at)
