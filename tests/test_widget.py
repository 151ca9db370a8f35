"""The notebook widget's kernel side: what it sends, how fast, and what it answers.

No browser and no kernel: a widget can be made without one, and its messages are captured by
wrapping ``RunView.send``. A small Python model of the front end applies them the way
``run_view.js`` does (by id, each event once) to check that every view sees the whole run.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from conftest import write_scenario
from workbench.notebook.widget import RunView, export_html
from workbench.notebook.widget.messages import MAX_ENVELOPES, merged_items


class Captured:
    """The messages one widget sent, with the time each went out."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[float, dict[str, Any]]] = []

    def add(self, content: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), json.loads(json.dumps(content))))

    def of_kind(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return [(t, m) for t, m in self.messages if m["kind"] == kind]

    def __len__(self) -> int:
        with self.lock:
            return len(self.messages)


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch):
    """``capture(view)`` gives the messages ``view`` sends from now on."""
    sinks: dict[int, Captured] = {}

    def send(self: RunView, content: dict[str, Any], buffers: Any = None) -> None:
        sinks.setdefault(id(self), Captured()).add(content)

    monkeypatch.setattr(RunView, "send", send)
    views: list[RunView] = []

    def get(view: RunView) -> Captured:
        views.append(view)
        return sinks.setdefault(id(view), Captured())

    yield get
    for view in views:
        view.close()


def message(view: RunView, content: dict[str, Any]) -> None:
    """A custom message from the browser, as ipywidgets delivers it."""
    view._handle_custom_msg(content, [])


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        time.sleep(0.01)


