"""``wb.diff(a, b)``: two runs compared (workbench/core/diffing.py) and the widget's kernel side.

Real simulated runs: the same task with seeds 1 and 2 parts early; the same seed twice differs
only in timing; a fork is built by hand as ``run.fork`` makes one (the parent's first m events
with the fork's run id, then ``run:forked``, then its own events).
"""

from __future__ import annotations

import time

import pytest
from forks import EDITED, FORK_RESULT, TASK, first_tool_complete, hand_fork, simulated

import workbench as wb
from workbench.core import events as ev
from workbench.core.diffing import diff_runs
from workbench.core.handle import Run
from workbench.core.text_diff import Segment, left_text, right_text, text_diff
from workbench.notebook.diff import DiffView


@pytest.fixture(scope="module")
def seed1() -> Run:
    return simulated(1)


@pytest.fixture(scope="module")
def seed1_again() -> Run:
    return simulated(1)


@pytest.fixture(scope="module")
def seed2() -> Run:
    return simulated(2)


@pytest.fixture(scope="module")
def fork(seed1: Run) -> Run:
    at = first_tool_complete(seed1, 0).id  # the end of the turn that listed the files
    return hand_fork(seed1, at, result_of=first_tool_complete(seed1, 1).data.tool_use_id, result=EDITED,
                     final=FORK_RESULT)


# --- the pure comparison -------------------------------------------------------------------


def test_a_run_against_itself_shows_no_difference(seed1):
    diff = diff_runs(seed1.events, seed1.events)
    n = len(seed1.events)
    assert diff.identical and not diff.live and diff.divergence is None
    assert (diff.prefix.events_a, diff.prefix.events_b) == (n, n)
    assert diff.prefix.summary == (f"All {n:,} events alike: 3 phases (Understand the short guide brief, "
                                   "Write the short guide, Review and polish), 21 steps, 5 tool calls")
    assert [row.key for row in diff.rows] == ["planning", "phase:p1", "phase:p2", "phase:p3", "final"]
    assert all(row.same and row.shared and row.duration_delta == 0 for row in diff.rows)
    pairs = [pair for row in diff.rows for pair in row.steps]
    assert len(pairs) == len(seed1.state.steps)
    assert all(p.changes == [] and p.shared and not p.divergence for p in pairs)
    assert [p.a.step_id for p in pairs if p.a] == [p.b.step_id for p in pairs if p.b] == list(seed1.state.steps)
    assert diff.result_diff == [Segment("equal", seed1.result)]
    assert diff.duration_delta == 0 and diff.tokens_delta == ev.Usage()


def test_the_same_seed_twice_differs_in_timing_only(seed1, seed1_again):
    diff = diff_runs(seed1.events, seed1_again.events)
    assert diff.identical and diff.divergence is None
    assert all(row.same and row.shared for row in diff.rows)
    assert diff.rows[1].duration_a == seed1.state.phases["p1"].duration
    assert diff.rows[1].duration_b == seed1_again.state.phases["p1"].duration


