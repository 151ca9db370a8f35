"""How long each part of a run took, what its model calls cost in tokens, and what it does now.

Everything here is derived from the events' own timestamps (``ts``), never from a clock, so a
run file folds to exactly the numbers the live run showed. ``static/run_model.js`` mirrors it.

**A model call** has no start event in the contract, only its output and, at its end, a ``usage``
event (the run's running totals). Its start is derived: the orchestrator calls the model right
after one of the *boundary* events — ``execution:started``, ``plan:created``, ``phase:start``,
``phase:complete``, ``tool:complete``, ``tool:decision``, ``usage`` (the previous call),
``model:retry``, ``execution:resumed``, ``run:forked`` — so a call starts at the ``ts`` of the
last boundary before its first output event (a thinking or text delta or block; or, for a call
that streamed nothing, before its ``usage``). Events that can arrive during a call without
starting one (``user:message``, unknown types) do not move it. Then:

- time to first token (``ttft``) = ``ts`` of the call's first output event − its start
  (``None`` when it streamed nothing);
- ``duration`` = ``ts`` of its ``usage`` event − its start;
- its ``tokens`` = this ``usage`` event's totals − the previous one's;
- its phase is the phase running at its ``usage`` event (``None``: planning, the final answer).

A retried call is timed from its last ``model:retry``, so its time includes the wait before
the retry. A call that never reached its ``usage`` (the run was cancelled or failed meanwhile)
is not counted. Timestamps have millisecond precision, so every figure is whole milliseconds.

**Now** is one short line saying what the agent is doing, from the last events: ``calling
write_file`` while a tool runs, ``thinking`` or ``writing`` while the model streams a thinking
or text block, ``planning`` while a plan-strategy run has no plan yet, ``waiting for the model``
between, ``paused``; and ``done``, ``failed``, ``cancelled`` or
``interrupted`` at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from workbench.core import events as ev

__all__ = ["BOUNDARY_TYPES", "OUTPUT_TYPES", "ModelCall", "Tracking", "ts_ms", "usage_minus", "usage_plus"]

BOUNDARY_TYPES = frozenset({
    "execution:started", "plan:created", "phase:start", "phase:complete", "tool:complete", "tool:decision",
    "usage", "model:retry", "execution:resumed", "run:forked", "run:resumed",
})
"""Events right after which the orchestrator may call the model."""
OUTPUT_TYPES = frozenset({"thinking:delta", "text:delta", "thinking", "message", "text"})
"""Events that are a model call's output."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def ts_ms(ts: str) -> int:
    """An event's ISO 8601 timestamp as whole milliseconds since the epoch (as ``Date.parse`` reads it)."""
    moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MS


def usage_minus(a: ev.Usage, b: ev.Usage) -> ev.Usage:
    return ev.Usage(input=a.input - b.input, output=a.output - b.output,
                    cache_read=a.cache_read - b.cache_read, cache_write=a.cache_write - b.cache_write)


def usage_plus(a: ev.Usage, b: ev.Usage) -> ev.Usage:
    return ev.Usage(input=a.input + b.input, output=a.output + b.output,
                    cache_read=a.cache_read + b.cache_read, cache_write=a.cache_write + b.cache_write)


@dataclass
class ModelCall:
    """One model call, from its derived start to its ``usage`` event (times in ms)."""

    phase_id: str | None
    index: int
    """Its place among the run's model calls, from 0."""
    started_at: str
    ttft: int | None
    """Time to first token: from its start to its first output event; ``None`` if it streamed nothing."""
    duration: int
    tokens: ev.Usage


@dataclass
class Tracking:
    """What the fold remembers between events to time model calls and say what happens now.

    Bookkeeping only: it is not part of ``RunState.to_dict()``.
    """

    boundary_ts: str | None = None
    last_ts: str | None = None
    """``ts`` of the event folded last."""
    """``ts`` of the last boundary event: where the next model call starts."""
    call_start: str | None = None
    """The start of the model call under way, once its first output arrived."""
    call_first: str | None = None
    """``ts`` of that call's first output event."""
    streaming: str | None = None
    """``thinking`` or ``writing`` while a delta stream is open."""
    tools: dict[str, str] = field(default_factory=dict)
    """Running tool calls: toolUseId -> tool name."""
    paused: bool = False
    waiting_since: str | None = None
    """``ts`` where the run began waiting for a person, while it waits."""
    retry: int | None = None
    """The attempt that failed, until the retried call streams."""

    def before(self, kind: str, ts: str) -> None:
        """Before an event is folded: a call's first output fixes its start; deltas say thinking or writing."""
        if kind in OUTPUT_TYPES and self.call_start is None:
            self.call_start = self.boundary_ts or ts
            self.call_first = ts
            self.retry = None
        if kind == "thinking:delta":
            self.streaming = "thinking"
        elif kind == "text:delta":
            self.streaming = "writing"
        elif kind in OUTPUT_TYPES:
            self.streaming = None
        elif kind == "execution:paused":
            self.paused = True
        elif kind == "execution:resumed":
            self.paused = False

    def after(self, kind: str, ts: str) -> None:
        """After an event is folded: a boundary is where the next model call starts."""
        if kind in BOUNDARY_TYPES:
            self.boundary_ts = ts

    def end_call(self, ts: str, phase_id: str | None, index: int, tokens: ev.Usage) -> ModelCall:
        """The model call that a ``usage`` event at ``ts`` ends."""
        start = self.call_start or self.boundary_ts or ts
        ttft = ts_ms(self.call_first) - ts_ms(start) if self.call_first else None
        self.call_start = self.call_first = self.streaming = self.retry = None
        return ModelCall(phase_id, index, start, ttft, ts_ms(ts) - ts_ms(start), tokens)

    def retried(self, attempt: int) -> None:
        """A call failed and is tried again: what it streamed is no call of its own."""
        self.call_start = self.call_first = self.streaming = None
        self.retry = attempt

    def now(self, strategy: str, planned: bool) -> str:
        """What a running agent is doing."""
        if self.paused:
            return "paused"
        if self.tools:
            return "calling " + ", ".join(dict.fromkeys(self.tools.values()))
        if self.retry is not None:
            return "retrying the model"
        if strategy == "plan" and not planned:
            return "planning"
        return self.streaming or "waiting for the model"
