"""A person taking part in a run: pause, step, breakpoints, tool approvals and messages.

Every run here is the orchestrator with the simulator behind the real SDK; the tests drive it
through ``Run``'s controls, as a notebook does, and assert whole event sequences.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from test_orchestrator import assert_contract, scenario, shape

import workbench as wb
from workbench.agent.controls import MAX_MESSAGE_CHARS
from workbench.core import events as ev
from workbench.errors import NotWaiting, UnknownToolCall, UserError

MODEL_CALL = ["thinking:delta+", "thinking"]


async def until(run: wb.Run, check: Callable[[wb.Run], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check(run):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; the run is {run.status}, last events {[e.type for e in run.events[-5:]]}")
        await asyncio.sleep(0.01)


def paused(run: wb.Run) -> bool:
    return run.status == "paused"


def types_of(run: wb.Run, *kinds: str) -> list[str]:
    return [e.type for e in run.events if e.type in kinds]


async def finish(run: wb.Run) -> wb.RunState:
    return await asyncio.wait_for(run.wait_async(), 30)


# --- pause, step, resume -------------------------------------------------------------------


async def test_a_model_breakpoint_holds_every_model_call_of_a_plan_run(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated",
                 options={"scenario": scenario(tmp_path), "breakpoints": ["model"]})
    pauses = 0
    while not run.done:
        await until(run, lambda r: paused(r) or r.done)
        if run.done:
            break
        pauses += 1
        assert run.state.paused is not None and (run.state.paused.reason, run.state.paused.before) == ("breakpoint", "model")
        assert run.state.now == "paused before the next model call"
        calls = len(types_of(run, "usage"))
        await asyncio.sleep(0.1)  # it waits: no model call meanwhile
        assert len(types_of(run, "usage")) == calls and run.status == "paused"
        run.resume()
    state = await finish(run)
    assert state.status == "complete" and pauses == 6 == len(state.model_calls)
    events = list(run.events)
    assert_contract(events)
    # each model call's output comes right after a pause and a resume
    kinds = shape(events)
    for i, kind in enumerate(kinds):
        if kind == "thinking:delta+":
            assert kinds[i - 2:i] == ["execution:paused", "execution:resumed"], kinds[i - 3:i + 1]


async def test_a_tool_breakpoint_pauses_after_the_calls_start_and_before_it_runs(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated",
                 options={"scenario": scenario(tmp_path), "breakpoints": [{"tool": "write_file"}]})
    await until(run, paused)
    call = run.state.tool_calls[-1]
    assert (call.tool_name, call.status) == ("write_file", "running")
    assert run.state.now == "paused before calling write_file"
    assert run.state.paused is not None and run.state.paused.tool_use_id == call.step_id
    assert not (run.workspace / "haiku.txt").exists()  # not run yet
    run.resume()
    state = await finish(run)
    assert state.status == "complete" and (run.workspace / "haiku.txt").read_text() == "moon pulls the water"
    # read_file has no breakpoint: one pause in the whole run
    assert types_of(run, "execution:paused", "execution:resumed") == ["execution:paused", "execution:resumed"]
    assert_contract(list(run.events))


async def test_pause_step_and_resume_in_a_react_run(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "pace": 200})
    await until(run, lambda r: bool(types_of(r, "thinking:delta")))
    run.pause()  # while the model streams: it holds at the next boundary, before the tool call runs
    await until(run, paused)
    assert run.state.paused is not None and (run.state.paused.reason, run.state.paused.before) == ("user", "tool")
    assert run.state.now == "paused before calling write_file"
    assert not (run.workspace / "haiku.txt").exists()
    run.step()  # the tool runs, then the boundary before the next model call
    await until(run, lambda r: paused(r) and r.state.paused is not None and r.state.paused.before == "model")
    assert (run.workspace / "haiku.txt").exists() and types_of(run, "usage") == ["usage"]
    run.resume()
    state = await finish(run)
    assert state.status == "complete"
    resumed = [e.data for e in run.events if isinstance(e.data, ev.ExecutionResumedData)]
    assert [r.step for r in resumed] == [True, False]
    assert shape(list(run.events)) == [
        "execution:started", *MODEL_CALL, "text:delta+", "text", "usage", "model:response", "tool:start",
        "execution:paused", "execution:resumed", "tool:complete", "execution:paused", "execution:resumed",
        *MODEL_CALL, "text:delta+", "text", "usage", "model:response", "execution:complete",
    ]
    assert_contract(list(run.events))


async def test_resume_of_a_run_that_is_not_paused_is_refused_and_a_pending_pause_is_withdrawn(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "approve": ["write_file"]})
    await until(run, lambda r: bool(r.waiting))  # waiting for a decision, not paused
    with pytest.raises(NotWaiting, match="not paused"):
        run.resume()
    run.pause()  # asked for while it waits on the decision...
    run.resume()  # ...and withdrawn before it was reached: no pause, no event
    run.decide(run.waiting[0], "approve")
    state = await finish(run)
    assert state.status == "complete" and types_of(run, "execution:paused") == []


async def test_waiting_time_is_reported_apart_from_working_time(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "breakpoints": ["tool"]})
    await until(run, paused)
    await asyncio.sleep(0.4)
    run.resume()
    state = await finish(run)
    assert state.duration is not None and 400 <= state.waited < state.duration
    paused_at, resumed_at = (e.ts for e in run.events if e.type in ("execution:paused", "execution:resumed"))
    assert state.waited == ev_ms(resumed_at) - ev_ms(paused_at)
    assert state.to_dict()["waited"] == state.waited


def ev_ms(ts: str) -> int:
    from workbench.core.progress import ts_ms

    return ts_ms(ts)


# --- tool approvals ------------------------------------------------------------------------


async def approved_run(tmp_path: Path, **options: Any) -> wb.Run:
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "approve": ["write_file"], **options})
    await until(run, lambda r: bool(r.waiting))
    return run


async def test_an_approved_call_runs_as_the_model_asked(tmp_path: Path):
    run = await approved_run(tmp_path)
    call = run.state.tool_calls[-1]
    assert run.waiting == [call.step_id] and call.status == "waiting"
    assert run.state.now == "waiting for your decision on write_file"
    assert run.summary()["status"] == "paused" and run.summary()["waiting"] == [call.step_id]
    assert not (run.workspace / "haiku.txt").exists()
    run.decide(call.step_id, "approve")
    state = await finish(run)
    assert state.status == "complete" and (run.workspace / "haiku.txt").read_text() == "moon pulls the water"
    assert state.tool_calls[0].decision == "approve" and state.tool_calls[0].status == "complete"
    kinds = shape(list(run.events))
    start = kinds.index("tool:start")
    assert kinds[start:start + 4] == ["tool:start", "tool:approval", "tool:decision", "tool:complete"]
    assert_contract(list(run.events))


async def test_an_edited_call_runs_with_the_new_params_checked_against_the_schema(tmp_path: Path):
    run = await approved_run(tmp_path)
    call_id = run.waiting[0]
    with pytest.raises(UserError, match="do not fit the schema of write_file: params: 'content' is a required property"):
        run.decide(call_id, "edit", {"path": "haiku.txt"})
    with pytest.raises(UserError, match="an edit needs params"):
        run.decide(call_id, "edit")
    with pytest.raises(UserError, match="decision must be one of approve, edit, deny"):
        run.decide(call_id, "maybe")
    assert run.waiting == [call_id]  # still waiting after the refusals
    run.decide(call_id, "edit", {"path": "tides.txt", "content": "the sea breathes out"}, note="a better line")
    state = await finish(run)
    assert (run.workspace / "tides.txt").read_text() == "the sea breathes out"
    assert not (run.workspace / "haiku.txt").exists()
    decision = next(e.data for e in run.events if isinstance(e.data, ev.ToolDecisionData))
    assert (decision.decision, decision.params, decision.note) == (
        "edit", {"path": "tides.txt", "content": "the sea breathes out"}, "a better line")
    call = state.tool_calls[0]
    assert (call.decision, call.decided_params, call.result) == ("edit", decision.params, "Wrote 20 bytes to tides.txt")


async def test_a_denied_call_does_not_run_and_the_model_answers_the_denial(tmp_path: Path):
    run = await approved_run(tmp_path)
    call_id = run.waiting[0]
    run.pause()  # so that it holds, after the denial, before its next model call
    run.decide(call_id, "deny", note="keep the workspace empty")
    await until(run, paused)
    with pytest.raises(NotWaiting, match=f"tool call {call_id} \\(write_file\\) is not waiting for a decision"):
        run.decide(call_id, "approve")
    with pytest.raises(UnknownToolCall, match="no tool call 'toolu_nope'"):
        run.decide("toolu_nope", "approve")
    run.resume()
    state = await finish(run)
    assert state.status == "complete" and not (run.workspace / "haiku.txt").exists()
    call = state.tool_calls[0]
    assert (call.status, call.is_error, call.note) == ("denied", True, "keep the workspace empty")
    assert call.result == "The person supervising this run denied this tool call. Their note: keep the workspace empty"
    answer = state.thinking_steps[-1].text  # the next model call read the denial
    assert answer.startswith("They denied my call to write_file with the note \u201ckeep the workspace empty\u201d")
    assert_contract(list(run.events))


async def test_approve_all_and_a_tool_that_asks_for_approval_itself(tmp_path: Path):
    @wb.tool(approve=True)
    def stamp(text: str) -> str:
        """Stamp a text."""
        return f"[{text}]"

    assert stamp.approve and wb.tool(stamp, name="stamp2").approve  # kept when decorated again
    phases = [[{"text": "Stamping.", "toolCalls": [{"name": "stamp", "input": {"text": "tide"}}]}, {"text": "Stamped."}]]
    run = wb.run("Stamp it", model="simulated", strategy="react", tools=[stamp],
                 options={"scenario": scenario(tmp_path, react=phases[0])})
    await until(run, lambda r: bool(r.waiting))
    run.decide(run.waiting[0], "approve")
    state = await finish(run)
    assert state.tool_calls[0].result == "[tide]"
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "approve": "all"})
    await until(run, lambda r: bool(r.waiting))
    assert run.state.tool_calls[-1].tool_name == "write_file"
    run.cancel()
    await finish(run)


async def test_options_naming_tools_the_run_lacks_are_refused_before_it_starts():
    with pytest.raises(UserError, match="options name tools this run does not have: send_email"):
        wb.run("Write a haiku", model="simulated", options={"approve": ["send_email"]})
    with pytest.raises(UserError, match="options name tools this run does not have: nope"):
        wb.run("Write a haiku", model="simulated", options={"breakpoints": [{"tool": "nope"}]})
    with pytest.raises(UserError, match="option 'breakpoints"):
        wb.run("Write a haiku", model="simulated", options={"breakpoints": ["phase"]})


# --- messages ------------------------------------------------------------------------------


async def test_a_message_reaches_the_model_at_its_next_call(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", options={"scenario": scenario(tmp_path),
                                                                        "breakpoints": [{"tool": "read_file"}]})
    await until(run, paused)  # in phase 2, before read_file runs
    run.say("Make the last line about the moon")
    message = run.events[-1]
    assert message.type == "user:message" and message.data.text == "Make the last line about the moon"
    assert message.data.phase_id == "p2"
    run.resume()
    state = await finish(run)
    after = [s for s in state.steps.values()][list(state.steps).index(f"u{message.id}") + 1:]
    answer = next(s for s in after if s.kind in ("thinking", "message"))  # that turn has no thinking: it says so
    assert answer.kind == "message" and answer.text.startswith(
        "The person supervising this run says: \u201cMake the last line about the moon\u201d. I will take that into account.")
    assert [s.text for s in state.user_messages] == ["Make the last line about the moon"]
    with pytest.raises(UserError, match="non-empty string"):
        wb.run("Write a haiku", model="simulated", options={"pace": 50}).say("   ")
    assert_contract(list(run.events))


async def test_without_thinking_the_model_says_what_it_heard(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "thinking": "off", "breakpoints": ["tool"]})
    await until(run, paused)
    run.say("Use the word brine")
    run.resume()
    state = await finish(run)
    assert state.messages[-1].text.startswith("The person supervising this run says: \u201cUse the word brine\u201d.")


# --- ending while waiting ------------------------------------------------------------------


async def test_cancel_ends_a_paused_run_and_a_waiting_tool_call(tmp_path: Path):
    run = await approved_run(tmp_path)
    run.cancel()
    state = await finish(run)
    assert state.status == "cancelled" and state.waiting == [] and state.tool_calls[0].status == "interrupted"
    assert shape(list(run.events))[-3:] == ["tool:approval", "tool:complete", "execution:cancelled"]
    assert_contract(list(run.events))
    with pytest.raises(NotWaiting, match="has ended"):
        run.pause()
    with pytest.raises(NotWaiting, match="has ended"):
        run.say("hello")


async def test_the_runs_timeout_ends_a_wait(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react",
                 options={"scenario": scenario(tmp_path), "breakpoints": ["model"], "timeout": 0.5})
    state = await finish(run)
    assert state.status == "error" and state.error is not None and state.error.type == "limit_exceeded"
    assert shape(list(run.events)) == ["execution:started", "execution:paused", "execution:error"]
    assert_contract(list(run.events))


def test_a_paused_run_costs_nothing_but_its_memory(tmp_path: Path):
    """No model call, no thread, no busy loop while it waits: counted, not timed."""
    run = wb.run("Write a haiku about tides", model="simulated", options={"scenario": scenario(tmp_path),
                                                                        "breakpoints": ["model"]})
    deadline = time.monotonic() + 15
    while run.status != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threads, events, cpu = threading.active_count(), len(run.events), time.process_time()
    time.sleep(1.0)
    assert threading.active_count() == threads  # no thread started to wait
    assert len(run.events) == events  # nothing happened
    assert time.process_time() - cpu < 0.1  # no busy loop: a second of waiting costs (nearly) no CPU
    run.cancel()
    assert run.wait(10).status == "cancelled"


def test_a_loaded_run_takes_no_controls(tmp_path: Path):
    run = wb.run("Write a haiku about tides", model="simulated", options={"scenario": scenario(tmp_path)})
    run.wait(30)
    path = run.save(tmp_path / "run.jsonl")
    with pytest.raises(NotWaiting, match="has ended"):
        run.resume()
    loaded = wb.load(path)
    with pytest.raises(NotWaiting, match="has ended"):
        loaded.pause()


# --- the contract's rules for waiting ------------------------------------------------------


def test_the_contract_checker_knows_the_rules_of_waiting():
    from workbench.core.contract import contract_violations

    def log(*datas: ev.EventData) -> list[ev.Event]:
        started = ev.ExecutionStartedData(task="t", started_at="2026-01-01T00:00:00.000Z", model="m", strategy="react")
        return [ev.make_event(d, id=i, run_id="r_x", ts="2026-01-01T00:00:00.000Z")
                for i, d in enumerate([started, *datas], start=1)]

    start = ev.ToolStartData(tool_name="write_file", params={}, tool_use_id="t1")
    approval = ev.ToolApprovalData(tool_use_id="t1", tool_name="write_file", params={})
    decision = ev.ToolDecisionData(tool_use_id="t1", decision="approve")
    complete = ev.ToolCompleteData(tool_name="write_file", result="ok", duration=1, tool_use_id="t1")
    end = ev.ExecutionCancelledData(reason="r", duration=1)
    thought = ev.ThinkingData(thought="x", iteration=1, step_id="s1")
    assert contract_violations(log(start, approval, decision, complete, end)) == []
    interrupted = ev.ToolCompleteData(tool_name="write_file", result="interrupted", duration=0, tool_use_id="t1",
                                      is_error=True)
    assert contract_violations(log(start, approval, interrupted, end)) == []  # closed by the run's end
    assert contract_violations(log(start, approval, complete, end)) == [
        "tool:complete (id 4) while the run waits (waiting on ['t1'])"]
    assert contract_violations(log(start, decision, complete, end)) == [
        "tool:decision t1 (id 3) decides no waiting tool:approval"]
    assert contract_violations(log(ev.ExecutionPausedData(reason="user", before="model"), thought, end)) == [
        "thinking (id 3) while the run waits (paused since id 2)"]
    assert contract_violations(log(ev.ExecutionResumedData(), end)) == [
        "execution:resumed (id 2) without an execution:paused before it"]
    # a message may come while it waits, and the terminal event may end a wait
    assert contract_violations(log(ev.ExecutionPausedData(reason="user", before="model"),
                                   ev.UserMessageData(text="hi"), end)) == []


def test_the_simulator_reads_what_the_agent_writes_for_a_person():
    """The simulator does not import the agent: it reads its words, which must agree."""
    from workbench.agent import prompts
    from workbench.agent.turns import add_user_messages
    from workbench.simulator.supervision import read_supervision

    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Task: t"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "write_file", "input": {}},
                                          {"type": "tool_use", "id": "t2", "name": "read_file", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": prompts.denied_result("not there"), "is_error": True},
            {"type": "tool_result", "tool_use_id": "t2", "content": prompts.denied_result(None), "is_error": True}]},
    ]
    add_user_messages(messages, ["first", "second: with a colon"])
    heard = read_supervision(messages)
    assert heard.messages == ["first", "second: with a colon"]
    assert heard.denied == [("write_file", "not there"), ("read_file", None)]
    plain = [{"role": "user", "content": "Task: t"}]
    add_user_messages(plain, ["hello"])
    assert plain[0]["content"] == [{"type": "text", "text": "Task: t"},
                                   {"type": "text", "text": prompts.person_message("hello")}]
    assert read_supervision(plain).messages == ["hello"]


# --- an agent of one's own -----------------------------------------------------------------


def test_a_recorded_agent_waits_at_its_checkpoints_and_for_its_approvals():
    heard: list[list[str]] = []
    calls: list[Any] = []

    def agent(rec: Any) -> None:
        rec.plan("Tidy the notes", ["Tidy"])
        with rec.phase("Tidy"):
            heard.append(rec.checkpoint())
            rec.think("I will delete the old notes.")
            with rec.tool("delete_file", approve=True, path="old.md") as call:
                calls.append(call)
                if not call.denied:
                    call.result = f"deleted {call.params['path']}"
            with rec.tool("delete_file", approve=True, path="draft.md") as call:
                calls.append(call)
                if not call.denied:
                    call.result = "deleted"
            heard.append(rec.checkpoint())
        rec.finish("Tidied.")

    rec = wb.record("Tidy the notes")
    run = rec.run
    run.pause()
    worker = threading.Thread(target=lambda: agent(rec))
    worker.start()
    wait_for(lambda: run.status == "paused")
    assert run.state.paused is not None and run.state.paused.before == "model"
    events = len(run.events)
    for refused, words in [("   ", "non-empty string"), ("x" * (MAX_MESSAGE_CHARS + 1), "the limit is 20,000")]:
        with pytest.raises(UserError, match=words):  # refused as a run of the agent refuses it
            run.say(refused)
    assert len(run.events) == events
    run.say("Keep anything from this week")
    run.resume()
    wait_for(lambda: bool(run.waiting))
    first = run.waiting[0]
    with pytest.raises(NotWaiting, match="not paused"):
        run.resume()
    run.decide(first, "edit", {"path": "older.md"})
    wait_for(lambda: bool(run.waiting) and run.waiting[0] != first)
    run.decide(run.waiting[0], "deny", note="the draft is this week's")
    worker.join(10)
    assert heard == [["Keep anything from this week"], []]
    assert [(c.decision, c.params, c.result, c.is_error) for c in calls] == [
        ("edit", {"path": "older.md"}, "deleted older.md", False),
        ("deny", {"path": "draft.md"}, "The person supervising this run denied this tool call. Their note: "
                                       "the draft is this week's", True)]
    assert run.state.status == "complete" and [s.status for s in run.state.tool_calls] == ["complete", "denied"]
    assert_contract(list(run.events))
    with pytest.raises(NotWaiting, match="has ended"):
        run.say("too late")


def wait_for(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
