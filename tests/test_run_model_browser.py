"""The front end's run model (``static/run_model.js``) against Python's fold, in a real Chromium.

The model is the one place the browser folds events. Imported from the file the widget ships
(``bundle`` joins it in verbatim), its snapshot after the first k events must equal ``fold(events[:k]).to_dict()``, whole, at many k: for the
shipped run file, a cancelled run, a failed run, a run without a plan, a run a person takes part in
(an edited and a denied tool call, a pause, a message, a step), a run cancelled while a call waits for
its decision, and a hand-written run with chosen timestamps (its model calls' times, phases' times and tokens and "now"), fed both as raw
envelopes (what the inspector folds) and as the kernel's merged items (what the live view folds).
Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from test_numbers import hand_run

import workbench as wb
from conftest import write_scenario
from workbench import events as ev
from workbench.core.reducer import fold
from workbench.notebook.widget.bundle import STATIC
from workbench.notebook.widget.messages import merged_items

SHIPPED = Path(__file__).resolve().parent.parent / "notebooks" / "runs" / "coffee-shop.jsonl"
TASK = "Create a landing page for a coffee shop"
BOUNDARIES = {"execution:started", "plan:created", "phase:start", "phase:complete", "model:retry", "usage",
              "tool:start", "tool:complete", "execution:paused", "execution:resumed", "tool:approval", "tool:decision",
              "user:message"}


@pytest.fixture(scope="module")
def model_page():
    """A page with the model module imported as ``window.runModel``."""
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_content("<!doctype html><meta charset='utf-8'><title>run model</title>")
        page.evaluate(
            """async (source) => {
                 const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
                 window.runModel = await import(url);
               }""",
            (STATIC / "run_model.js").read_text("utf-8"),
        )
        yield page
        assert not errors, errors


def until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.01)


def shipped() -> list[ev.Event]:
    return list(wb.load(SHIPPED).events)


def cancelled() -> list[ev.Event]:
    """Cancelled while the second phase streams: its phase is cancelled, its streaming step is interrupted."""
    run = wb.run(TASK, model="simulated", options={"pace": 400})

    def streaming_in_p2() -> bool:
        start = next((e.id for e in run.events if e.type == "phase:start" and e.data.phase_id == "p2"), None)
        return start is not None and any(e.type == "thinking:delta" for e in run.events[start:])

    until(streaming_in_p2)
    run.cancel("stopped by the test")
    run.wait(timeout=30)
    return list(run.events)


def failed() -> list[ev.Event]:
    """Model calls that keep breaking mid-stream: retries, interrupted steps, then the error."""
    faults = [{"request": n, "kind": "midstream_error", "afterFrames": 12} for n in range(3, 7)]
    run = wb.run(TASK, model="simulated", options={"faults": faults, "retryDelay": 0.01, "maxRetries": 2})
    run.wait(timeout=30)
    return list(run.events)


def react(folder: Path) -> list[ev.Event]:
    """A run without a plan, so every step is outside any phase; a tool fails, a thought is redacted."""
    turns = [
        {"thinking": "Read the notes first.", "toolCalls": [{"name": "read_file", "input": {"path": "missing.txt"}}]},
        {"thinking": "No notes; look around.", "redactedThinking": True, "text": "Listing the files.",
         "toolCalls": [{"name": "list_files", "input": {"path": "."}}]},
        {"text": "There are no files yet."},
    ]
    scenario = write_scenario(folder / "react.json", react=turns, final={"text": "There are no files yet."},
                              plan={"goal": "Unused.", "phases": [{"name": "Unused"}]}, phases=[turns])
    run = wb.run("Say what the files are", model="simulated", strategy="react", options={"scenario": scenario})
    run.wait(timeout=30)
    return list(run.events)


def interactive(folder: Path) -> list[ev.Event]:
    """A person takes part: an edited call, a denied one with a note, a pause before a tool, a message, a step."""
    edit, deny = ({"name": "write_file", "input": {"path": name, "content": "moon pulls the water"}}
                  for name in ("draft.txt", "extra.txt"))
    scenario = write_scenario(folder / "interactive.json", final={"text": "Here is the haiku."},
                              plan={"goal": "A haiku", "phases": [{"name": "Draft"}, {"name": "Check"}]},
                              phases=[[{"thinking": "Draft it.", "toolCalls": [edit]},
                                       {"thinking": "One more file.", "toolCalls": [deny]}, {"text": "Drafted."}],
                                      [{"thinking": "Read it back.", "toolCalls": [{"name": "read_file", "input": {"path": "haiku.txt"}}]},
                                       {"text": "Checked."}]])
    run = wb.run("Write a haiku about tides", model="simulated",
                 options={"scenario": scenario, "approve": ["write_file"], "breakpoints": [{"tool": "read_file"}]})
    until(lambda: len(run.waiting) == 1)
    run.decide(run.waiting[0], "edit", {"path": "haiku.txt", "content": "the sea breathes out"}, note="a better line")
    until(lambda: len(run.waiting) == 1 and run.waiting[0] != run.state.tool_calls[0].step_id)
    run.decide(run.waiting[0], "deny", note="one file is enough")
    until(lambda: run.status == "paused" and not run.waiting)  # before read_file
    run.say("Make the last line about the moon")
    run.step()
    until(lambda: run.status == "paused" and run.state.paused is not None and run.state.paused.before == "model")
    run.resume()
    run.wait(timeout=30)
    return list(run.events)


def cancelled_waiting() -> list[ev.Event]:
    """Cancelled while a tool call waits for its decision: the call is interrupted, the wait counted."""
    run = wb.run(TASK, model="simulated", options={"approve": "all"})
    until(lambda: bool(run.waiting))
    time.sleep(0.02)
    run.cancel("stopped while waiting")
    run.wait(timeout=30)
    return list(run.events)


def forked() -> list[ev.Event]:
    """A fork inside a phase, made a while after its parent ended: the phase leaves that time out."""
    parent = wb.run(TASK, model="simulated")
    parent.wait(timeout=30)
    time.sleep(0.05)
    at = next(e.id for e in parent.events if e.type == "tool:complete" and e.data.tool_name == "write_file")
    fork = parent.fork(at=at, message="Shorter, please.")
    fork.wait(timeout=30)
    return list(fork.events)


def positions(events: list[ev.Event]) -> list[int]:
    """k = 0, 1, 2, n - 1, n, every 1/16 of the run, and around the first event of each type and each boundary."""
    n = len(events)
    ks = {0, 1, 2, n - 1, n, *range(0, n, max(1, n // 16))}
    firsts: dict[str, int] = {}
    for event in events:
        firsts.setdefault(event.type, event.id)
        if event.type in BOUNDARIES:
            ks |= {event.id - 1, event.id}
    for id_ in firsts.values():
        ks |= {id_ - 1, id_, id_ + 1}
    return sorted(k for k in ks if 0 <= k <= n)


def js_snapshots(page: Any, feeds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The model's snapshot after folding each feed, from a fresh state."""
    texts = page.evaluate("feeds => feeds.map(f => JSON.stringify(runModel.snapshot(runModel.fold(f))))", feeds)
    return [json.loads(text) for text in texts]


