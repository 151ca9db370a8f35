"""Folding a run's events into its state.

``reduce(state, event) -> state`` is pure: it never changes the state it is given, does no
I/O and depends on nothing but its arguments, so the same events always fold to the same
state — for a live run, a run file, or time travel to event k (``fold(events[:k])``).

``fold`` owns the state it builds, so it updates that state in place (``_apply``); copying
the state for every event would make folding a long run quadratic. The logic is the
same function either way.

Nesting is derived from ids: every step records its ``phase_id`` and nothing else holds
the relation; :meth:`RunState.items_of` reads it back in arrival order.

Times, tokens per phase and per model call, and the ``now`` line are derived from the events'
timestamps as :mod:`workbench.core.progress` describes.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Literal

from workbench.core import events as ev
from workbench.core.progress import ModelCall, Tracking, ts_ms, usage_minus, usage_plus

__all__ = [
    "RunState",
    "PhaseState",
    "ThinkingStep",
    "MessageStep",
    "ToolCall",
    "UserMessageStep",
    "PauseState",
    "RetryNote",
    "ModelCall",
    "Step",
    "reduce",
    "fold",
    "initial_state",
]

RunStatus = Literal["pending", "running", "paused", "complete", "error", "cancelled", "interrupted"]
PhaseStatus = Literal["pending", "running", "complete", "failed", "cancelled"]
StepStatus = Literal["streaming", "complete", "interrupted", "running", "waiting", "denied", "error"]


@dataclass
class ThinkingStep:
    """One thinking step; its text grows with each ``thinking:delta``."""

    step_id: str
    phase_id: str | None
    text: str = ""
    iteration: int = 0
    status: StepStatus = "streaming"
    redacted: bool = False
    kind: Literal["thinking"] = "thinking"


@dataclass
class MessageStep:
    """One assistant text block; its text grows with each ``text:delta``."""

    step_id: str
    phase_id: str | None
    text: str = ""
    status: StepStatus = "streaming"
    kind: Literal["message"] = "message"


@dataclass
class ToolCall:
    """One tool call, from ``tool:start`` to ``tool:complete``."""

    step_id: str
    """The call's ``toolUseId``."""
    phase_id: str | None
    tool_name: str
    params: dict[str, Any]
    result: Any = None
    duration: float | None = None
    is_error: bool = False
    status: StepStatus = "running"
    """``waiting`` for a person's decision; ``denied`` when they said no."""
    decision: str | None = None
    """``approve``, ``edit`` or ``deny``, once a person decided on the call."""
    decided_params: dict[str, Any] | None = None
    """The params it ran with after an edit."""
    note: str | None = None
    decided_by: str | None = None
    kind: Literal["tool"] = "tool"


@dataclass
class UserMessageStep:
    """A person's message to the agent (``user:message``)."""

    step_id: str
    """``u`` and the event's id."""
    phase_id: str | None
    text: str
    by: str | None = None
    status: StepStatus = "complete"
    kind: Literal["user"] = "user"


Step = ThinkingStep | MessageStep | ToolCall | UserMessageStep


@dataclass
class PauseState:
    """Where a paused run waits."""

    reason: str
    """``user`` or ``breakpoint``."""
    before: str
    """``model`` or ``tool``."""
    tool_use_id: str | None = None
    since: str = ""
    """``ts`` of its ``execution:paused``."""


@dataclass
class PhaseState:
    """A phase of the plan and where it stands."""

    id: str
    name: str
    description: str
    index: int
    status: PhaseStatus = "pending"
    summary: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    duration: int | None = None
    """From its ``phase:start`` to its ``phase:complete`` (or the run's end), in ms; for a fork,
    less ``forked_gap``."""
    tokens: ev.Usage = field(default_factory=ev.Usage)
    """What its model calls used."""
    forked_gap: int = 0
    """For a phase a fork point falls in: the time between the copied part's last event (the
    parent's) and ``run:forked`` (the fork's), which the phase did not spend."""


@dataclass
class RetryNote:
    """A failed model call that was tried again."""

    attempt: int
    reason: str
    delay_ms: float


