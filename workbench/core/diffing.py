"""Two runs compared: what they share, where they part, and how they differ after.

:func:`diff_runs` is pure: two event sequences in, a :class:`RunDiff` out, for finished and live
runs alike (a live one is compared as far as it has gone).

- **The shared prefix** is the longest run of events alike on both sides: the same type and
  data, ignoring the run id, timestamps and the timing fields in data (``startedAt``, durations).
  ``model:response`` and ``run:forked`` are bookkeeping and are stepped over. When one run is a
  fork of the other (its ``run:forked`` names the other), the prefix ends at the fork point
  whatever follows: that is where the fork was made to part.
- **The divergence** is the first event after the prefix on each side, with what differs.
- **The rows** align both runs by phase (``plan``: planning, each phase by its index, the final
  answer; ``react``: one row), and within a row, their steps by kind and tool name
  (:class:`difflib.SequenceMatcher`), each pair with what changed: text, params (which keys),
  result, error flag, status. Steps, durations and tokens come from the reducer's state.
- **The result diff** is a word diff of the final answers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from pydantic import BaseModel

from workbench.core import events as ev
from workbench.core.diff_rows import PhaseRow, StepPair, StepSide, aligned_rows, elapsed
from workbench.core.progress import usage_minus
from workbench.core.reducer import PhaseState, RunState, ToolCall, fold
from workbench.core.text_diff import Segment, text_diff

__all__ = ["Divergence", "PhaseRow", "RunDiff", "RunSide", "SharedPrefix", "StepPair", "StepSide", "diff_runs"]

BOOKKEEPING = frozenset({"model:response", "run:forked"})
"""Event types the comparison steps over: they are no step of the agent's."""

TIMING_FIELDS: dict[str, frozenset[str]] = {
    "execution:started": frozenset({"startedAt"}),
    "tool:complete": frozenset({"duration"}),
    "execution:complete": frozenset({"duration"}),
    "execution:cancelled": frozenset({"duration"}),
    "model:retry": frozenset({"delayMs"}),
}
"""Fields of data that say when or how long, not what: two runs doing the same differ in them."""


# --- the model ------------------------------------------------------------------------------


@dataclass
class RunSide:
    """One of the two runs, as its header shows it."""

    run_id: str
    task: str
    model: str
    strategy: str
    status: str
    events: int
    duration: int | None
    """Milliseconds from its start to its end; ``None`` while it goes on."""
    tokens: ev.Usage
    cost_usd: float | None
    result: str | None
    error: str | None
    parent_id: str | None = None
    """The run it was forked from, when it is a fork."""
    forked_at: int | None = None
    edits: list[str] = field(default_factory=list)
    """What the fork changed at its fork point, in words."""


@dataclass
class SharedPrefix:
    """The events both runs have alike, from the first."""

    events_a: int
    """How many of A's events it holds (bookkeeping included)."""
    events_b: int
    phases: list[str]
    """The phases both ended within it, by name."""
    steps: int
    """The steps both ended within it."""
    tool_calls: int
    summary: str
    """In words, for the collapsed line."""


@dataclass
class EventRef:
    """An event named in the divergence: its id, type and a few words on it."""

    id: int
    type: str
    label: str


@dataclass
class Divergence:
    """Where the runs part: the first event after the shared prefix on each side."""

    a: EventRef | None
    """``None``: A has no event there (it ended, or has not got there yet)."""
    b: EventRef | None
    what: str
    """What differs, in words."""
    fork: str | None = None
    """When one run is a fork of the other: that, with its edits, in words."""