def expand(items: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for item in items:
        ids.extend(range(item.get("firstId", item["id"]), item["id"] + 1))
    return ids


class FrontEnd:
    """What a view of ``run_view.js`` does with ``events`` messages: apply in id order, once."""

    def __init__(self) -> None:
        self.applied = 0
        self.items: list[dict[str, Any]] = []
        self.early: dict[int, dict[str, Any]] = {}

    def receive(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            first = item.get("firstId", item["id"])
            if item["id"] <= self.applied:
                continue
            assert first > self.applied, f"item {first}..{item['id']} overlaps event {self.applied}"
            self.early[first] = item
            while self.applied + 1 in self.early:
                taken = self.early.pop(self.applied + 1)
                self.items.append(taken)
                self.applied = taken["id"]


def long_scenario(path: Path, phases: int = 4, turns: int = 3, words: int = 300) -> str:
    """A scenario with long thinking, so a run has thousands of events."""
    text = " ".join(f"word{i}" for i in range(words))
    return write_scenario(
        path,
        plan={"goal": "Exercise the widget.", "phases": [{"name": f"Phase {i + 1}"} for i in range(phases)]},
        phases=[
            [{"thinking": f"{text} ({p}.{t})", "text": f"Step {p}.{t}.", "toolCalls": [{"name": "list_files", "input": {"path": "."}}]}
             for t in range(turns)]
            for p in range(phases)
        ],
        final={"thinking": text, "text": "All done."},
    )


@pytest.fixture(scope="module")
def finished() -> wb.Run:
    run = wb.run("Create a landing page for a coffee shop", model="simulated")
    run.wait(timeout=30)
    return run


# --- the stream --------------------------------------------------------------------------


@pytest.mark.parametrize("pace, size", [(0, 3000), (2000, 400)])
def test_a_fast_live_run_arrives_whole_in_order_and_at_most_20_messages_a_second(tmp_path, capture, pace, size):
    scenario = long_scenario(tmp_path / "s.json", phases=4 if size > 1000 else 2, turns=3 if size > 1000 else 1)
    run = wb.run("Exercise the widget", model="simulated", options={"pace": pace, "scenario": scenario})
    view = RunView(run)
    sent = capture(view)
    run.wait(timeout=60)
    wait_for(lambda: not view._pumping)
    events = run.events
    assert len(events) > size and events[-1].type == "execution:complete"

    messages = sent.of_kind("events")
    times = [t for t, _ in messages]
    assert all(b - a >= view.interval * 0.98 for a, b in zip(times, times[1:]))
    for i, start in enumerate(times):  # no window of one second holds more than 20
        assert sum(1 for t in times[i:] if t < start + 1.0) <= 20
    if pace:
        assert len(messages) >= 10  # the run lasted long enough for the limit to matter

    items = [item for _, m in messages for item in m["events"]]
    assert expand(items) == list(range(1, len(events) + 1))  # every event, in order, once
    assert view.messages_sent == len(sent) and view.bytes_sent == sum(
        len(json.dumps(m, ensure_ascii=False).encode()) for _, m in sent.messages)

    # Merged deltas add up to the same text, and everything else is the exact envelope.
    by_id = {e.id: e.to_dict() for e in events}
    text: dict[str, str] = {}
    for item in items:
        if item["type"] in ("thinking:delta", "text:delta"):
            text[item["data"]["stepId"]] = text.get(item["data"]["stepId"], "") + item["data"]["delta"]
            raw = [by_id[i] for i in range(item.get("firstId", item["id"]), item["id"] + 1)]
            assert {r["type"] for r in raw} == {item["type"]} and {r["data"]["stepId"] for r in raw} == {item["data"]["stepId"]}
            assert item["data"]["delta"] == "".join(r["data"]["delta"] for r in raw)
        else:
            # The exact envelope, with the kernel's HTML of the Markdown beside messages and the result.
            assert "firstId" not in item and {k: v for k, v in item.items() if k != "html"} == by_id[item["id"]]
            assert ("html" in item) == (item["type"] in ("text", "execution:complete"))
    state = run.state
    for step in state.steps.values():
        if step.kind in ("thinking", "message"):
            assert text[step.step_id] == step.text
    assert len(items) < len(events) / 5  # merging pays off


def test_merged_items_merges_only_consecutive_deltas_of_one_step(finished):
    events = finished.events
    items = merged_items(events)
    assert expand(items) == list(range(1, len(events) + 1))
    for a, b in zip(items, items[1:]):
        if a["type"] == b["type"] and a["type"].endswith(":delta"):
            assert a["data"]["stepId"] != b["data"]["stepId"]


def test_ready_answers_with_the_backlog_and_every_view_sees_the_whole_run(tmp_path, capture):
    run = wb.run("Exercise the widget", model="simulated",
                 options={"pace": 3000, "scenario": long_scenario(tmp_path / "s.json", phases=2, turns=2, words=150)})
    view = RunView(run)
    sent = capture(view)
    # Views that appear at different moments (another output, a page reload) each say ready.
    joins: list[int] = []
    for at in (0, 100, 350, 600):
        wait_for(lambda: len(run.events) >= at or run.done)
        with sent.lock:
            joins.append(len(sent.messages))
        message(view, {"kind": "ready"})
    run.wait(timeout=60)
    wait_for(lambda: not view._pumping)
    n = len(run.events)
    for start in joins:
        front = FrontEnd()
        with sent.lock:
            later = [m for _, m in sent.messages[start:] if m["kind"] == "events"]
        for m in later:
            front.receive(m["events"])
        assert front.applied == n and expand(front.items) == list(range(1, n + 1))

    # After the run, ready still gives everything, merged, in one message per 2,000 items.
    before = len(sent)
    message(view, {"kind": "ready"})
    wait_for(lambda: len(sent) > before)
    wait_for(lambda: not view._tasks)
    backlog = [item for _, m in sent.messages[before:] if m["kind"] == "events" for item in m["events"]]
    assert expand(backlog) == list(range(1, n + 1))
    assert sent.messages[-1][1]["kind"] == "files"  # then the workspace and the files written


def test_a_finished_run_goes_out_at_once_and_then_the_pump_stops(finished, capture):
    view = RunView(finished)
    sent = capture(view)
    wait_for(lambda: not view._pumping)
    items = [item for _, m in sent.of_kind("events") for item in m["events"]]
    assert expand(items) == list(range(1, len(finished.events) + 1))
    assert (view.run_id, view.task, view.model, view.strategy) == (
        finished.id, finished.task, finished.model, finished.strategy)
    wait_for(lambda: view._idle.is_set())
    assert not finished.log.waiting


# --- the browser's requests ------------------------------------------------------------------


def test_envelopes_requests_get_the_exact_raw_envelopes(finished, capture):
    view = RunView(finished)
    sent = capture(view)
    message(view, {"kind": "envelopes", "from": 2, "to": 40, "requestId": "a:1"})
    message(view, {"kind": "envelopes", "from": 1, "to": 10**6, "requestId": "a:2"})
    message(view, {"kind": "envelopes", "from": "x", "to": None, "requestId": "a:3"})
    wait_for(lambda: len(sent.of_kind("envelopes")) == 3)
    replies = {m["requestId"]: m["events"] for _, m in sent.of_kind("envelopes")}
    assert replies["a:1"] == [e.to_dict() for e in finished.events[1:40]]
    whole = replies["a:2"]
    assert len(whole) == min(len(finished.events), MAX_ENVELOPES)
    assert whole == [e.to_dict() for e in finished.events[: len(whole)]]
    assert replies["a:3"] == []


def test_cancel_from_the_browser_stops_a_live_run(capture):
    run = wb.run("Create a landing page for a coffee shop", model="simulated", options={"pace": 150})
    view = RunView(run)
    sent = capture(view)
    wait_for(lambda: len(run.events) > 5)
    message(view, {"kind": "cancel"})
    state = run.wait(timeout=10)
    assert state.status == "cancelled" and state.cancel_reason == "stopped from the notebook"
    wait_for(lambda: not view._pumping)
    items = [item for _, m in sent.of_kind("events") for item in m["events"]]
    assert expand(items) == list(range(1, len(run.events) + 1))
    assert items[-1]["type"] == "execution:cancelled"
    message(view, {"kind": "cancel"})  # a second click on a finished run is harmless
    message(view, {"kind": "no-such-kind"})
    message(view, ["not", "a", "dict"])


def test_close_stops_the_pump_and_leaves_nothing_behind(capture):
    run = wb.run("Create a landing page for a coffee shop", model="simulated", options={"pace": 150})
    try:
        view = RunView(run)
        sent = capture(view)
        wait_for(lambda: len(sent) >= 2)
        view.close()
        assert view._idle.is_set() and not view._tasks and not view._pumping
        assert not run.log.waiting
        count = len(sent)
        time.sleep(0.3)
        assert len(run.events) > sent.of_kind("events")[-1][1]["events"][-1]["id"]  # the run went on…
        assert len(sent) == count  # …but the view sends nothing more
        message(view, {"kind": "ready"})
        time.sleep(0.1)
        assert len(sent) == count and not view._tasks
        view.close()  # twice is fine
    finally:
        run.cancel()
        run.wait(timeout=10)


def test_views_of_a_loaded_run_use_the_background_loop(finished, tmp_path, capture):
    loaded = wb.load(finished.save(tmp_path / "run.jsonl"))
    assert loaded._loop is None
    view = RunView(loaded)
    sent = capture(view)
    wait_for(lambda: not view._pumping)
    items = [item for _, m in sent.of_kind("events") for item in m["events"]]
    assert expand(items) == list(range(1, len(finished.events) + 1))


def test_long_backlogs_are_split_into_messages_of_at_most_2000_items():
    events = _many_events(9_000)
    items = merged_items(events)
    assert len(items) == 9_000  # nothing to merge here
    run = wb.Run(run_id="r_big", task="big", model="simulated", strategy="plan", created_at="2026-01-01T00:00:00.000Z")
    run.log.extend(events)
    sent: list[tuple[float, dict[str, Any]]] = []
    view = RunView.__new__(RunView)  # capture without the fixture, to keep the timing of this one
    original = RunView.send
    try:
        RunView.send = lambda self, content, buffers=None: sent.append((time.monotonic(), content))  # type: ignore[method-assign]
        view.__init__(run)
        wait_for(lambda: not view._pumping)
    finally:
        RunView.send = original  # type: ignore[method-assign]
        view.close()
    assert [len(m["events"]) for _, m in sent if m["kind"] == "events"] == [2000, 2000, 2000, 2000, 1000]
    assert sent[-1][1]["kind"] == "files"
    times = [t for t, m in sent if m["kind"] == "events"]
    assert all(b - a >= 0.049 for a, b in zip(times, times[1:]))


def _many_events(n: int) -> list[wb.events.Event]:
    from workbench.core import events as ev

    made = [ev.make_event(ev.ExecutionStartedData(task="big", started_at="2026-01-01T00:00:00.000Z",
                                                  model="simulated", strategy="react"), id=1, run_id="r_big")]
    for i in range(2, n):
        made.append(ev.make_event(ev.UsageData(input=i, output=i), id=i, run_id="r_big"))
    made.append(ev.make_event(ev.ExecutionCompleteData(result="ok", duration=1.0, tokens_used=ev.Usage()), id=n, run_id="r_big"))
    return made


# --- the exported page ---------------------------------------------------------------------


def test_export_html_is_one_offline_page_with_every_event(finished, tmp_path):
    target = tmp_path / "run.html"
    page = export_html(finished, target)
    assert target.read_text("utf-8") == page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"""@import|url\(\s*["']?https?:""", page, re.I)
    assert page.count("</script>") == 2  # the data block and the bootstrap; nothing else closes early
    data = re.search(r'<script type="application/json" id="wb-data">(.*?)</script>', page, re.S)
    assert data is not None
    payload = json.loads(data.group(1))
    assert payload["events"] == [e.to_dict() for e in finished.events]
    assert payload["meta"] == {"runId": finished.id, "task": finished.task, "model": finished.model,
                               "strategy": finished.strategy}
    assert "export default" in payload["module"]
    # The page's stand-in kernel merges and pages as the kernel does, with the kernel's own constants.
    assert payload["limits"] == {"deltaTypes": ["text:delta", "thinking:delta"], "maxItems": 2_000, "maxEnvelopes": 5_000}


def test_export_html_escapes_script_breaking_text(tmp_path):
    run = wb.Run(run_id="r_x", task="</script><script>alert(1)</script>", model="simulated", strategy="plan",
                 created_at="2026-01-01T00:00:00.000Z")
    from workbench.core import events as ev

    run.log.append(ev.ExecutionStartedData(task=run.task, started_at="2026-01-01T00:00:00.000Z",
                                           model="simulated", strategy="plan"))
    run.log.append(ev.ExecutionCompleteData(result="<!-- </script> \u2028", duration=1, tokens_used=ev.Usage()))
    page = export_html(run)
    assert page.count("</script>") == 2 and "<!--" not in page.split("<body>")[1]
    data = re.search(r'<script type="application/json" id="wb-data">(.*?)</script>', page, re.S)
    assert json.loads(data.group(1))["events"][1]["data"]["result"] == "<!-- </script> \u2028"
