"""Forks (contract section 7): the copied prefix, no model call for it, edits, forks of forks, refusals.

Runs go to the simulator over a real socket (``ANTHROPIC_BASE_URL``) through the SDK, so the
requests a fork makes can be counted and read, and the simulator's request rules check every
thinking signature the fork sends back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from conftest import write_scenario
from test_orchestrator import FINAL, PHASES, PLAN
from workbench.agent import prompts
from workbench.core import events as ev
from workbench.core.contract import contract_violations
from workbench.agent.conversation import model_requests_of
from workbench.core.forking import recorded_calls
from workbench.core.progress import ts_ms
from workbench.errors import UserError
from workbench.simulator import Simulator, serve
from workbench.simulator.responses import SimResponse

KEY = "sk-ant-api03-fork-test-key-0123456789abcdef"
MODEL = "claude-sonnet-4-6"

class RecordingSimulator(Simulator):
    """The simulator, keeping the body of every ``POST /v1/messages`` it answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies: list[dict[str, Any]] = []

    async def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        if method == "POST" and path.startswith("/v1/messages") and "count_tokens" not in path:
            self.bodies.append(json.loads(body))
        return await super().handle(method, path, headers, body)


@pytest.fixture
async def simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RecordingSimulator]:
    from workbench.simulator import load_scenario

    path = write_scenario(tmp_path / "scenario.json", plan=PLAN, phases=PHASES, final=FINAL)
    sim = RecordingSimulator(load_scenario(path), api_key=KEY)
    async with serve(sim) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        yield sim


async def finished(run: wb.Run) -> wb.Run:
    await asyncio.wait_for(run.wait_async(), 30)
    assert run.state.status == "complete", run.state.error
    assert contract_violations(list(run.events)) == []
    return run


def first(run: wb.Run, type_: str, after: int = 0, **match: Any) -> ev.Event:
    return next(e for e in run.events if e.id > after and e.type == type_
                and all(getattr(e.data, k) == v for k, v in match.items()))


def responses(run: wb.Run) -> list[ev.Event]:
    return [e for e in run.events if e.type == "model:response"]


async def noted_before_every_call(run: wb.Run) -> int:
    """Drive a run that pauses before each model call (``breakpoints: ["model"]``) to its end, telling
    it ``note 1``, ``note 2``, … at each pause; how many notes it got."""
    said = 0
    while not run.done:
        await asyncio.sleep(0.005)
        if run.status == "paused":
            said += 1
            run.say(f"note {said}")
            run.resume()
    await finished(run)
    return said


def story(events: Any) -> list[tuple[str, Any]]:
    """What happened, without what differs between two runs that do the same (ids, times, durations)."""
    told = {"thinking": "thought", "text": "text", "tool:start": "params", "tool:complete": "result",
            "phase:start": "phase_name", "phase:complete": "summary", "execution:complete": "result"}
    return [(e.type, getattr(e.data, told[e.type]) if e.type in told else None) for e in events]


def same_but_run_id(a: ev.Event, b: ev.Event) -> bool:
    return a.model_dump() == {**b.model_dump(), "runId": a.run_id}


async def test_every_model_call_leaves_its_whole_answer_in_the_log(simulator: RecordingSimulator):
    run = await finished(wb.run("Write a haiku about tides", model=MODEL))
    answers = responses(run)
    assert len(answers) == len(simulator.bodies) == 6
    plan, draft = answers[0].data, answers[1].data
    assert (plan.phase_id, plan.iteration, plan.model, plan.stop_reason) == (None, 1, MODEL, "tool_use")
    assert [b["type"] for b in draft.content] == ["thinking", "text", "tool_use"]
    assert draft.content[0]["thinking"] == "I will draft it first." and draft.content[0]["signature"]
    assert (draft.phase_id, draft.iteration) == ("p1", 1)
    # what the next request sent back is exactly this answer, signatures and all
    assert simulator.bodies[2]["messages"][1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "I will draft it first.", "signature": draft.content[0]["signature"]},
        {"type": "text", "text": "Drafting."},
        {"type": "tool_use", "id": draft.content[2]["id"], "name": "write_file", "input": draft.content[2]["input"]}]}
    # each answer's usage is its own call's: together they make the run's total
    total = sum(a.data.usage.input + a.data.usage.output for a in answers)
    tokens = run.state.tokens
    assert total == tokens.input + tokens.output
    # the answer is the last event of its call, right after the running totals
    assert all(run.events[a.id - 2].type == "usage" for a in answers)


