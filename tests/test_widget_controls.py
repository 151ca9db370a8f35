"""The view's controls on the kernel side: Pause, Resume, Step, decisions and messages as custom messages.

No browser: messages go in as ipywidgets delivers them and the answers and events that come out
are captured (``test_widget``'s ``capture``). Every run is the orchestrator with the simulator
behind the real SDK.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from test_widget import FrontEnd, capture, message, wait_for  # noqa: F401 - capture is a fixture

import workbench as wb
from conftest import write_scenario
from workbench.notebook.widget import RunView

_ids = itertools.count(1)


def supervised_scenario(folder: Path) -> str:
    """Three write_file calls in the first phase (to approve, to edit, to deny), then a read_file."""
    def write(name: str) -> dict[str, Any]:
        return {"name": "write_file", "input": {"path": name, "content": "moon pulls the water"}}

    return write_scenario(
        folder / "supervised.json",
        plan={"goal": "A haiku about tides", "phases": [{"name": "Draft"}, {"name": "Check"}]},
        phases=[
            [{"thinking": "Keep some notes first.", "toolCalls": [write("notes.txt")]},
             {"thinking": "Now the draft.", "toolCalls": [write("draft.txt")]},
             {"thinking": "And a spare copy.", "toolCalls": [write("extra.txt")]},
             {"thinking": "The files are written.", "text": "Drafted."}],
            [{"thinking": "Read it back.", "toolCalls": [{"name": "read_file", "input": {"path": "haiku.txt"}}]},
             {"text": "Checked."}],
        ],
        final={"thinking": "Summarise.", "text": "Here is the haiku."},
    )


def supervised_run(folder: Path, **options: Any) -> wb.Run:
    return wb.run("Write a haiku about tides", model="simulated",
                  options={"scenario": supervised_scenario(folder), "approve": ["write_file"], **options})


def ask(view: RunView, sent: Any, content: dict[str, Any]) -> dict[str, Any]:
    """Send a control as the browser does and return the kernel's answer to it."""
    request_id = f"t:{next(_ids)}"
    message(view, {**content, "requestId": request_id})

    def answers() -> list[dict[str, Any]]:
        return [m for _, m in sent.of_kind("control") if m["requestId"] == request_id]

    wait_for(lambda: bool(answers()))
    assert len(answers()) == 1
    return answers()[0]


def events_sent(sent: Any) -> list[dict[str, Any]]:
    front = FrontEnd()
    for _, m in sent.of_kind("events"):
        front.receive(m["events"])
    return front.items


def waiting_call(run: wb.Run, count: int = 1) -> str:
    """The toolUseId of the ``count``-th call to wait for a decision, once it waits."""
    wait_for(lambda: len([e for e in run.events if e.type == "tool:approval"]) >= count and bool(run.waiting))
    return run.waiting[0]


def test_the_controls_trait_says_whether_the_run_takes_controls_here(tmp_path, capture):  # noqa: F811
    run = supervised_run(tmp_path)
    view = RunView(run)
    capture(view)
    assert view.controls is True
    waiting_call(run)
    run.cancel()
    run.wait(timeout=10)
    wait_for(lambda: view.controls is False)  # the run has ended: nothing to control any more
    assert RunView(run).controls is False
    loaded = RunView(wb.load(run.save(tmp_path / "run.jsonl")))
    capture(loaded)
    assert loaded.controls is False


def test_approve_edit_and_deny_from_the_view_with_the_kernels_refusals_answered(tmp_path, capture):  # noqa: F811
    run = supervised_run(tmp_path)
    view = RunView(run)
    sent = capture(view)
    first = waiting_call(run)
    answer = ask(view, sent, {"kind": "decide", "toolUseId": first, "decision": "approve", "params": None, "note": None})
    assert answer == {"kind": "control", "requestId": answer["requestId"], "ok": True, "error": None}

    second = waiting_call(run, 2)
    # An edit that breaks the tool's schema is refused with the schema's words; the call keeps waiting.
    refused = ask(view, sent, {"kind": "decide", "toolUseId": second, "decision": "edit", "params": {"path": "haiku.txt"}})
    assert refused["ok"] is False
    assert refused["error"] == "the edited params do not fit the schema of write_file: params: 'content' is a required property"
    assert ask(view, sent, {"kind": "decide", "toolUseId": second, "decision": "edit", "params": ["haiku.txt"]})["error"] == (
        "an edit needs params: the tool's input as a JSON object")
    assert ask(view, sent, {"kind": "decide", "toolUseId": second, "decision": "maybe"})["error"] == (
        "decision must be one of approve, edit, deny, not 'maybe'")
    assert ask(view, sent, {"kind": "decide", "toolUseId": 7, "decision": "approve"})["error"] == (
        "a decision needs the toolUseId of the waiting tool call")
    assert ask(view, sent, {"kind": "decide", "toolUseId": "toolu_nope", "decision": "approve"})["error"] == (
        "this run has made no tool call 'toolu_nope'")
    assert run.waiting == [second] and run.state.now == "waiting for your decision on write_file"
    edit = {"path": "haiku.txt", "content": "the sea breathes out"}
    assert ask(view, sent, {"kind": "decide", "toolUseId": second, "decision": "edit", "params": edit, "note": "better"})["ok"]
    assert ask(view, sent, {"kind": "decide", "toolUseId": second, "decision": "approve"})["error"] == (
        f"tool call {second} (write_file) is not waiting for a decision")

    third = waiting_call(run, 3)
    assert ask(view, sent, {"kind": "decide", "toolUseId": third, "decision": "deny", "note": "one copy is enough"})["ok"]
    state = run.wait(timeout=30)
    assert state.status == "complete"
    assert [(c.decision, c.decided_params, c.note, c.status) for c in state.tool_calls] == [
        ("approve", None, None, "complete"), ("edit", edit, "better", "complete"),
        ("deny", None, "one copy is enough", "denied"), (None, None, None, "complete")]
    assert (run.workspace / "haiku.txt").read_text() == "the sea breathes out" and not (run.workspace / "extra.txt").exists()
    # The view was sent every event, the decisions among them, in order.
    wait_for(lambda: not view._pumping)
    items = events_sent(sent)
    assert [i["data"]["decision"] for i in items if i["type"] == "tool:decision"] == ["approve", "edit", "deny"]
    assert [i["id"] for i in items][-1] == len(run.events)
    # The files the view lists: the edited call's path, not the model's; nothing of the denied one.
    wait_for(lambda: bool(sent.of_kind("files")))
    assert [f["path"] for f in sent.of_kind("files")[-1][1]["files"]] == ["notes.txt", "haiku.txt"]