def test_two_seeds_part_where_their_events_first_differ(seed1, seed2):
    a, b = seed1.events, seed2.events
    # by hand: the first event whose data differ (the first's differ in startedAt alone)
    assert a[0].data.model_copy(update={"started_at": ""}) == b[0].data.model_copy(update={"started_at": ""})
    first = next(i for i in range(1, len(a)) if a[i].type != b[i].type or a[i].data != b[i].data)
    diff = diff_runs(a, b)
    assert not diff.identical
    assert (diff.prefix.events_a, diff.prefix.events_b) == (first, first)
    d = diff.divergence
    assert d is not None and d.fork is None
    assert (d.a.id, d.b.id) == (first + 1, first + 1)
    assert (d.a.type, d.b.type) == (a[first].type, b[first].type)
    marked = [(row.key, pair) for row in diff.rows for pair in row.steps if pair.divergence]
    assert len(marked) == 1
    key, pair = marked[0]
    step_id = a[first].data.step_id
    assert key == "planning" and pair.a.step_id == pair.b.step_id == step_id and pair.changes == ["text"]
    assert left_text(pair.diff) == seed1.state.steps[step_id].text
    assert right_text(pair.diff) == seed2.state.steps[step_id].text
    # seed 2 planned four phases, seed 1 three: the phases pair by name, B's extra one alone
    titles = [(row.title_a, row.title_b) for row in diff.rows]
    assert titles == [
        ("Planning", "Planning"),
        ("1. Understand the short guide brief", "1. Understand the short guide brief"),
        (None, "2. Outline the guide"),
        ("2. Write the short guide", "3. Write the short guide"),
        ("3. Review and polish", "4. Review and polish"),
        ("Final answer", "Final answer"),
    ]
    outline = diff.rows[2]
    assert outline.key == "-|phase:p2" and all(p.changes == ["only-b"] for p in outline.steps)
    assert outline.tokens_delta == seed2.state.phases["p2"].tokens
    for row, (pa, pb) in zip(diff.rows[1:], [("p1", "p1"), (None, "p2"), ("p2", "p3"), ("p3", "p4")]):
        duration_a = seed1.state.phases[pa].duration if pa else None
        assert (row.duration_a, row.duration_b) == (duration_a, seed2.state.phases[pb].duration)
    assert left_text(diff.result_diff) == seed1.result and right_text(diff.result_diff) == seed2.result
    assert diff.tokens_delta.input == seed2.state.tokens.input - seed1.state.tokens.input


def test_a_fork_parts_at_its_fork_point(seed1, fork):
    at = fork.forked_at
    edited = first_tool_complete(seed1, 1).data
    diff = diff_runs(seed1.events, fork.events)
    assert not diff.identical
    assert (diff.prefix.events_a, diff.prefix.events_b) == (at, at)
    assert diff.prefix.summary == f"{at} shared events: 4 steps, 1 tool call"
    d = diff.divergence
    assert d is not None
    assert (d.a.id, d.b.id) == (at + 1, at + 2)  # B's event at + 1 is its run:forked
    assert d.fork == f"B was forked from A at event {at}: a message added: 'try again'"
    assert d.what == "both go on alike, with thinking:delta of step s4"
    assert (diff.b.parent_id, diff.b.forked_at, diff.b.edits) == (seed1.id, at, ["a message added: 'try again'"])
    assert diff.a.parent_id is None

    pairs = [pair for row in diff.rows for pair in row.steps]
    shared = [p.a.step_id for p in pairs if p.shared]
    assert shared == ["s1", "s2", "s3", first_tool_complete(seed1, 0).data.tool_use_id]
    assert [p.divergence for p in pairs].index(True) == len(shared)  # the first step after the fork point
    changed = [p for p in pairs if p.changes]
    assert len(changed) == 1
    pair = changed[0]
    assert pair.a.step_id == pair.b.step_id == edited.tool_use_id
    assert pair.changes == ["result"] and pair.changed_params == []
    assert (left_text(pair.diff), right_text(pair.diff)) == (edited.result, EDITED)
    assert any(s.op == "insert" and "fork's own" in s.text for s in pair.diff)
    assert [row.shared for row in diff.rows] == [True, False, False, False, False]
    assert (left_text(diff.result_diff), right_text(diff.result_diff)) == (seed1.result, FORK_RESULT)


def test_a_fork_that_edited_a_tool_result_shows_the_result_its_model_saw(seed1):
    listed = first_tool_complete(seed1, 0).data
    at = first_tool_complete(seed1, 1).id
    edit = ev.ToolResultEdit(tool_use_id=listed.tool_use_id, result="There are 3 files here.")
    edited = hand_fork(seed1, at, edits=ev.ForkEdits(tool_result=edit))
    diff = diff_runs(seed1.events, edited.events)
    assert diff.divergence.fork == f"B was forked from A at event {at}: the result of {listed.tool_use_id} replaced"
    changed = [p for row in diff.rows for p in row.steps if p.changes]
    assert len(changed) == 1
    pair = changed[0]
    assert pair.a.step_id == pair.b.step_id == listed.tool_use_id
    assert pair.changes == ["result", "edited"] and pair.divergence and not pair.shared
    assert (pair.a.result, pair.b.result) == (listed.result, "There are 3 files here.")
    assert (left_text(pair.diff), right_text(pair.diff)) == (listed.result, "There are 3 files here.")
    assert diff_runs(edited.events, seed1.events).rows[1].steps[2].changes == ["result", "edited"]
    assert seed1.state.steps[listed.tool_use_id].result == listed.result  # the runs' own states are left alone