async def test_the_log_alone_tells_what_each_model_call_was_asked(simulator: RecordingSimulator, tmp_path: Path):
    run = wb.run("Write a haiku about tides", model=MODEL, options={"breakpoints": ["model"]})
    said = await noted_before_every_call(run)  # a person's messages go into the conversation too
    asked = [{k: b[k] for k in ("system", "messages")} for b in simulator.bodies]
    for source in (run, wb.load(run.save(tmp_path / "run.jsonl"))):
        rebuilt = await asyncio.to_thread(model_requests_of, source)
        assert [{k: r[k] for k in ("system", "messages")} for r in rebuilt] == asked
    assert said == 6 and len(asked) == 6


async def test_a_fork_copies_up_to_the_last_fully_ended_turn_wherever_it_is_taken(simulator: RecordingSimulator):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    plan_answer, draft_answer, drafted_answer = responses(parent)[:3]
    write_start = first(parent, "tool:start", tool_name="write_file")
    write_done = first(parent, "tool:complete", tool_name="write_file")
    mid_thinking = first(parent, "thinking:delta", after=plan_answer.id)
    phase_done = first(parent, "phase:complete", phase_id="p1")
    cases = {
        "mid-thinking": (mid_thinking.id, plan_answer.id),  # the draft call has not answered yet
        "between a tool's start and its end": (write_start.id, plan_answer.id),  # its turn has not ended
        "at the tool's end": (write_done.id, write_done.id),
        "after the answer with no tool call": (drafted_answer.id, drafted_answer.id),
        "after a phase ends": (phase_done.id, drafted_answer.id),
        "at the last event": (len(parent.events), responses(parent)[-1].id),
    }
    assert draft_answer.id < write_start.id < write_done.id < drafted_answer.id < phase_done.id
    for where, (at, copied) in cases.items():
        before = len(simulator.bodies)
        fork = await finished(parent.fork(at=at))
        assert fork.forked_at == copied, where
        assert all(same_but_run_id(f, p) for f, p in zip(fork.events[:copied], parent.events[:copied])), where
        marker = fork.events[copied]
        assert (marker.type, marker.data.parent_id, marker.data.at) == ("run:forked", parent.id, copied), where
        asked = len(simulator.bodies) - before
        assert asked == sum(1 for a in responses(parent) if a.id > copied), where
        # no edit, the same simulator: the fork goes on exactly as the parent did
        assert fork.result == parent.result, where
        assert story(fork.events[copied + 1:]) == story(parent.events[copied:]), where


async def test_a_fork_asks_what_the_parent_asked_after_the_turn_and_nothing_before(simulator: RecordingSimulator):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    asked_by_parent = list(simulator.bodies)
    read_done = first(parent, "tool:complete", tool_name="read_file")
    later = [i for i, a in enumerate(responses(parent)) if a.id > read_done.id]
    del simulator.bodies[:]
    fork = await finished(parent.fork(at=read_done.id))
    assert len(simulator.bodies) == len(later) == 2  # "Checked." and the final answer
    # the very requests the parent made after that turn, thinking signatures of the copied part included
    assert simulator.bodies == [asked_by_parent[i] for i in later]
    signed = [b for m in simulator.bodies[0]["messages"] if m["role"] == "assistant" for b in m["content"]
              if b["type"] == "thinking"]
    assert signed and all(b["signature"] for b in signed)
    assert fork.state.tokens == parent.state.tokens  # the copied usage counts, as its events say


async def test_a_forged_signature_in_the_copied_part_is_refused_by_the_simulator(simulator: RecordingSimulator, tmp_path: Path):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    saved = parent.save(tmp_path / "parent.jsonl")
    lines = saved.read_text().splitlines()
    for i, line in enumerate(lines[1:], 1):
        event = json.loads(line)
        if event["type"] == "model:response" and event["data"]["phaseId"] == "p1":  # sent back in the phase's next call
            event["data"]["content"][0]["signature"] = "forged" + event["data"]["content"][0]["signature"]
            lines[i] = json.dumps(event)
            break
    (tmp_path / "forged.jsonl").write_text("\n".join(lines) + "\n")
    loaded = wb.load(tmp_path / "forged.jsonl")
    fork = loaded.fork(at=first(parent, "tool:complete", tool_name="write_file").id)
    await asyncio.wait_for(fork.wait_async(), 30)
    assert fork.state.status == "error"
    assert "signature" in fork.state.error.message.lower()


