"""Runs side by side: one flat row per run, for ``wb.compare(runs)`` and ``wb.sweep(...)``.

Pure: a row is read from a run's folded state and its settings, nothing else, so the table a
live comparison shows is the one a saved set of runs gives later. Of the runs' options, only
those whose values differ between the runs are columns (a seed swept over, a limit changed);
an option a run did not set counts as a value of its own (``None``: the default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.progress import ts_ms
from workbench.core.reducer import RunState

__all__ = ["COLUMNS", "ENDED", "CompareRow", "Entry", "camel", "camel_options", "comparison_rows", "differing_options", "first_line",
           "progress_line"]

COLUMNS = ("run_id", "status", "model", "phases_done", "phases_total", "tool_calls", "tool_errors", "tokens",
           "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "duration_ms",
           "result")
"""The fixed columns of a comparison table; the differing options come after ``model``."""

RESULT_CHARS = 200
"""Characters of a result's first line kept in a row."""


@dataclass
class Entry:
    """One run of a comparison, or one that could not be started (``run`` None, ``error`` why)."""

    model: str
    options: dict[str, Any]
    """Its options, camelCase: what it was started with (a sweep knows them even for a run on a
    server, whose summary does not carry them)."""
    state: RunState | None = None
    """Its state now; None for a run that never started."""
    run_id: str = ""
    error: str | None = None
    """Why it could not be started; with neither ``state`` nor ``error`` it waits its turn (queued)."""


@dataclass
class CompareRow:
    """One run in a comparison: where it stands and what it used."""

    index: int
    run_id: str
    status: str
    """The run's status; ``queued`` before it starts, ``not started`` when it could not be (``result`` says why)."""
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    """The options that differ between the runs compared (camelCase; None: not set)."""
    phases_done: int = 0
    phases_total: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    """None where there is no price (the simulator), or before the run ends."""
    duration_ms: float | None = None
    """Wall time: to the run's end, or so far (to its latest event) while it goes on."""
    result: str = ""
    """The first line of its result, or what went wrong."""

    @property
    def tokens(self) -> int:
        """Input plus output tokens (cache reads and writes apart)."""
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        """The row as the table's columns: the fixed ones, with each differing option after ``model``."""
        fixed = {name: getattr(self, name) for name in COLUMNS}
        head = {name: fixed.pop(name) for name in ("run_id", "status", "model")}
        return {**head, **self.options, **fixed}


def camel_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with snake_case keys in camelCase, as a run's own options are kept."""
    return {camel(key): value for key, value in options.items()}


def camel(name: str) -> str:
    """``max_iterations`` as ``maxIterations`` (a camelCase name stays as it is)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def differing_options(options: Sequence[dict[str, Any]]) -> list[str]:
    """The keys whose values are not the same in all of ``options`` (a key missing counts as None), sorted."""
    keys = sorted({key for each in options for key in each})
    return [key for key in keys if len({_comparable(each.get(key)) for each in options}) > 1]


def _comparable(value: Any) -> str:
    return repr(value)  # lists and dicts (faults, breakpoints) are values too


def first_line(text: str | None, limit: int = RESULT_CHARS) -> str:
    """The first non-blank line of ``text``, cut to ``limit`` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _outcome(entry: Entry) -> str:
    state = entry.state
    if state is None:
        return first_line(entry.error)
    if state.status == "complete":
        return first_line(state.result)
    if state.error is not None:
        return first_line(f"{state.error.type}: {state.error.message}")
    if state.status == "cancelled":
        return first_line(f"cancelled: {state.cancel_reason}" if state.cancel_reason else "cancelled")
    return ""


def _duration(state: RunState, last_ts: str | None) -> float | None:
    if state.duration is not None:
        return state.duration
    if state.started_at is None or last_ts is None:
        return None
    return float(max(0, ts_ms(last_ts) - ts_ms(state.started_at)))


def comparison_rows(entries: Sequence[Entry], last_ts: Sequence[str | None] | None = None) -> list[CompareRow]:
    """One row per entry, in order. ``last_ts``: each run's latest event ``ts``, for the time so far
    of a run still going (without it, a running run has no duration yet)."""
    shown = differing_options([entry.options for entry in entries])
    rows = []
    for index, entry in enumerate(entries):
        options = {key: entry.options.get(key) for key in shown}
        state = entry.state
        if state is None:
            status = "queued" if entry.error is None else "not started"
            rows.append(CompareRow(index, entry.run_id, status, entry.model, options, result=_outcome(entry)))
            continue
        calls = state.tool_calls
        tokens = state.tokens
        rows.append(CompareRow(
            index, entry.run_id or state.run_id, state.status, entry.model or state.model, options,
            phases_done=sum(1 for phase in state.phases.values() if phase.status == "complete"),
            phases_total=len(state.phases),
            tool_calls=len(calls),
            tool_errors=sum(1 for call in calls if call.is_error),
            input_tokens=tokens.input, output_tokens=tokens.output,
            cache_read_tokens=tokens.cache_read, cache_write_tokens=tokens.cache_write,
            cost_usd=state.cost_usd,
            duration_ms=_duration(state, last_ts[index] if last_ts is not None else None),
            result=_outcome(entry),
        ))
    return rows


ENDED = frozenset({"complete", "error", "cancelled", "interrupted", "not started"})
"""Row statuses of a run that will not change any more."""
FAILED = frozenset({"error", "interrupted", "not started"})


def progress_line(rows: Sequence[CompareRow]) -> str:
    """Where the runs stand, in one line: ``4 of 6 done, 2 running, 0 queued`` (and how many failed, if any)."""
    done = sum(1 for row in rows if row.status in ENDED)
    queued = sum(1 for row in rows if row.status == "queued")
    failed = sum(1 for row in rows if row.status in FAILED)
    line = f"{done} of {len(rows)} done, {len(rows) - done - queued} running, {queued} queued"
    return line + (f", {failed} failed" if failed else "")
