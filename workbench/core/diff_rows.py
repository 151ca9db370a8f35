"""Two runs' phases and steps, aligned row by row, for :mod:`workbench.core.diffing`.

A plan-strategy run is cut into rows: its planning (steps before any phase), each phase, and its
final answer (steps outside a phase after the phases); a react run is one row. The phases of the
two runs are aligned by name (:class:`difflib.SequenceMatcher`, so a phase one run added leaves
the others paired), and within a row the steps by kind and tool name. Each pair says what
changed; timing is never a change, only a delta.
"""

from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workbench.core import events as ev
from workbench.core.progress import ts_ms, usage_minus, usage_plus
from workbench.core.reducer import MessageStep, RunState, Step, ThinkingStep, ToolCall, UserMessageStep
from workbench.core.text_diff import Segment, text_diff

__all__ = ["PhaseRow", "StepPair", "StepSide", "aligned_rows", "elapsed"]

_T = TypeVar("_T")


@dataclass
class StepSide:
    """One run's step in a pair."""

    step_id: str
    kind: str
    """``thinking``, ``message``, ``tool`` or ``user``."""
    status: str
    text: str = ""
    """A thinking step's, message's or person's text."""
    tool_name: str | None = None
    params: dict[str, Any] | None = None
    result: str | None = None
    """A tool call's result as text (JSON for structured results)."""
    is_error: bool = False
    duration: float | None = None


@dataclass
class StepPair:
    """A step of each run, aligned; one side is ``None`` where the other run has a step more."""

    a: StepSide | None
    b: StepSide | None
    changes: list[str]
    """What differs: ``only-a``, ``only-b``, ``kind``, ``text``, ``params``, ``result``, ``error``, ``status``;
    ``edited``: the fork edited this call's result at its fork point (its side shows the edited result)."""
    changed_params: list[str] = field(default_factory=list)
    """The params' keys whose values differ."""
    diff: list[Segment] = field(default_factory=list)
    """The word diff of the changed text or result."""
    shared: bool = False
    """Both steps are in the shared prefix, as they are now."""
    divergence: bool = False
    """The first pair past the shared prefix: where the runs part."""


@dataclass
class PhaseRow:
    """A phase of each run (or planning, the final answer, a react run's loop), aligned."""

    key: str
    """``planning``, ``phase:<id>``, ``final`` or ``run``; ``<A's key>|<B's key>`` when they differ (``-``: none)."""
    title_a: str | None
    """``None`` where A has no such phase."""
    title_b: str | None
    status_a: str | None
    status_b: str | None
    duration_a: int | None
    duration_b: int | None
    duration_delta: int | None
    """B's time minus A's, in ms, when both are known."""
    tokens_a: ev.Usage
    tokens_b: ev.Usage
    tokens_delta: ev.Usage
    """B's tokens minus A's."""
    steps: list[StepPair]
    shared: bool
    """Wholly in the shared prefix on both sides."""
    same: bool
    """No difference but timing: the same phase, status and steps."""


# --- each run's parts ------------------------------------------------------------------------


@dataclass
class _Part:
    """One run's share of a row, before alignment."""

    name: str
    """What aligns it with the other run's: a phase's name, or the row's kind."""
    title: str
    status: str
    duration: int | None
    tokens: ev.Usage
    steps: list[Step]


def elapsed(start: str | None, end: str | None) -> int | None:
    """Milliseconds between two timestamps, when both are known."""
    return ts_ms(end) - ts_ms(start) if start and end else None


def _sum_tokens(usages: Sequence[ev.Usage]) -> ev.Usage:
    total = ev.Usage()
    for usage in usages:
        total = usage_plus(total, usage)
    return total