@dataclass
class RunDiff:
    """Two runs side by side: see the module's docstring."""

    a: RunSide
    b: RunSide
    identical: bool
    """Nothing differs but timing (so far, while either goes on)."""
    live: bool
    """Either run goes on: the diff may change."""
    prefix: SharedPrefix
    divergence: Divergence | None
    """``None`` when the runs have not parted (identical, or one has not got further yet)."""
    rows: list[PhaseRow]
    result_diff: list[Segment]
    duration_delta: int | None
    tokens_delta: ev.Usage

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON-ready camelCase (what the widget renders)."""
        result = _jsonable(self)
        assert isinstance(result, dict)
        return result


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Segment):
            return value.to_dict()
        return {_camel(f.name): _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


# --- the shared prefix and the divergence -------------------------------------------------------


def _comparable(event: ev.Event) -> dict[str, Any]:
    data = event.data.model_dump(mode="json")
    for name in TIMING_FIELDS.get(event.type, ()):
        data.pop(name, None)
    return data


def _alike(x: ev.Event, y: ev.Event) -> bool:
    if x.type != y.type:
        return False
    return x.data == y.data or _comparable(x) == _comparable(y)


def _next(events: Sequence[ev.Event], i: int) -> int:
    """The position of the first event at or after ``i`` that is not bookkeeping."""
    while i < len(events) and events[i].type in BOOKKEEPING:
        i += 1
    return i


def _common_prefix(a: Sequence[ev.Event], b: Sequence[ev.Event]) -> tuple[int, int]:
    """How many events of each side the shared prefix holds."""
    i = j = 0
    end_a = end_b = 0
    while True:
        i, j = _next(a, i), _next(b, j)
        if i >= len(a) or j >= len(b) or not _alike(a[i], b[j]):
            return end_a, end_b
        i, j = i + 1, j + 1
        end_a, end_b = i, j


def _forks(events: Sequence[ev.Event]) -> list[ev.RunForkedData]:
    """Every ``run:forked`` in ``events``: a fork of a fork copies its parent's, so the run's own is the last."""
    return [event.data for event in events if isinstance(event.data, ev.RunForkedData)]


def _forked(events: Sequence[ev.Event]) -> ev.RunForkedData | None:
    """The run's own ``run:forked``: where it was forked, from which run."""
    forks = _forks(events)
    return forks[-1] if forks else None


def _fork_of(events: Sequence[ev.Event], other: str) -> ev.RunForkedData | None:
    """The fork, in this run's line, that was made from run ``other``, if any."""
    return next((f for f in reversed(_forks(events)) if f.parent_id == other), None)


def _run_id(events: Sequence[ev.Event]) -> str:
    return events[0].run_id if events else ""


def edits_in_words(edits: ev.ForkEdits) -> list[str]:
    """What a fork changed at its fork point, one phrase each."""
    words = []
    if edits.tool_result is not None:
        words.append(f"the result of {edits.tool_result.tool_use_id} replaced")
    if edits.message is not None:
        words.append(f"a message added: {_clip(edits.message, 80)!r}")
    if edits.model is not None:
        words.append(f"model {edits.model}")
    if edits.options:
        words.append("options " + ", ".join(f"{k}={v!r}" for k, v in edits.options.items()))
    return words