async def test_an_edited_tool_result_is_what_the_model_reads(simulator: RecordingSimulator):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    read = first(parent, "tool:complete", tool_name="read_file")
    del simulator.bodies[:]
    fork = await finished(parent.fork(at=read.id, tool_result={"toolUseId": read.data.tool_use_id,
                                                               "result": "the tide is out"}))
    marker = fork.events[fork.forked_at]
    assert marker.data.edits.tool_result == ev.ToolResultEdit(tool_use_id=read.data.tool_use_id, result="the tide is out")
    answered = simulator.bodies[0]["messages"][-1]["content"]
    assert answered == [{"type": "tool_result", "tool_use_id": read.data.tool_use_id, "content": "the tide is out"}]
    # the copied event itself is the parent's, as the contract says: the edit is in run:forked
    assert fork.events[read.id - 1].data.result == "moon pulls the water"
    # a fork of the fork past that point replays the edit: the model saw it there
    checked = first(fork, "model:response", after=fork.forked_at)
    assert recorded_calls(fork.events[:checked.id])[-2].tool_results == {read.data.tool_use_id: ("the tide is out", False)}
    grandchild = await finished(fork.fork(at=checked.id))
    assert grandchild.parent_id == fork.id and grandchild.result == fork.result
    assert [r.id for r in grandchild.lineage()] == [grandchild.id, fork.id, parent.id]


async def test_a_message_and_another_model_from_the_fork_point_on(simulator: RecordingSimulator):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    write_done = first(parent, "tool:complete", tool_name="write_file")
    del simulator.bodies[:]
    fork = await finished(parent.fork(at=write_done.id, model="claude-opus-4-6", message="Make it rhyme."))
    after = fork.events[fork.forked_at:fork.forked_at + 2]
    assert [e.type for e in after] == ["run:forked", "user:message"]
    assert after[0].data.edits.message == "Make it rhyme." and after[0].data.edits.model == "claude-opus-4-6"
    first_request = simulator.bodies[0]
    assert first_request["model"] == "claude-opus-4-6"
    assert first_request["messages"][-1]["content"][-1] == {"type": "text", "text": prompts.person_message("Make it rhyme.")}
    assert all(b["model"] == "claude-opus-4-6" for b in simulator.bodies)
    assert fork.model == "claude-opus-4-6" and fork.summary()["parentId"] == parent.id
    assert fork.summary()["forkedAt"] == write_done.id


async def test_messages_given_while_a_run_went_on_are_replayed_to_the_same_calls(simulator: RecordingSimulator):
    parent = wb.run("Write a haiku about tides", model=MODEL, options={"breakpoints": ["model"]})
    said = await noted_before_every_call(parent)
    asked_by_parent = list(simulator.bodies)
    del simulator.bodies[:]
    read_done = first(parent, "tool:complete", tool_name="read_file")
    await finished(parent.fork(at=read_done.id, options={"breakpoints": []}))
    # The parent's next call took "note 5", given after the fork point: the fork's does not. All
    # the notes before it are where the parent's calls had them.
    expected = json.loads(json.dumps(asked_by_parent[4]))
    assert expected["messages"][-1]["content"].pop() == {"type": "text", "text": prompts.person_message("note 5")}
    assert said == 6 and simulator.bodies[0] == expected
    assert prompts.person_message("note 4") in json.dumps(expected["messages"])


async def test_a_message_given_during_the_last_copied_turn_goes_to_the_forks_first_call(simulator: RecordingSimulator):
    parent = wb.run("Write a haiku about tides", model=MODEL, options={"breakpoints": ["tool"]})
    while not parent.done:  # a note while read_file waits to run (its model call took its messages already)
        await asyncio.sleep(0.005)
        if parent.status == "paused":
            if parent.events[-2].type == "tool:start" and parent.events[-2].data.tool_name == "read_file":
                parent.say("note read")
            parent.resume()
    await finished(parent)
    read_done = first(parent, "tool:complete", tool_name="read_file")
    assert first(parent, "user:message").id < read_done.id
    took_it = next(i for i, a in enumerate(responses(parent)) if a.id > read_done.id)
    asked_by_parent = list(simulator.bodies)
    assert prompts.person_message("note read") in json.dumps(asked_by_parent[took_it]["messages"][-1])
    del simulator.bodies[:]
    await finished(parent.fork(at=read_done.id, options={"breakpoints": []}))
    assert simulator.bodies[0] == asked_by_parent[took_it]  # the note is in the copy, and its first call reads it