def _parts(state: RunState, by_phase: bool) -> dict[str, _Part]:
    """The run cut into rows, by key: ``planning``, ``phase:<id>``, ``final``; or ``run`` for a react run."""
    if not by_phase:
        return {"run": _Part("run", "Agent loop", state.status, elapsed(state.started_at, state.ended_at),
                             state.tokens, list(state.steps.values()))}
    phases = sorted(state.phases.values(), key=lambda p: p.index)
    planning: list[Step] = []
    final: list[Step] = []
    phased: dict[str, list[Step]] = {p.id: [] for p in phases}
    for step in state.steps.values():
        if step.phase_id in phased:
            phased[step.phase_id].append(step)
        else:  # outside any phase: planning until a phase has steps, the final answer after
            (final if any(phased.values()) else planning).append(step)
    first_phased = next((c.index for c in state.model_calls if c.phase_id in phased), None)
    loose = [c for c in state.model_calls if c.phase_id not in phased]
    before = [c.tokens for c in loose if first_phased is None or c.index < first_phased]
    after = [c.tokens for c in loose if first_phased is not None and c.index > first_phased]
    started = [p.started_at for p in phases if p.started_at]
    ended = [p.ended_at for p in phases if p.ended_at]
    all_ended = bool(phases) and len(ended) == len(phases)
    parts = {"planning": _Part(
        "planning", "Planning", "complete" if started else state.status,
        elapsed(state.started_at, min(started) if started else state.ended_at), _sum_tokens(before), planning)}
    for phase in phases:
        parts[f"phase:{phase.id}"] = _Part(phase.name, f"{phase.index + 1}. {phase.name}", phase.status,
                                           phase.duration, phase.tokens, phased[phase.id])
    if final or after or (all_ended and state.finished):
        parts["final"] = _Part("final", "Final answer", state.status if all_ended else "pending",
                               elapsed(max(ended), state.ended_at) if all_ended else None, _sum_tokens(after), final)
    return parts


