"""Checking a run's events against the rules of the wire contract.

Useful in tests, for agents of one's own that emit events, and for run files from
elsewhere: :func:`contract_violations` lists every rule a sequence of events breaks.
"""

from __future__ import annotations

import re
from typing import Sequence

from workbench.core import events as ev
from workbench.core.redact import redact

__all__ = ["contract_violations"]

_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def contract_violations(events: Sequence[ev.Event], *, complete: bool = True) -> list[str]:
    """Every contract rule ``events`` break, as sentences; empty when they keep them all.

    ``complete=False`` checks a run still going (no terminal event required yet).
    """
    problems: list[str] = []
    if not events:
        return ["a run has at least its execution:started event"] if complete else []
    run_ids = {e.run_id for e in events}
    if len(run_ids) != 1:
        problems.append(f"events of several runs are mixed: {sorted(run_ids)}")
    for position, event in enumerate(events, start=1):
        if event.id != position:
            problems.append(f"event {position} has id {event.id}; ids run 1, 2, 3, … without gaps")
            break
    problems += [f"event {e.id} has a bad ts {e.ts!r}" for e in events if not _TS.match(e.ts)]
    if events[0].type != "execution:started":
        problems.append(f"the first event is {events[0].type}, not execution:started")

    terminals = [e for e in events if e.type in ev.TERMINAL_TYPES]
    if complete and len(terminals) != 1:
        problems.append(f"a run has exactly one terminal event; this one has {len(terminals)}")
    if terminals and terminals[0] is not events[-1]:
        problems.append(f"the terminal event {terminals[0].type} (id {terminals[0].id}) is not the last event")

    open_tools: dict[str, int] = {}
    open_phases: set[str] = set()
    deltas: dict[str, list[str]] = {}
    for event in events:
        data = event.data
        if isinstance(data, ev.ToolStartData):
            if data.tool_use_id in open_tools:
                problems.append(f"tool:start {data.tool_use_id} (id {event.id}) repeats an open call")
            open_tools[data.tool_use_id] = event.id
        elif isinstance(data, ev.ToolCompleteData):
            if open_tools.pop(data.tool_use_id, None) is None:
                problems.append(f"tool:complete {data.tool_use_id} (id {event.id}) has no open tool:start")
        elif isinstance(data, ev.PhaseStartData):
            open_phases.add(data.phase_id)
        elif isinstance(data, ev.PhaseCompleteData):
            if data.phase_id not in open_phases:
                problems.append(f"phase:complete {data.phase_id} (id {event.id}) has no phase:start")
            open_phases.discard(data.phase_id)
        elif isinstance(data, (ev.ThinkingDeltaData, ev.TextDeltaData)):
            deltas.setdefault(data.step_id, []).append(data.delta)
        elif isinstance(data, ev.ThinkingData) and data.step_id in deltas:
            if "".join(deltas[data.step_id]) != data.thought:
                problems.append(f"the thinking:delta pieces of {data.step_id} do not add up to its thought")
        elif isinstance(data, ev.TextData) and data.step_id in deltas:
            if "".join(deltas[data.step_id]) != data.text:
                problems.append(f"the text:delta pieces of {data.step_id} do not add up to its message")
    if complete:
        problems += [f"tool:start {t} (id {i}) has no tool:complete" for t, i in open_tools.items()]
        if open_phases and not terminals:
            problems.append(f"phases {sorted(open_phases)} never complete and the run has no terminal event")

    problems += _waiting_violations(events)
    for event in events:
        text = event.to_json()
        if redact(text) != text:
            problems.append(f"event {event.id} carries something that looks like a credential")
    return problems


_WORK = frozenset({"thinking:delta", "thinking", "text:delta", "text", "usage", "tool:complete", "model:retry",
                   "tool:start", "phase:start", "phase:complete", "plan:created"})
"""Events only a working run emits: none may come while it waits for a person."""


def _waiting_violations(events: Sequence[ev.Event]) -> list[str]:
    """Version 2's rules for waiting: pauses end with a resume, approvals with one decision, and a
    waiting run does nothing (the run's terminal event, which may close open calls, aside)."""
    problems: list[str] = []
    paused_at: int | None = None
    approvals: dict[str, int] = {}
    decided: set[str] = set()
    for index, event in enumerate(events):
        data = event.data
        if isinstance(data, ev.ToolCompleteData) and _closing(events, index):
            continue  # a run that ends closes its open calls, waiting ones too, right before its terminal event
        if isinstance(data, ev.ExecutionPausedData):
            if paused_at is not None:
                problems.append(f"execution:paused (id {event.id}) while the run is paused since id {paused_at}")
            paused_at = event.id
        elif isinstance(data, ev.ExecutionResumedData):
            if paused_at is None:
                problems.append(f"execution:resumed (id {event.id}) without an execution:paused before it")
            paused_at = None
        elif isinstance(data, ev.ToolApprovalData):
            if data.tool_use_id in approvals or data.tool_use_id in decided:
                problems.append(f"tool:approval {data.tool_use_id} (id {event.id}) asks again")
            approvals[data.tool_use_id] = event.id
        elif isinstance(data, ev.ToolDecisionData):
            if approvals.pop(data.tool_use_id, None) is None:
                problems.append(f"tool:decision {data.tool_use_id} (id {event.id}) decides no waiting tool:approval")
            decided.add(data.tool_use_id)
        elif event.type in ev.TERMINAL_TYPES:
            return problems
        elif event.type in _WORK and (paused_at is not None or approvals):
            why = f"paused since id {paused_at}" if paused_at is not None else f"waiting on {sorted(approvals)}"
            problems.append(f"{event.type} (id {event.id}) while the run waits ({why})")
    return problems


def _closing(events: Sequence[ev.Event], index: int) -> bool:
    """Whether only failed ``tool:complete`` events stand between ``events[index]`` and the terminal event."""
    for event in events[index:]:
        if event.type in ev.TERMINAL_TYPES:
            return True
        if not (isinstance(event.data, ev.ToolCompleteData) and event.data.is_error):
            return False
    return False
