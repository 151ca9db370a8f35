"""The reference profile (contract section 4, ``?profile=reference``): a run as a client written for
the reference system expects it.

Only the reference system's nine event types go out, each frame ``event: <type>`` with the
reference fields at the top level of ``data`` (no envelope), plus ``executionId`` and
``timestamp``. A cancelled run ends with ``execution:error`` saying so (the reference system has
no ``execution:cancelled``), as an interrupted one already does. ``id:`` stays the event's id
in the full log, so resuming works as on the full stream. One encoder, used by both servers
through :func:`workbench.serving.sse.run_stream`.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core import events as ev

__all__ = ["PROFILE", "reference_fields", "encode_reference"]

PROFILE = "reference"
"""The value of ``?profile=`` that asks for this encoding."""


def _error(data: ev.ExecutionErrorData) -> dict[str, Any]:
    return {"error": data.error.message, "stack": data.stack or ""}


def reference_fields(event: ev.Event) -> tuple[str, dict[str, Any]] | None:
    """The reference type and ``data`` of ``event``, or None for a type the reference system lacks."""
    d = event.data
    type_: str
    fields: dict[str, Any]
    match d:
        case ev.ExecutionStartedData():
            type_, fields = event.type, {"task": d.task, "startedAt": d.started_at}
        case ev.PlanCreatedData():
            phases = [{"id": p.id, "name": p.name, "description": p.description} for p in d.plan.phases]
            type_, fields = event.type, {"plan": {"goal": d.plan.goal, "phases": phases}}
        case ev.PhaseStartData():
            type_, fields = event.type, {"phaseId": d.phase_id, "phaseName": d.phase_name, "phaseIndex": d.phase_index}
        case ev.ThinkingData():
            type_, fields = event.type, {"thought": d.thought, "iteration": d.iteration}
        case ev.ToolStartData():
            type_, fields = event.type, {"toolName": d.tool_name, "params": d.params}
        case ev.ToolCompleteData():
            type_, fields = event.type, {"toolName": d.tool_name, "result": d.result, "duration": d.duration}
        case ev.PhaseCompleteData():
            type_, fields = event.type, {"phaseId": d.phase_id, "phaseName": d.phase_name}
        case ev.ExecutionCompleteData():
            tokens = d.tokens_used.input + d.tokens_used.output
            type_, fields = event.type, {"result": d.result, "duration": d.duration, "tokensUsed": tokens}
        case ev.ExecutionErrorData():
            type_, fields = event.type, _error(d)
        case ev.ExecutionCancelledData():
            # The reference store knows no cancelled state: without this its run stays "running".
            type_, fields = "execution:error", {"error": f"The run was cancelled: {d.reason}", "stack": ""}
        case _:
            return None
    return type_, {"executionId": event.run_id, "timestamp": event.ts, **fields}


def encode_reference(event: ev.Event) -> bytes | None:
    """``event`` as a reference-profile SSE frame, or None when the profile leaves it out."""
    found = reference_fields(event)
    if found is None:
        return None
    type_, fields = found
    data = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, type_.encode(), data.encode())