def test_a_fork_of_a_fork_names_its_own_parent_and_its_line(seed1, fork):
    at = fork.forked_at + 200  # past the fork's own run:forked, which the grandchild copies
    grandchild = hand_fork(fork, at, run_id="r_fork0000000002")
    assert [e.data.parent_id for e in grandchild.events if e.type == "run:forked"] == [seed1.id, fork.id]
    from_parent = diff_runs(fork.events, grandchild.events)
    assert (from_parent.b.parent_id, from_parent.b.forked_at) == (fork.id, at)
    assert from_parent.divergence.fork == f"B was forked from A at event {at}: a message added: 'try again'"
    assert (from_parent.prefix.events_a, from_parent.prefix.events_b) == (at, at)
    from_grandparent = diff_runs(seed1.events, grandchild.events)
    assert from_grandparent.divergence.fork == (
        f"B was forked from A at event {fork.forked_at} (through {fork.id}): a message added: 'try again'")
    assert from_grandparent.prefix.events_a == fork.forked_at


def test_a_fork_against_its_parent_either_way_round(seed1, fork):
    diff = diff_runs(fork.events, seed1.events)
    assert diff.divergence is not None
    assert diff.divergence.fork == f"A was forked from B at event {fork.forked_at}: a message added: 'try again'"
    assert (diff.divergence.a.id, diff.divergence.b.id) == (fork.forked_at + 2, fork.forked_at + 1)


def test_a_run_that_has_not_got_as_far_has_not_parted(seed1):
    half = list(seed1.events[:300])
    diff = diff_runs(seed1.events, half)
    assert diff.live and not diff.identical and diff.divergence is None  # B may yet part, or not
    assert diff.prefix.summary.startswith("300 shared events")
    assert diff.b.status == "running" and diff.b.duration is None
    cancelled = half + [ev.make_event(ev.ExecutionCancelledData(reason="stop", duration=5.0), id=301, run_id=seed1.id)]
    parted = diff_runs(seed1.events, cancelled)
    assert parted.divergence is not None and not parted.identical
    assert seed1.events[300].type == "thinking:delta"
    step_id = seed1.events[300].data.step_id
    assert parted.divergence.what == f"A goes on with thinking:delta of step {step_id}, B with execution:cancelled"
    assert diff_runs(cancelled, seed1.events).divergence.what == (
        f"A goes on with execution:cancelled, B with thinking:delta of step {step_id}")
    ended = diff_runs(seed1.events[:-1], seed1.events)  # A stopped before its last event, B did not
    assert ended.divergence is None and ended.live  # A has no terminal event: it may yet go on


def test_word_diff_of_two_texts():
    segments = text_diff("I am in the phase of the task. The end", "Working on the phase now. The end")
    assert segments == [
        Segment("delete", "I am in"), Segment("insert", "Working on"), Segment("equal", " the phase "),
        Segment("delete", "of the task."), Segment("insert", "now."), Segment("equal", " The end"),
    ]
    assert text_diff("beats cleverness.", "beats cleverness. Nothing more") == [
        Segment("equal", "beats cleverness."), Segment("insert", " Nothing more")]
    assert text_diff("", "") == [] and text_diff("x", "") == [Segment("delete", "x")]


