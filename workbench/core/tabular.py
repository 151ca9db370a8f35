"""A run as flat rows, for tables (``run.to_pandas()``) and quick analysis.

Three tables: one row per event (the default), per phase, and per model call; the last two
from the fold's figures, which are derived from the events' timestamps (:mod:`.progress`).
"""

from __future__ import annotations

from typing import Any, Iterable

from workbench.core import events as ev
from workbench.core.reducer import RunState

__all__ = ["COLUMNS", "PHASE_COLUMNS", "CALL_COLUMNS", "event_rows", "phase_rows", "call_rows"]

COLUMNS = ("id", "type", "ts", "phase_id", "step_id", "tool_name", "duration", "is_error", "text", "data")
PHASE_COLUMNS = ("phase_id", "index", "name", "status", "started_at", "ended_at", "duration", "model_calls",
                 "tool_calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
CALL_COLUMNS = ("index", "phase_id", "started_at", "ttft", "duration", "input_tokens", "output_tokens",
                "cache_read_tokens", "cache_write_tokens")


def _tokens(usage: ev.Usage) -> dict[str, int]:
    return {"input_tokens": usage.input, "output_tokens": usage.output,
            "cache_read_tokens": usage.cache_read, "cache_write_tokens": usage.cache_write}


def phase_rows(state: RunState) -> list[dict[str, Any]]:
    """One dict per phase, in plan order, with the columns of :data:`PHASE_COLUMNS` (times in ms)."""
    calls: dict[str | None, int] = {}
    for call in state.model_calls:
        calls[call.phase_id] = calls.get(call.phase_id, 0) + 1
    return [{
        "phase_id": phase.id, "index": phase.index, "name": phase.name, "status": phase.status,
        "started_at": phase.started_at, "ended_at": phase.ended_at, "duration": phase.duration,
        "model_calls": calls.get(phase.id, 0),
        "tool_calls": sum(1 for step in state.tool_calls if step.phase_id == phase.id),
        **_tokens(phase.tokens),
    } for phase in state.phases.values()]


def call_rows(state: RunState) -> list[dict[str, Any]]:
    """One dict per model call, in order, with the columns of :data:`CALL_COLUMNS` (times in ms)."""
    return [{"index": c.index, "phase_id": c.phase_id, "started_at": c.started_at, "ttft": c.ttft,
             "duration": c.duration, **_tokens(c.tokens)} for c in state.model_calls]


def _text(data: ev.EventData | dict[str, Any]) -> str | None:
    match data:
        case ev.ThinkingDeltaData() | ev.TextDeltaData():
            return data.delta
        case ev.ThinkingData():
            return data.thought
        case ev.TextData():
            return data.text
        case ev.ToolCompleteData():
            return data.result if isinstance(data.result, str) else None
        case ev.ExecutionCompleteData():
            return data.result
        case ev.ExecutionErrorData():
            return data.error.message
        case ev.PhaseCompleteData():
            return data.summary
        case ev.ModelRetryData():
            return data.reason
    return None


def event_rows(events: Iterable[ev.Event]) -> list[dict[str, Any]]:
    """One dict per event with the columns of :data:`COLUMNS` (absent values are None)."""
    rows = []
    for event in events:
        data = event.data
        payload = data if isinstance(data, dict) else data.model_dump(mode="json")
        rows.append({
            "id": event.id,
            "type": event.type,
            "ts": event.ts,
            "phase_id": payload.get("phaseId"),
            "step_id": payload.get("stepId") or payload.get("toolUseId"),
            "tool_name": payload.get("toolName"),
            "duration": payload.get("duration"),
            "is_error": payload.get("isError"),
            "text": _text(data),
            "data": payload,
        })
    return rows