async def test_a_phase_the_fork_point_falls_in_leaves_out_the_time_before_the_fork(simulator: RecordingSimulator):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    await asyncio.sleep(0.3)  # the fork is made a while after the parent ended
    write_done = first(parent, "tool:complete", tool_name="write_file")
    fork = await finished(parent.fork(at=write_done.id))
    marker, start = fork.events[fork.forked_at], first(fork, "phase:start", phase_id="p1")
    end = first(fork, "phase:complete", phase_id="p1")
    gap = ts_ms(marker.ts) - ts_ms(write_done.ts)
    assert gap >= 300
    phase = fork.state.phases["p1"]
    assert phase.forked_gap == gap and phase.duration == ts_ms(end.ts) - ts_ms(start.ts) - gap
    assert fork.state.phases["p2"].forked_gap == 0  # after the fork point: its own time


async def test_the_fork_has_the_parents_files_as_they_were(simulator: RecordingSimulator):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    fork = await finished(parent.fork(at=first(parent, "tool:complete", tool_name="write_file").id))
    assert fork.workspace != parent.workspace
    assert (fork.workspace / "haiku.txt").read_text() == "moon pulls the water"
    read = first(fork, "tool:complete", after=fork.forked_at, tool_name="read_file")
    assert read.data.result == "moon pulls the water" and not read.data.is_error


async def test_a_run_file_names_its_parent_and_a_saved_fork_forks_again(simulator: RecordingSimulator, tmp_path: Path):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    fork = await finished(parent.fork(at=first(parent, "tool:complete").id))
    path = fork.save(tmp_path / "fork.jsonl")
    header = json.loads(path.read_text().splitlines()[0])
    assert (header["parentId"], header["forkedAt"], header["version"]) == (parent.id, fork.forked_at, 2)
    assert header["options"] == {} and header["tools"] == ["list_files", "read_file", "write_file"]
    loaded = wb.load(path)
    assert (loaded.parent_id, loaded.forked_at, loaded.tools) == (parent.id, fork.forked_at, fork.tools)
    again = await finished(loaded.fork(at=len(loaded.events) - 1))
    assert again.parent_id == loaded.id and again.result == parent.result


async def test_forks_refuse_what_cannot_be_forked(simulator: RecordingSimulator, tmp_path: Path):
    parent = await finished(wb.run("Write a haiku about tides", model=MODEL))
    with pytest.raises(UserError, match=f"from 1 to {len(parent.events)}"):
        parent.fork(at=len(parent.events) + 1)
    with pytest.raises(UserError, match="from 1 to"):
        parent.fork(at=0)
    read = first(parent, "tool:complete", tool_name="read_file")
    with pytest.raises(UserError, match="not in the part of the run a fork at this event copies"):
        parent.fork(at=read.id - 2, tool_result={"toolUseId": read.data.tool_use_id, "result": "x"})
    with pytest.raises(UserError, match="tool_result must be"):
        parent.fork(at=read.id, tool_result={"id": "x"})
    with pytest.raises(UserError, match="message must be a non-empty string"):
        parent.fork(at=read.id, message="  ")
    with pytest.raises(UserError, match="unknown option"):
        parent.fork(at=read.id, options={"colour": "blue"})
    # a version-1 log has no model:response: the answers are not whole in it
    v1 = tmp_path / "v1.jsonl"
    lines = [json.dumps({"format": "workbench-run", "version": 1, "runId": "r_old", "task": "t", "model": "simulated",
                         "createdAt": "2026-11-01T00:00:00.000Z"})]
    kept = [e for e in parent.events if e.type != "model:response"]
    lines += [e.model_copy(update={"id": i, "run_id": "r_old"}).to_json() for i, e in enumerate(kept, 1)]
    v1.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="no model:response events"):
        wb.load(v1).fork(at=5)