def test_to_dict_is_camel_case_json(seed1, fork):
    import json

    data = diff_runs(seed1.events, fork.events).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"a", "b", "identical", "live", "prefix", "divergence", "rows", "resultDiff",
                         "durationDelta", "tokensDelta"}
    assert data["b"]["parentId"] == seed1.id and data["prefix"]["eventsA"] == fork.forked_at
    pair = next(p for row in data["rows"] for p in row["steps"] if p["changes"])
    assert pair["changedParams"] == []
    assert pair["diff"][0] == {"op": "equal", "text": "Wrote "} and pair["diff"][1]["op"] == "delete"
    assert pair["diff"][2:] == [{"op": "insert", "text": "12 characters"}, {"op": "equal", "text": " to notes/brief.md"},
                                {"op": "insert", "text": " (the fork's own)"}]
    assert data["rows"][0]["tokensA"] == {"input": seed1.state.model_calls[0].tokens.input,
                                          "output": seed1.state.model_calls[0].tokens.output,
                                          "cacheRead": 0, "cacheWrite": 0}


# --- wb.diff: runs or run files, and the widget's kernel side -----------------------------------


def test_wb_diff_takes_runs_or_run_files(seed1, fork, tmp_path):
    seed1.save(tmp_path / "a.jsonl")
    fork.save(tmp_path / "b.jsonl")
    from_files = wb.diff(tmp_path / "a.jsonl", str(tmp_path / "b.jsonl"))
    from_runs = wb.diff(seed1, fork)
    assert isinstance(from_files, DiffView)
    assert from_files.diff.to_dict() == from_runs.diff.to_dict()
    assert from_files.a.parent_id is None and from_files.b.parent_id == seed1.id
    with pytest.raises(TypeError, match="compares runs or run files"):
        wb.diff(seed1, 3)  # type: ignore[arg-type]


def test_the_view_answers_ready_with_the_diff(seed1, fork):
    view = DiffView.__new__(DiffView)
    sent: list[dict] = []
    view.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    view.__init__(seed1, fork)  # type: ignore[misc]
    assert view._follower is None  # both have ended: nothing to follow
    view._handle_custom_msg({"kind": "ready"}, [])
    assert sent == [{"kind": "diff", "diff": diff_runs(seed1.events, fork.events).to_dict()}]
    view.close()


def test_the_view_follows_a_live_run_until_it_ends(seed1):
    live = wb.run(TASK, model="simulated", options={"seed": 2, "pace": 2000})
    view = DiffView.__new__(DiffView)
    sent: list[dict] = []
    view.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    view.__init__(seed1, live)  # type: ignore[misc]
    live.wait(timeout=60)
    deadline = time.monotonic() + 10
    while view._follower is not None and view._follower.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view._follower is not None and not view._follower.is_alive()
    diffs = [m["diff"] for m in sent]
    assert len(diffs) >= 3  # while it went on, and at its end
    assert any(d["live"] for d in diffs) and not diffs[-1]["live"]
    assert diffs[-1] == diff_runs(seed1.events, live.events).to_dict()
    events_seen = [d["b"]["events"] for d in diffs]
    assert events_seen == sorted(events_seen) and events_seen[-1] == len(live.events)
    view.close()


def test_a_run_and_its_fork_by_run_fork_part_at_the_fork_point(seed1):
    at = first_tool_complete(seed1, 1).id  # the end of the turn that wrote the brief
    fork = seed1.fork(at=at, message="Make it about rock pools")
    fork.wait(timeout=60)
    assert fork.forked_at == at
    diff = wb.diff(seed1, fork).diff
    assert (diff.prefix.events_a, diff.prefix.events_b) == (at, at)
    d = diff.divergence
    assert d is not None and (d.a.id, d.b.id) == (at + 1, at + 2)
    assert d.fork == f"B was forked from A at event {at}: a message added: 'Make it about rock pools'"
    assert (d.a.type, d.b.type) == (seed1.events[at].type, fork.events[at + 1].type)
    pairs = [pair for row in diff.rows for pair in row.steps]
    marked = next(p for p in pairs if p.divergence)
    assert pairs.index(marked) == sum(p.shared for p in pairs)  # right after the shared steps
    said = next(p for p in pairs if p.b is not None and p.b.kind == "user")
    assert said.changes == ["only-b"] and said.b.text == "Make it about rock pools"
    assert (diff.b.parent_id, diff.b.forked_at) == (seed1.id, at)