def test_pause_step_resume_and_a_message_from_the_view(tmp_path, capture):  # noqa: F811
    run = supervised_run(tmp_path)
    view = RunView(run)
    sent = capture(view)
    first = waiting_call(run)
    assert ask(view, sent, {"kind": "resume", "step": False})["error"] == "the run is not paused; pause it first (run.pause())"
    assert ask(view, sent, {"kind": "pause"})["ok"]  # taken while the call waits: it holds at the next boundary
    assert ask(view, sent, {"kind": "decide", "toolUseId": first, "decision": "approve"})["ok"]
    wait_for(lambda: run.state.paused is not None)
    assert run.state.now == "paused before the next model call" and run.state.paused.reason == "user"
    assert ask(view, sent, {"kind": "resume", "step": "yes"})["error"] == "step must be true or false"
    assert ask(view, sent, {"kind": "resume", "step": True})["ok"]
    # the step: the model's next call, its write_file's start, and a pause before it runs
    wait_for(lambda: run.state.paused is not None and run.state.paused.before == "tool")
    assert run.state.now == "paused before calling write_file"
    assert ask(view, sent, {"kind": "say", "text": "   "})["error"] == "a message to the agent must be a non-empty string"
    assert ask(view, sent, {"kind": "say", "text": "Make the last line about the moon"})["ok"]
    assert ask(view, sent, {"kind": "resume"})["ok"]
    second = waiting_call(run, 2)
    run.decide(second, "approve")
    run.decide(waiting_call(run, 3), "approve")
    state = run.wait(timeout=30)
    assert [s.text for s in state.user_messages] == ["Make the last line about the moon"]
    # The model's next thought after the message says it heard it.
    steps = list(state.steps.values())
    after = steps[steps.index(state.user_messages[0]) + 1:]
    thought = next(s for s in after if s.kind == "thinking")
    assert thought.text.startswith(
        "The person supervising this run says: \u201cMake the last line about the moon\u201d. I will take that into account.")
    assert ask(view, sent, {"kind": "pause"})["error"] == f"run {run.id} has ended (complete); there is nothing to control"
    assert ask(view, sent, {"kind": "say", "text": "hello"})["ok"] is False
    wait_for(lambda: not view._pumping)
    kinds = [i["type"] for i in events_sent(sent)]
    assert [k for k in kinds if k in ("execution:paused", "execution:resumed", "user:message")] == [
        "execution:paused", "execution:resumed", "execution:paused", "user:message", "execution:resumed"]


def test_two_views_of_one_run_one_decides_and_the_other_updates_at_once(tmp_path, capture):  # noqa: F811
    run = supervised_run(tmp_path)
    deciding, watching = RunView(run), RunView(run)
    sent, seen = capture(deciding), capture(watching)
    first = waiting_call(run)
    wait_for(lambda: any(i["type"] == "tool:approval" for i in events_sent(seen)))
    assert ask(deciding, sent, {"kind": "decide", "toolUseId": first, "decision": "deny", "note": "not now"})["ok"]
    answered = time.monotonic()
    wait_for(lambda: any(i["type"] == "tool:decision" for i in events_sent(seen)), timeout=2)
    assert time.monotonic() - answered < 0.5  # at the next message of its pump, not at some later refresh
    decision = next(i for i in events_sent(seen) if i["type"] == "tool:decision")
    assert decision["data"] == {"toolUseId": first, "decision": "deny", "params": None, "note": "not now", "by": None}
    # The answer went to the view that asked only: the other has no control answer at all.
    assert seen.of_kind("control") == []
    run.cancel()
    run.wait(timeout=10)


def test_a_loaded_run_refuses_every_control_with_a_reason(tmp_path, capture):  # noqa: F811
    done = wb.run("Write a haiku about tides", model="simulated")
    done.wait(timeout=30)
    view = RunView(wb.load(done.save(tmp_path / "run.jsonl")))
    sent = capture(view)
    for content in ({"kind": "pause"}, {"kind": "resume", "step": True}, {"kind": "say", "text": "hi"},
                    {"kind": "decide", "toolUseId": "toolu_x", "decision": "approve"}):
        answer = ask(view, sent, content)
        assert answer["ok"] is False and answer["error"] == f"run {done.id} has ended (complete); there is nothing to control"


@pytest.mark.parametrize("content", [{"kind": "pause"}, {"kind": "say", "text": "hello"}])
def test_a_run_that_takes_no_controls_here_says_so(content, capture):  # noqa: F811
    run = wb.Run(run_id="r_elsewhere", task="t", model="simulated", strategy="plan", created_at="2026-01-01T00:00:00.000Z")
    view = RunView(run)
    sent = capture(view)
    assert view.controls is False
    assert ask(view, sent, content)["error"] == (
        "run r_elsewhere takes no controls here: it was loaded or replayed, not started in this process "
        "(attach to the server that runs it)")