def _clip(text: str, most: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


def _label(event: ev.Event) -> str:
    data = event.data
    match data:
        case ev.ToolStartData() | ev.ToolCompleteData() | ev.ToolApprovalData():
            return f"{event.type} {data.tool_name}"
        case ev.ThinkingDeltaData() | ev.TextDeltaData() | ev.TextData() | ev.ThinkingData():
            return f"{event.type} of step {data.step_id}"
        case ev.PhaseStartData() | ev.PhaseCompleteData():
            return f"{event.type} {data.phase_name!r}"
    return event.type


def _ref(events: Sequence[ev.Event], i: int) -> EventRef | None:
    return EventRef(events[i].id, events[i].type, _label(events[i])) if i < len(events) else None


def _what_differs(x: ev.Event | None, y: ev.Event | None, live_a: bool, live_b: bool) -> str:
    if x is None and y is None:
        return "both runs end here"
    if x is None:
        assert y is not None
        return f"A {'has not gone further yet' if live_a else 'ends here'}; B goes on with {_label(y)}"
    if y is None:
        return f"B {'has not gone further yet' if live_b else 'ends here'}; A goes on with {_label(x)}"
    if x.type != y.type:
        return f"A goes on with {_label(x)}, B with {_label(y)}"
    left, right = _comparable(x), _comparable(y)
    keys = [k for k in dict.fromkeys([*left, *right]) if left.get(k) != right.get(k)]
    if not keys:
        return f"both go on alike, with {_label(x)}"
    return f"both go on with {_label(x)}, but its {', '.join(keys)} {'differs' if len(keys) == 1 else 'differ'}"


# --- the whole diff ------------------------------------------------------------------------------


def _side(state: RunState, events: Sequence[ev.Event]) -> RunSide:
    forked = _forked(events)
    return RunSide(
        run_id=state.run_id or _run_id(events), task=state.task, model=state.model, strategy=state.strategy,
        status=state.status, events=len(events),
        duration=elapsed(state.started_at, state.ended_at) if state.finished else None,
        tokens=state.tokens, cost_usd=state.cost_usd, result=state.result,
        error=state.error.message if state.error else None,
        parent_id=forked.parent_id if forked else None, forked_at=forked.at if forked else None,
        edits=edits_in_words(forked.edits) if forked else [],
    )


def _prefix_summary(n: int, everything: bool, phases: list[str], steps: int, tool_calls: int) -> str:
    if n == 0:
        return "No shared events: the runs differ from their first event"
    head = f"All {n:,} events alike" if everything else f"{n:,} shared event{'s' if n != 1 else ''}"
    parts = []
    if phases:
        parts.append(f"{len(phases)} phase{'s' if len(phases) != 1 else ''} ({', '.join(phases)})")
    parts.append(f"{steps:,} step{'s' if steps != 1 else ''}")
    parts.append(f"{tool_calls:,} tool call{'s' if tool_calls != 1 else ''}")
    return head + ": " + ", ".join(parts)


def _shared_prefix(pa: RunState, pb: RunState, n_a: int, n_b: int, total_a: int, total_b: int) -> SharedPrefix:
    phases = [p.name for p in sorted(pa.phases.values(), key=lambda p: p.index)
              if p.status == "complete" and _phase_alike(p, pb.phases.get(p.id))]
    ended = [s for s in pa.steps.values() if s.status not in ("streaming", "running", "waiting")]
    tools = sum(1 for s in ended if isinstance(s, ToolCall))
    return SharedPrefix(n_a, n_b, phases, len(ended), tools,
                        _prefix_summary(n_a, n_a == total_a and n_b == total_b, phases, len(ended), tools))


def _phase_alike(x: PhaseState, y: PhaseState | None) -> bool:
    return y is not None and (x.name, x.status, x.summary) == (y.name, y.status, y.summary)


def diff_runs(a_events: Sequence[ev.Event], b_events: Sequence[ev.Event]) -> RunDiff:
    """Run A's events against run B's: see the module's docstring."""
    a, b = list(a_events), list(b_events)
    n_a, n_b = _common_prefix(a, b)
    fork_words = None
    edited: tuple[str, ev.ToolResultEdit] | None = None
    for fork_side, fork_events, other in (("B", b, a), ("A", a, b)):
        forked = _fork_of(fork_events, _run_id(other))
        if forked is not None:
            if forked.edits.tool_result is not None:
                edited = (fork_side, forked.edits.tool_result)
            n_a, n_b = min(n_a, forked.at), min(n_b, forked.at)  # the fork point bounds what they share
            parent = "A" if fork_side == "B" else "B"
            own = _forked(fork_events)
            through = f" (through {own.parent_id})" if own is not None and own is not forked else ""
            edits = edits_in_words(forked.edits)
            fork_words = (f"{fork_side} was forked from {parent} at event {forked.at}{through}"
                          + (f": {'; '.join(edits)}" if edits else ", with no edits"))
            break
    pa, pb = fold(a[:n_a]), fold(b[:n_b])
    sa, sb = fold(a), fold(b)  # afresh: folding on from a copy of the prefix's state costs more (deepcopy)
    if edited is not None:  # the fork's model saw that call's result as edited: compare what it saw
        call = (sb if edited[0] == "B" else sa).steps.get(edited[1].tool_use_id)
        if isinstance(call, ToolCall):
            call.result = edited[1].result
    next_a, next_b = _next(a, n_a), _next(b, n_b)
    more_a, more_b = next_a < len(a), next_b < len(b)
    # A side with nothing more has parted from one that goes on only once it has ended itself.
    parted = fork_words is not None or (more_a and more_b) or (more_a and sb.finished) or (more_b and sa.finished)
    divergence = None
    if parted:
        divergence = Divergence(_ref(a, next_a), _ref(b, next_b),
                                _what_differs(a[next_a] if more_a else None, b[next_b] if more_b else None,
                                              not sa.finished, not sb.finished), fork_words)
    rows = aligned_rows((sa, sb), (pa, pb))
    if edited is not None:
        for pair in (p for row in rows for p in row.steps):
            step = pair.b if edited[0] == "B" else pair.a
            if step is not None and step.step_id == edited[1].tool_use_id:
                pair.changes.append("edited")
    if divergence is not None:
        first = next((p for row in rows for p in row.steps if not p.shared), None)
        if first is not None:
            first.divergence = True
    side_a, side_b = _side(sa, a), _side(sb, b)
    return RunDiff(
        a=side_a, b=side_b,
        identical=not more_a and not more_b and fork_words is None,
        live=not (sa.finished and sb.finished),
        prefix=_shared_prefix(pa, pb, n_a, n_b, len(a), len(b)),
        divergence=divergence, rows=rows,
        result_diff=text_diff(sa.result or "", sb.result or ""),
        duration_delta=(side_b.duration - side_a.duration
                        if side_a.duration is not None and side_b.duration is not None else None),
        tokens_delta=usage_minus(sb.tokens, sa.tokens),
    )
