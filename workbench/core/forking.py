"""Where a run can be forked, and what a fork replays instead of asking the model (contract section 7).

Pure functions of a log. A *model turn* is one model call (its ``model:response``) and the tool
calls it asked for (their ``tool:complete``); it has *fully ended* once all of those are in the
log. Forking at event ``at`` copies events 1..m, m being the last event of the last turn fully
ended at or before ``at``, and the fork's orchestrator then walks its course again with the
recorded answers (:class:`RecordedCall`) in place of the model and the tools, until it stands
where the parent stood after event m, and goes on live from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from workbench.core import events as ev
from workbench.errors import UserError

__all__ = ["CALL_OUTPUT", "RecordedCall", "ForkPlan", "plan_fork", "recorded_calls", "fork_end", "tool_use_ids",
           "untaken_messages"]

PLAN_TOOL_NAME = "submit_plan"
"""The tool through which a plan-strategy run's model hands in its plan (never run as a tool)."""


@dataclass(frozen=True)
class RecordedCall:
    """One model call of a log, as a fork replays it."""

    response: ev.ModelResponseData
    """The answer, whole, as the API gave it."""
    messages: tuple[str, ...] = ()
    """The people's messages this call took in (``user:message`` texts since the call before)."""
    tool_results: dict[str, tuple[Any, bool]] = field(default_factory=dict)
    """For each tool call the answer asked for: its ``tool:complete`` ``(result, isError)``."""
    ran_with: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The input of each tool call a person edited before it ran (``tool:decision`` ``edit``)."""


@dataclass(frozen=True)
class ForkPlan:
    """What a fork at one event copies and replays."""

    at: int
    """The last event copied (m): the end of the last fully ended turn at or before the fork point."""
    calls: tuple[RecordedCall, ...]
    """The model calls of the copied prefix, in order."""
    messages: tuple[str, ...] = ()
    """The people's messages of the log that none of those calls took in: the first live call takes them."""


def fork_end(events: Sequence[ev.Event], at: int) -> int:
    """m for a fork at event ``at``: the last event of the last model turn fully ended at or before
    it; 1 (the run's start alone) when no turn had ended yet."""
    if not events:
        raise UserError("this run has no events yet; fork it once it has started")
    if isinstance(at, bool) or not isinstance(at, int) or not 1 <= at <= len(events):
        raise UserError(f"at must be an event id from 1 to {len(events)}, got {at!r}")
    if not any(e.type == "model:response" for e in events):
        if any(e.type in ("thinking", "text", "usage") for e in events):
            raise UserError("this run's log has no model:response events (it was written by an older workbench, "
                            "contract version 1): it cannot be forked, since the model's answers are not whole in it")
    end = 1
    for turn_end in _turn_ends(events):
        if turn_end > at:
            break
        end = turn_end
    return end


def plan_fork(events: Sequence[ev.Event], at: int) -> ForkPlan:
    """The copy and the replay of a fork of ``events`` at event ``at``."""
    end = fork_end(events, at)
    prefix = events[:end]
    return ForkPlan(at=end, calls=tuple(recorded_calls(prefix)), messages=untaken_messages(prefix, end))


def recorded_calls(events: Sequence[ev.Event]) -> list[RecordedCall]:
    """Every model call of ``events`` with what it took in and what its tool calls gave back.

    A call takes the people's messages given since the call before it started streaming: the
    ``user:message`` events between that call's first event and its own. (The orchestrator
    holds back the event of a message given after a call took its messages and before it
    streamed anything, so that this reading is exact.) A fork's edit of a tool result (a
    ``run:forked`` earlier in the log, when forking a fork) is what the model saw, so it
    replaces the result the ``tool:complete`` recorded. What a ``run:resumed`` gave up (the
    turn a stopped worker left half done, after its ``at``) was done again live, so a call of
    it is no call of the run, and the messages it took were taken by the next.
    """
    walk = _walk(events)
    results: dict[str, tuple[Any, bool]] = {}
    edited: dict[str, dict[str, Any]] = {}
    for event in events:
        data = event.data
        if isinstance(data, ev.ToolCompleteData):
            results[data.tool_use_id] = (data.result, data.is_error)
        elif isinstance(data, ev.ToolDecisionData) and data.params is not None:
            edited[data.tool_use_id] = data.params
        elif isinstance(data, ev.RunForkedData) and data.edits.tool_result is not None:
            edit = data.edits.tool_result
            results[edit.tool_use_id] = (edit.result, False)
    out = []
    taken_before = 0
    for call in walk.calls:
        response = call.response
        out.append(RecordedCall(response=response, messages=tuple(walk.messages[taken_before:call.taken]),
                                tool_results={i: results[i] for i in tool_use_ids(response) if i in results},
                                ran_with={i: edited[i] for i in tool_use_ids(response) if i in edited}))
        taken_before = call.taken
    return out


