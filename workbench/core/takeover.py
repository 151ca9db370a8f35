"""Taking over a run whose worker stopped mid-run: what the stopped worker left open, read from the log.

A worker (``workbench worker``) that dies leaves the run's log at some event n, maybe in the middle
of a model turn. The worker that takes the run over keeps events 1..n as they are (clients saw
them; their ids are never reused) and appends, in order:

1. a failed ``tool:complete`` for every tool call the stopped worker had started and not ended
   (:func:`closing_events`): the contract wants exactly one per ``tool:start``; before it, for a
   call that waited for a person's decision, a ``tool:decision`` ``deny`` saying why (one per
   ``tool:approval``; the turn is done again, and the model's call waits for a decision again);
   and before them, if the run was paused, ``execution:resumed {step: true}``: the run pauses
   again at its next turn boundary, once live, so a pause asked for is not lost;
2. ``run:resumed {attempt, at, worker}``, ``at`` being m, the last event of the last model turn
   fully ended (:func:`workbench.core.forking.fork_end`);

and then goes on live from where the run stood after event m, having walked through the run's
course again with the recorded answers (as a fork does), so that no ended turn is asked of the
model again. The turn the stopped worker left half done is done again, live, under new step ids
(:func:`steps_used`), so its pieces never mix with the new ones. The people's messages that no
ended turn took in (given during the turn done again, or after) go to its new model call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from workbench.core import events as ev
from workbench.core.forking import ForkPlan, plan_fork, untaken_messages

__all__ = ["INTERRUPTED_BY_WORKER", "closing_events", "resume_plan", "steps_used", "was_paused"]

INTERRUPTED_BY_WORKER = "interrupted: the worker running it stopped"
"""The result of a tool call a stopped worker left open."""

_STEP = re.compile(r"^s([0-9]{1,9})$")


def resume_plan(events: Sequence[ev.Event]) -> ForkPlan:
    """Where a taken-over run goes on from, and the recorded calls that bring it there (as a fork of the
    run at its last event): a run stopped during its first model call goes on from its start."""
    if not any(e.type == "model:response" for e in events):
        return ForkPlan(at=1, calls=(), messages=untaken_messages(events, 1))
    plan = plan_fork(events, len(events))
    # The turn after `at` is done again: the messages it took, and those given since, go to its new call.
    return replace(plan, messages=untaken_messages(events, plan.at))


def closing_events(events: Sequence[ev.Event], why: str = INTERRUPTED_BY_WORKER) -> list[ev.EventData]:
    """What ends the waits and calls the stopped worker left open: ``execution:resumed {step: true}``
    for a pause (the new worker pauses the run again at its next turn boundary: see :func:`was_paused`),
    then a failed ``tool:complete`` for each ``tool:start`` that has none, in start order."""
    closing: list[ev.EventData] = [ev.ExecutionResumedData(step=True)] if was_paused(events) else []
    open_calls: dict[str, str] = {}
    undecided: set[str] = set()
    for event in events:
        data = event.data
        if isinstance(data, ev.ToolStartData):
            open_calls[data.tool_use_id] = data.tool_name
        elif isinstance(data, ev.ToolCompleteData):
            open_calls.pop(data.tool_use_id, None)
        elif isinstance(data, ev.ToolApprovalData):
            undecided.add(data.tool_use_id)
        elif isinstance(data, ev.ToolDecisionData):
            undecided.discard(data.tool_use_id)
    for tool_use_id, name in open_calls.items():
        if tool_use_id in undecided:  # every tool:approval has its one tool:decision (contract, v2)
            closing.append(ev.ToolDecisionData(tool_use_id=tool_use_id, decision="deny", note=why))
        closing.append(ev.ToolCompleteData(tool_name=name, result=why, duration=0.0, tool_use_id=tool_use_id,
                                           is_error=True))
    return closing


def was_paused(events: Sequence[ev.Event]) -> bool:
    """Whether the run was paused (an ``execution:paused`` with no ``execution:resumed`` after it)."""
    paused = False
    for event in events:
        if event.type == "execution:paused":
            paused = True
        elif event.type == "execution:resumed":
            paused = False
    return paused


def steps_used(events: Sequence[ev.Event]) -> int:
    """The highest step number (``s12``: 12) any event of ``events`` names; 0 for none."""
    highest = 0
    for event in events:
        step_id = getattr(event.data, "step_id", None)
        match = _STEP.match(step_id) if isinstance(step_id, str) else None
        if match:
            highest = max(highest, int(match.group(1)))
    return highest