def _aligned(left: list[_T], right: list[_T], key: Any, anchor: Any = None) -> list[tuple[_T | None, _T | None]]:
    """``left`` and ``right`` paired by ``key`` (SequenceMatcher); what does not match, side by side as it comes.

    A head and a tail alike by ``anchor`` (default ``key``) pair up first, one to one: two runs
    that share most of their steps then cost linear time, not SequenceMatcher's quadratic worst case.
    """
    anchor = anchor or key
    head = 0
    while head < min(len(left), len(right)) and anchor(left[head]) == anchor(right[head]):
        head += 1
    tail = 0
    while (tail < min(len(left), len(right)) - head
           and anchor(left[len(left) - 1 - tail]) == anchor(right[len(right) - 1 - tail])):
        tail += 1
    middle_left, middle_right = left[head:len(left) - tail], right[head:len(right) - tail]
    pairs: list[tuple[_T | None, _T | None]] = list(zip(left[:head], right[:head]))
    matcher = difflib.SequenceMatcher(None, [key(x) for x in middle_left], [key(y) for y in middle_right],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(zip(middle_left[i1:i2], middle_right[j1:j2]))
        else:
            pairs.extend(itertools.zip_longest(middle_left[i1:i2], middle_right[j1:j2]))
    pairs.extend(zip(left[len(left) - tail:], right[len(right) - tail:]))
    return pairs


# --- steps -------------------------------------------------------------------------------------


def _result_text(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    return json.dumps(result, indent=2, ensure_ascii=False, default=str)


def _step_side(step: Step) -> StepSide:
    match step:
        case ToolCall():
            return StepSide(step.step_id, "tool", step.status, tool_name=step.tool_name,
                            params=step.decided_params if step.decided_params is not None else step.params,
                            result=_result_text(step.result), is_error=step.is_error, duration=step.duration)
        case ThinkingStep():
            return StepSide(step.step_id, "thinking", step.status, text=step.text)
        case MessageStep():
            return StepSide(step.step_id, "message", step.status, text=step.text)
        case UserMessageStep():
            return StepSide(step.step_id, "user", step.status, text=step.text)


def _signature(step: Step) -> tuple[str, str]:
    return (step.kind, step.tool_name if isinstance(step, ToolCall) else "")


def _same_step(step: Step) -> tuple[str, str, str]:
    """What pairs two steps without search: the same kind and tool, and the same id (a shared prefix's)."""
    return (*_signature(step), step.step_id)


def _pair(x: Step | None, y: Step | None) -> StepPair:
    a, b = (_step_side(x) if x else None), (_step_side(y) if y else None)
    if a is None or b is None:
        return StepPair(a, b, ["only-b" if a is None else "only-a"])
    if (a.kind, a.tool_name) != (b.kind, b.tool_name):
        return StepPair(a, b, ["kind"])
    changes: list[str] = []
    changed_params: list[str] = []
    diff: list[Segment] = []
    if a.kind == "tool":
        left, right = a.params or {}, b.params or {}
        changed_params = [k for k in dict.fromkeys([*left, *right]) if left.get(k) != right.get(k)]
        if changed_params:
            changes.append("params")
        if a.result != b.result:
            changes.append("result")
            diff = text_diff(a.result or "", b.result or "")
        if a.is_error != b.is_error:
            changes.append("error")
    elif a.text != b.text:
        changes.append("text")
        diff = text_diff(a.text, b.text)
    if a.status != b.status:
        changes.append("status")
    return StepPair(a, b, changes, changed_params, diff)


# --- rows ----------------------------------------------------------------------------------


def _closed(before: _Part | None, now: _Part | None) -> bool:
    """The part was already as it is now at the end of the shared prefix."""
    if now is None:
        return before is None
    return (before is not None and (before.status, before.duration, before.tokens, len(before.steps))
            == (now.status, now.duration, now.tokens, len(now.steps)))


def _row_keys(parts_a: dict[str, _Part], parts_b: dict[str, _Part]) -> list[tuple[str | None, str | None]]:
    """The rows, as the key of each run's part (``None`` where it has none)."""
    ends = [k for k in ("planning", "run") if k in parts_a or k in parts_b]
    phases = _aligned([(k, p) for k, p in parts_a.items() if k.startswith("phase:")],
                      [(k, p) for k, p in parts_b.items() if k.startswith("phase:")], key=lambda item: item[1].name)
    rows: list[tuple[str | None, str | None]] = [(k if k in parts_a else None, k if k in parts_b else None) for k in ends]
    rows += [(x[0] if x else None, y[0] if y else None) for x, y in phases]
    if "final" in parts_a or "final" in parts_b:
        rows.append(("final" if "final" in parts_a else None, "final" if "final" in parts_b else None))
    return rows


def aligned_rows(states: tuple[RunState, RunState], prefixes: tuple[RunState, RunState]) -> list[PhaseRow]:
    """Both runs' rows, aligned; ``prefixes``: each run's state at the end of the shared prefix."""
    (sa, sb), (pa, pb) = states, prefixes
    by_phase = "plan" in (sa.strategy, sb.strategy)
    parts_a, parts_b = _parts(sa, by_phase), _parts(sb, by_phase)
    before_a, before_b = _parts(pa, by_phase), _parts(pb, by_phase)
    rows = []
    for key_a, key_b in _row_keys(parts_a, parts_b):
        a, b = (parts_a[key_a] if key_a else None), (parts_b[key_b] if key_b else None)
        pairs = [_pair(x, y) for x, y in _aligned(a.steps if a else [], b.steps if b else [], _signature, _same_step)]
        for pair in pairs:
            pair.shared = (not pair.changes and pair.a is not None and pair.b is not None
                           and pa.steps.get(pair.a.step_id) == sa.steps.get(pair.a.step_id)
                           and pb.steps.get(pair.b.step_id) == sb.steps.get(pair.b.step_id))
        tokens_a, tokens_b = (a.tokens if a else ev.Usage()), (b.tokens if b else ev.Usage())
        duration_a, duration_b = (a.duration if a else None), (b.duration if b else None)
        rows.append(PhaseRow(
            key=key_a if key_a is not None and key_a == key_b else f"{key_a or '-'}|{key_b or '-'}",
            title_a=a.title if a else None, title_b=b.title if b else None,
            status_a=a.status if a else None, status_b=b.status if b else None,
            duration_a=duration_a, duration_b=duration_b,
            duration_delta=duration_b - duration_a if duration_a is not None and duration_b is not None else None,
            tokens_a=tokens_a, tokens_b=tokens_b, tokens_delta=usage_minus(tokens_b, tokens_a), steps=pairs,
            shared=(all(p.shared for p in pairs) and _closed(before_a.get(key_a or ""), a)
                    and _closed(before_b.get(key_b or ""), b)),
            same=(a is not None and b is not None and a.name == b.name and a.status == b.status
                  and not any(p.changes for p in pairs)),
        ))
    return rows