def untaken_messages(events: Sequence[ev.Event], at: int) -> tuple[str, ...]:
    """The people's messages of ``events`` that no model call answered by event ``at`` took in.

    What the first live call of a fork of ``events`` at ``at`` takes in (``events`` being the
    copied part), or of a run taken over at ``at`` (``events`` the whole log: the turn after
    ``at`` is given up and done again, and with it the taking of its messages).
    """
    walk = _walk(events)
    kept = [call for call in walk.calls if call.response_id <= at]
    return tuple(walk.messages[kept[-1].taken if kept else 0:])


@dataclass(frozen=True)
class _Call:
    response: ev.ModelResponseData
    taken: int
    """How many of the log's messages had been taken once this call took its own."""
    response_id: int
    """The id of its ``model:response``."""


@dataclass(frozen=True)
class _Walk:
    calls: list[_Call]
    messages: list[str]


def _walk(events: Sequence[ev.Event]) -> _Walk:
    """The model calls of a log and its people's messages, in order."""
    calls: list[_Call] = []
    messages: list[str] = []
    taking = 0
    in_call = False
    for event in events:
        data = event.data
        if not in_call and (event.type in CALL_OUTPUT or isinstance(data, ev.ModelResponseData)):
            in_call, taking = True, len(messages)
        if isinstance(data, ev.UserMessageData):
            messages.append(data.text)
        elif isinstance(data, ev.ModelResponseData):
            calls.append(_Call(data, taking, event.id))
            in_call = False
        elif isinstance(data, ev.RunResumedData):
            calls = [call for call in calls if call.response_id <= data.at]
            in_call = False
    return _Walk(calls, messages)


CALL_OUTPUT = frozenset({"thinking:delta", "text:delta", "thinking", "text", "model:retry"})
"""Events a model call emits before its ``model:response``: the first of them starts it in the log."""


def tool_use_ids(response: ev.ModelResponseData) -> list[str]:
    """The ids of the tool calls an answer asked for."""
    return [str(b.get("id")) for b in response.content if b.get("type") == "tool_use"]


def _turn_ends(events: Sequence[ev.Event]) -> list[int]:
    """The last event of each fully ended model turn, in order.

    The tool calls of an answer are run one after another, each announced by a ``tool:start``;
    the plan call's ``submit_plan`` (before ``plan:created`` in a plan-strategy run) is never run.
    """
    ends: list[int] = []
    planning = bool(events) and isinstance(events[0].data, ev.ExecutionStartedData) and events[0].data.strategy == "plan"
    open_calls: set[str] = set()
    for event in events:
        data = event.data
        if isinstance(data, ev.PlanCreatedData):
            planning = False
        elif isinstance(data, ev.ModelResponseData):
            open_calls = set() if planning else set(tool_use_ids(data))
            if not open_calls:
                ends.append(event.id)
        elif isinstance(data, ev.ToolCompleteData) and data.tool_use_id in open_calls:
            open_calls.discard(data.tool_use_id)
            if not open_calls:
                ends.append(event.id)
        elif isinstance(data, ev.RunResumedData):  # what the stopped worker left after `at` was done again
            ends = [end for end in ends if end <= data.at]
            open_calls = set()
    return ends