def python_snapshot(events: list[ev.Event]) -> dict[str, Any]:
    return json.loads(json.dumps(fold(events).to_dict()))


NAMES = ["shipped", "cancelled", "failed", "react", "hand", "interactive", "cancelled_waiting", "forked"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[ev.Event]]:
    return {"shipped": shipped(), "cancelled": cancelled(), "failed": failed(),
            "react": react(tmp_path_factory.mktemp("scenarios")), "hand": hand_run(),
            "interactive": interactive(tmp_path_factory.mktemp("interactive")), "cancelled_waiting": cancelled_waiting(),
            "forked": forked()}


@pytest.mark.parametrize("name", NAMES)
def test_the_js_model_folds_every_prefix_as_python_does(model_page, runs, name):
    events = runs[name]
    envelopes = [e.to_dict() for e in events]
    ks = positions(events)
    assert len(ks) >= min(20, len(events) + 1)
    raw = js_snapshots(model_page, [envelopes[:k] for k in ks])
    merged = js_snapshots(model_page, [merged_items(events[:k]) for k in ks])
    for k, from_raw, from_items in zip(ks, raw, merged):
        expected = python_snapshot(events[:k])
        assert from_raw == expected, f"{name}: the JS model after {k} raw events differs from fold(events[:{k}])"
        assert from_items == expected, f"{name}: the JS model after the merged items of {k} events differs"


def test_the_runs_reach_the_states_the_view_shows(runs):
    """The comparisons above are worth something only if the runs get there: check that they do."""
    states = {name: fold(events) for name, events in runs.items()}
    assert states["shipped"].status == "complete" and len(states["shipped"].phases) == 5
    cancelled_state = states["cancelled"]
    assert cancelled_state.status == "cancelled" and cancelled_state.cancel_reason == "stopped by the test"
    assert [p.status for p in cancelled_state.phases.values()][:2] == ["complete", "cancelled"]
    assert any(s.status == "interrupted" for s in cancelled_state.steps.values())
    failed_state = states["failed"]
    assert failed_state.status == "error" and failed_state.error is not None and failed_state.retries
    assert any(s.status == "interrupted" for s in failed_state.steps.values())
    assert "failed" in {p.status for p in failed_state.phases.values()}
    react_state = states["react"]
    assert react_state.status == "complete" and not react_state.phases and react_state.items_of(None)
    assert [call.is_error for call in react_state.tool_calls] == [True, False]
    assert any(step.redacted for step in react_state.thinking_steps)
    # The figures and "now" the comparisons cover take the values the view shows.
    shipped_events = runs["shipped"]
    nows = {fold(shipped_events[:k]).now for k in positions(shipped_events)}
    assert nows >= {"planning", "thinking", "writing", "waiting for the model", "calling write_file", "done"}
    assert len(states["shipped"].model_calls) == 16 and all(p.duration for p in states["shipped"].phases.values())
    assert any(call.ttft is None for call in states["hand"].model_calls) and states["hand"].retries
    assert fold(runs["cancelled"]).now == "cancelled" and fold(runs["failed"]).now == "failed"
    # A person's part: every waiting state and "now" line the view shows, a denied call, a message.
    interactive_events = runs["interactive"]
    nows = {fold(interactive_events[:k]).now for k in positions(interactive_events)}
    assert nows >= {"waiting for your decision on write_file", "paused before calling read_file",
                    "paused before the next model call"}
    done = states["interactive"]
    assert done.status == "complete" and done.waited > 0 and done.paused is None
    assert [(c.decision, c.status) for c in done.tool_calls] == [("edit", "complete"), ("deny", "denied"), (None, "complete")]
    assert [s.text for s in done.user_messages] == ["Make the last line about the moon"]
    stopped = states["cancelled_waiting"]
    assert stopped.status == "cancelled" and stopped.waiting == [] and stopped.tool_calls[-1].status == "interrupted"
    waiting_at = next(e.id for e in runs["cancelled_waiting"] if e.type == "tool:approval")
    assert fold(runs["cancelled_waiting"][:waiting_at]).waiting == [stopped.tool_calls[-1].step_id]