@dataclass
class RunState:
    """Everything a viewer needs to know about a run, as of its last folded event."""

    run_id: str = ""
    task: str = ""
    model: str = ""
    strategy: str = ""
    status: RunStatus = "pending"
    started_at: str | None = None
    ended_at: str | None = None
    goal: str | None = None
    phases: dict[str, PhaseState] = field(default_factory=dict)
    """Phases by id, in plan order."""
    steps: dict[str, Step] = field(default_factory=dict)
    """Thinking steps, messages and tool calls by id, in arrival order."""
    current_phase_id: str | None = None
    tokens: ev.Usage = field(default_factory=ev.Usage)
    retries: list[RetryNote] = field(default_factory=list)
    result: str | None = None
    error: ev.ErrorInfo | None = None
    error_stack: str | None = None
    """The failed run's traceback for developers, when its ``execution:error`` had one."""
    cancel_reason: str | None = None
    duration: float | None = None
    """Wall time in ms, once the run has ended."""
    cost_usd: float | None = None
    event_count: int = 0
    last_event_id: int = 0
    model_calls: list[ModelCall] = field(default_factory=list)
    """Every model call that reached its ``usage`` event, in order."""
    paused: PauseState | None = None
    """Where the run waits, while it is paused."""
    waiting: list[str] = field(default_factory=list)
    """The ``toolUseId`` of each tool call waiting for a decision."""
    waited: int = 0
    """Milliseconds spent waiting for a person (paused, or a tool call awaiting its decision),
    which ``duration`` includes: working time is ``duration - waited``."""
    now: str = ""
    """What the agent is doing right now, in a few words (see :mod:`workbench.core.progress`)."""
    tracking: Tracking = field(default_factory=Tracking)
    """The fold's bookkeeping for the two above; not part of :meth:`to_dict`."""

    @property
    def finished(self) -> bool:
        """Whether a terminal event has been folded."""
        return self.status in ("complete", "error", "cancelled", "interrupted")

    def items_of(self, phase_id: str | None) -> list[Step]:
        """The steps of one phase (``None``: steps outside any phase), in arrival order."""
        return [step for step in self.steps.values() if step.phase_id == phase_id]

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [s for s in self.steps.values() if isinstance(s, ToolCall)]

    @property
    def thinking_steps(self) -> list[ThinkingStep]:
        return [s for s in self.steps.values() if isinstance(s, ThinkingStep)]

    @property
    def messages(self) -> list[MessageStep]:
        return [s for s in self.steps.values() if isinstance(s, MessageStep)]

    @property
    def user_messages(self) -> list[UserMessageStep]:
        return [s for s in self.steps.values() if isinstance(s, UserMessageStep)]

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready camelCase, phases with their steps nested."""

        def camel(obj: dict[str, Any]) -> dict[str, Any]:
            return {_camel(k): v for k, v in obj.items()}

        phases = []
        for phase in self.phases.values():
            item = camel(asdict(phase))
            item["tokens"] = phase.tokens.model_dump()
            item["steps"] = [camel(asdict(s)) for s in self.items_of(phase.id)]
            phases.append(item)
        return {
            "runId": self.run_id,
            "task": self.task,
            "model": self.model,
            "strategy": self.strategy,
            "status": self.status,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "goal": self.goal,
            "phases": phases,
            "steps": [camel(asdict(s)) for s in self.items_of(None)],
            "currentPhaseId": self.current_phase_id,
            "tokens": self.tokens.model_dump(),
            "retries": [camel(asdict(r)) for r in self.retries],
            "result": self.result,
            "error": self.error.model_dump() if self.error else None,
            "errorStack": self.error_stack,
            "cancelReason": self.cancel_reason,
            "duration": self.duration,
            "costUsd": self.cost_usd,
            "eventCount": self.event_count,
            "lastEventId": self.last_event_id,
            "modelCalls": [{**camel(asdict(c)), "tokens": c.tokens.model_dump()} for c in self.model_calls],
            "paused": camel(asdict(self.paused)) if self.paused else None,
            "waiting": list(self.waiting),
            "waited": self.waited,
            "now": self.now,
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def initial_state() -> RunState:
    """The state before any event."""
    return RunState()


def reduce(state: RunState, event: ev.Event) -> RunState:
    """The state after ``event``; ``state`` itself is left as it was."""
    return _apply(copy.deepcopy(state), event)


def fold(events: Iterable[ev.Event], state: RunState | None = None) -> RunState:
    """Fold ``events`` into a fresh state (or a copy of ``state``)."""
    acc = initial_state() if state is None else copy.deepcopy(state)
    for event in events:
        _apply(acc, event)
    return acc


def _interrupt_streaming(state: RunState) -> None:
    """Steps left streaming when a model call fails will never complete."""
    for step in state.steps.values():
        if step.status == "streaming":
            step.status = "interrupted"


def _end(state: RunState, event: ev.Event, status: RunStatus) -> None:
    _stop_waiting(state, event.ts)
    for tool_use_id in state.waiting:
        call = state.steps.get(tool_use_id)
        if isinstance(call, ToolCall):
            call.status = "running"  # marked interrupted below, as every call left open
    state.waiting = []
    state.paused = None  # an ended run waits for nothing
    state.status = status
    state.ended_at = event.ts
    _interrupt_streaming(state)
    for step in state.steps.values():
        if isinstance(step, ToolCall) and step.status == "running":
            step.status = "interrupted"
    for phase in state.phases.values():
        if phase.status == "running":
            # A phase the person stopped did not fail: it says so, apart from one that broke.
            phase.status = "complete" if status == "complete" else "cancelled" if status == "cancelled" else "failed"
            _phase_ended(phase, event.ts)
    state.current_phase_id = None
    state.tracking = Tracking()


def _phase_ended(phase: PhaseState, ts: str) -> None:
    phase.ended_at = ts
    phase.duration = ts_ms(ts) - ts_ms(phase.started_at) - phase.forked_gap if phase.started_at else None


def _stop_waiting(state: RunState, ts: str) -> None:
    """A wait for a person ends at ``ts``: its time goes to ``waited``."""
    since = state.tracking.waiting_since
    if since is not None:
        state.waited += max(0, ts_ms(ts) - ts_ms(since))
        state.tracking.waiting_since = None


def _start_waiting(state: RunState, ts: str) -> None:
    state.status = "paused"
    if state.tracking.waiting_since is None:
        state.tracking.waiting_since = ts


def _waiting_now(state: RunState) -> str:
    """What a paused run waits for, in a few words."""
    if state.waiting:
        names = [s.tool_name for s in (state.steps.get(i) for i in state.waiting) if isinstance(s, ToolCall)]
        return "waiting for your decision on " + ", ".join(dict.fromkeys(names))
    pause = state.paused
    if pause is not None and pause.before == "tool":
        call = state.steps.get(pause.tool_use_id or "")
        return f"paused before calling {call.tool_name if isinstance(call, ToolCall) else 'a tool'}"
    return "paused before the next model call"


_ENDED_NOW = {"complete": "done", "error": "failed", "cancelled": "cancelled", "interrupted": "interrupted"}


def _apply(state: RunState, event: ev.Event) -> RunState:
    """Fold one event into ``state`` in place and return it."""
    state.tracking.before(event.type, event.ts)
    _fold(state, event)
    state.tracking.last_ts = event.ts
    if state.finished:
        state.now = _ENDED_NOW[state.status]
    else:
        state.tracking.after(event.type, event.ts)
        state.now = (state.tracking.now(state.strategy, state.goal is not None) if state.status == "running"
                     else _waiting_now(state) if state.status == "paused" else "starting")
    return state


def _fold(state: RunState, event: ev.Event) -> None:
    state.event_count += 1
    state.last_event_id = event.id
    data = event.data
    match data:
        case ev.ThinkingDeltaData():
            step = state.steps.get(data.step_id)
            if step is None:
                step = state.steps[data.step_id] = ThinkingStep(data.step_id, data.phase_id)
            if not isinstance(step, ToolCall):  # a tool call's id (a broken log) has no text to grow
                step.text += data.delta
        case ev.TextDeltaData():
            step = state.steps.get(data.step_id)
            if step is None:
                step = state.steps[data.step_id] = MessageStep(data.step_id, data.phase_id)
            if not isinstance(step, ToolCall):  # a tool call's id (a broken log) has no text to grow
                step.text += data.delta
        case ev.ThinkingData():
            state.steps[data.step_id] = ThinkingStep(
                data.step_id, data.phase_id, data.thought, data.iteration, "complete", data.redacted
            )
        case ev.TextData():
            state.steps[data.step_id] = MessageStep(data.step_id, data.phase_id, data.text, "complete")
        case ev.ToolStartData():
            state.steps[data.tool_use_id] = ToolCall(data.tool_use_id, data.phase_id, data.tool_name, data.params)
            state.tracking.tools[data.tool_use_id] = data.tool_name
        case ev.ToolCompleteData():
            state.tracking.tools.pop(data.tool_use_id, None)
            call = state.steps.get(data.tool_use_id)
            if not isinstance(call, ToolCall):  # a complete without its start: keep what we know
                call = state.steps[data.tool_use_id] = ToolCall(data.tool_use_id, None, data.tool_name, {})
            call.result = data.result
            call.duration = data.duration
            call.is_error = data.is_error
            call.status = "denied" if call.decision == "deny" else "error" if data.is_error else "complete"
        case ev.UsageData():
            totals = ev.Usage(
                input=data.input, output=data.output, cache_read=data.cache_read, cache_write=data.cache_write
            )
            charged = state.phases.get(state.current_phase_id) if state.current_phase_id else None
            model_call = state.tracking.end_call(
                event.ts, state.current_phase_id, len(state.model_calls), usage_minus(totals, state.tokens)
            )
            state.model_calls.append(model_call)
            if charged is not None:
                charged.tokens = usage_plus(charged.tokens, model_call.tokens)
            state.tokens = totals
        case ev.ExecutionStartedData():
            state.run_id = event.run_id
            state.task = data.task
            state.model = data.model
            state.strategy = data.strategy
            state.status = "running"
            state.started_at = data.started_at
        case ev.PlanCreatedData():
            state.goal = data.plan.goal
            state.phases = {
                p.id: PhaseState(p.id, p.name, p.description, i) for i, p in enumerate(data.plan.phases)
            }
        case ev.PhaseStartData():
            phase = state.phases.get(data.phase_id)
            if phase is None:  # a phase the plan did not name (an agent of one's own may do this)
                phase = state.phases[data.phase_id] = PhaseState(data.phase_id, data.phase_name, "", data.phase_index)
            phase.status = "running"
            phase.started_at, phase.ended_at, phase.duration = event.ts, None, None
            state.current_phase_id = data.phase_id
        case ev.PhaseCompleteData():
            phase = state.phases.get(data.phase_id)
            if phase is not None:
                phase.status = "complete"
                phase.summary = data.summary
                _phase_ended(phase, event.ts)
            if state.current_phase_id == data.phase_id:
                state.current_phase_id = None
        case ev.RunResumedData():  # another worker took the run over: the half-done turn's steps end here
            _interrupt_streaming(state)
        case ev.ModelRetryData():
            state.retries.append(RetryNote(data.attempt, data.reason, data.delay_ms))
            _interrupt_streaming(state)
            state.tracking.retried(data.attempt)
        case ev.ExecutionPausedData():
            state.paused = PauseState(data.reason, data.before, data.tool_use_id, event.ts)
            _start_waiting(state, event.ts)
        case ev.ExecutionResumedData():
            state.paused = None
            if not state.waiting:
                _stop_waiting(state, event.ts)
                state.status = "running"
        case ev.ToolApprovalData():
            call = state.steps.get(data.tool_use_id)
            if isinstance(call, ToolCall):
                call.status = "waiting"
            if data.tool_use_id not in state.waiting:
                state.waiting.append(data.tool_use_id)
            _start_waiting(state, event.ts)
        case ev.ToolDecisionData():
            call = state.steps.get(data.tool_use_id)
            if isinstance(call, ToolCall):
                call.decision, call.decided_params, call.note, call.decided_by = data.decision, data.params, data.note, data.by
                call.status = "running"  # a denied call's tool:complete follows and says so
            if data.tool_use_id in state.waiting:
                state.waiting.remove(data.tool_use_id)
            if not state.waiting and state.paused is None:
                _stop_waiting(state, event.ts)
                state.status = "running"
        case ev.RunForkedData():
            phase = state.phases.get(state.current_phase_id or "")
            if phase is not None and phase.status == "running" and state.tracking.last_ts is not None:
                phase.forked_gap += ts_ms(event.ts) - ts_ms(state.tracking.last_ts)
        case ev.UserMessageData():
            step_id = f"u{event.id}"
            state.steps[step_id] = UserMessageStep(step_id, data.phase_id, data.text, data.by)
        case ev.ExecutionCompleteData():
            _end(state, event, "complete")
            state.result = data.result
            state.duration = data.duration
            state.tokens = data.tokens_used
            state.cost_usd = data.cost_usd
        case ev.ExecutionErrorData():
            # An interrupted run ends with an error event of its own type (the server stopped).
            _end(state, event, "interrupted" if data.error.type == "interrupted" else "error")
            state.error = data.error
            state.error_stack = data.stack
        case ev.ExecutionCancelledData():
            _end(state, event, "cancelled")
            state.cancel_reason = data.reason
            state.duration = data.duration
