"""A run's events as flat rows, for tables (``run.to_pandas()``) and quick analysis."""

from __future__ import annotations

from typing import Any, Iterable

from workbench.core import events as ev

__all__ = ["COLUMNS", "event_rows"]

COLUMNS = ("id", "type", "ts", "phase_id", "step_id", "tool_name", "duration", "is_error", "text", "data")


def _text(data: ev.EventData | dict[str, Any]) -> str | None:
    match data:
        case ev.ThinkingDeltaData() | ev.TextDeltaData():
            return data.delta
        case ev.ThinkingData():
            return data.thought
        case ev.MessageData():
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
