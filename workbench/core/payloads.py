"""The payloads of the events (each event's ``data``), and the model base they share with the envelopes.

One class per event type's payload, plus the pieces several share (usage, a plan, an error).
:mod:`workbench.core.events` wraps each in its envelope; import them from there (``ev.ThinkingData``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

__all__ = [
    "EventData",
    "Usage",
    "PlanPhase",
    "Plan",
    "ErrorInfo",
    "ExecutionStartedData",
    "PlanCreatedData",
    "PhaseStartData",
    "ThinkingData",
    "ToolStartData",
    "ToolCompleteData",
    "PhaseCompleteData",
    "ExecutionCompleteData",
    "ExecutionErrorData",
    "ThinkingDeltaData",
    "TextDeltaData",
    "TextData",
    "UsageData",
    "ModelRetryData",
    "ExecutionCancelledData",
    "ExecutionPausedData",
    "ExecutionResumedData",
    "ToolApprovalData",
    "ToolDecisionData",
    "UserMessageData",
    "ModelResponseData",
    "RunForkedData",
    "RunResumedData",
    "ForkEdits",
    "ToolResultEdit",
]


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are kept, not lost."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
        frozen=True,
    )


class EventData(_Wire):
    """Base of every payload. ``TYPE`` names the event type the payload belongs to."""

    TYPE: ClassVar[str]


# --- shared pieces -------------------------------------------------------------------------


class Usage(_Wire):
    """Token counts. In ``usage`` events and ``tokensUsed`` these are running totals for the run."""

    input: int = 0
    """Input tokens billed at the normal rate."""
    output: int = 0
    """Output tokens, thinking included."""
    cache_read: int = 0
    """Input tokens read from the prompt cache."""
    cache_write: int = 0
    """Input tokens written to the prompt cache."""


class PlanPhase(_Wire):
    """One phase of a plan."""

    id: str
    """Stable id of the phase within its run, e.g. ``p1``."""
    name: str
    """Short human name."""
    description: str = ""
    """What the phase is meant to achieve."""


class Plan(_Wire):
    """The agent's plan: a goal and its ordered phases."""

    goal: str
    """What the run is meant to achieve, in one sentence."""
    phases: list[PlanPhase]
    """The phases, in the order they run."""


class ErrorInfo(_Wire):
    """A failure, as a person should read it."""

    type: str
    """A short machine-readable kind, e.g. ``overloaded_error`` or ``limit_exceeded``."""
    message: str
    """What happened and, where possible, what to do about it. Never contains a credential."""


# --- payloads: the reference system's nine -------------------------------------------------


class ExecutionStartedData(EventData):
    TYPE: ClassVar[str] = "execution:started"
    task: str
    """The task as the user gave it."""
    started_at: str
    """UTC ISO 8601 timestamp of the start."""
    model: str
    """The model id, e.g. ``simulated`` or ``claude-sonnet-4-6``."""
    strategy: str
    """``plan`` or ``react``."""


class PlanCreatedData(EventData):
    TYPE: ClassVar[str] = "plan:created"
    plan: Plan
    """The plan the agent made."""


class PhaseStartData(EventData):
    TYPE: ClassVar[str] = "phase:start"
    phase_id: str
    """Id of the phase (matches ``plan.phases[].id``)."""
    phase_name: str
    """Name of the phase."""
    phase_index: int
    """Zero-based position of the phase in the plan."""


class ThinkingData(EventData):
    TYPE: ClassVar[str] = "thinking"
    thought: str
    """The whole thinking step."""
    iteration: int
    """The agent-loop iteration (model call) within its phase, from 1."""
    step_id: str
    """Id of the step; its ``thinking:delta`` pieces carry the same id."""
    phase_id: str | None = None
    """The phase the step belongs to; ``None`` outside phases (strategy ``react``)."""
    redacted: bool = False
    """True for a ``redacted_thinking`` block, whose content is encrypted and not shown."""


class ToolStartData(EventData):
    TYPE: ClassVar[str] = "tool:start"
    tool_name: str
    """Name of the tool."""
    params: dict[str, Any]
    """The input the model gave the tool."""
    tool_use_id: str
    """Id of the call; its ``tool:complete`` carries the same id."""
    phase_id: str | None = None
    """The phase the call belongs to."""


class ToolCompleteData(EventData):
    TYPE: ClassVar[str] = "tool:complete"
    tool_name: str
    """Name of the tool."""
    result: Any
    """What the tool returned (or the error message when ``isError``)."""
    duration: float
    """How long the tool ran, in milliseconds."""
    tool_use_id: str
    """Id of the call, as in its ``tool:start``."""
    is_error: bool = False
    """True when the tool failed, timed out or was interrupted."""


class PhaseCompleteData(EventData):
    TYPE: ClassVar[str] = "phase:complete"
    phase_id: str
    """Id of the phase."""
    phase_name: str
    """Name of the phase."""
    summary: str = ""
    """What the phase produced, in the agent's words."""


class ExecutionCompleteData(EventData):
    TYPE: ClassVar[str] = "execution:complete"
    result: str
    """The run's final answer."""
    duration: float
    """Wall time of the run, in milliseconds."""
    tokens_used: Usage
    """Token totals for the run."""
    cost_usd: float | None = None
    """Estimated cost in US dollars, when known."""


class ExecutionErrorData(EventData):
    TYPE: ClassVar[str] = "execution:error"
    error: ErrorInfo
    """What went wrong."""
    stack: str | None = None
    """A traceback for developers, or ``None``. Never contains a credential."""


# --- payloads: additions -------------------------------------------------------------------


class ThinkingDeltaData(EventData):
    TYPE: ClassVar[str] = "thinking:delta"
    step_id: str
    """The thinking step this piece belongs to."""
    delta: str
    """The next piece of the thought."""
    phase_id: str | None = None
    """The phase of the step."""


class TextDeltaData(EventData):
    TYPE: ClassVar[str] = "text:delta"
    step_id: str
    """The message this piece belongs to."""
    delta: str
    """The next piece of text."""
    phase_id: str | None = None
    """The phase of the message."""


class TextData(EventData):
    TYPE: ClassVar[str] = "text"
    step_id: str
    """Id of the message; its ``text:delta`` pieces carry the same id."""
    text: str
    """The whole assistant text block."""
    phase_id: str | None = None
    """The phase of the message."""


class UsageData(Usage, EventData):
    TYPE: ClassVar[str] = "usage"


class ModelRetryData(EventData):
    TYPE: ClassVar[str] = "model:retry"
    attempt: int
    """The attempt that failed, from 1."""
    reason: str
    """Why it failed, e.g. ``529 overloaded_error`` or ``connection dropped mid-stream``."""
    delay_ms: float
    """How long the run waits before the next attempt, in milliseconds."""


class ExecutionCancelledData(EventData):
    TYPE: ClassVar[str] = "execution:cancelled"
    reason: str
    """Who or what cancelled the run."""
    duration: float
    """Wall time of the run until it was cancelled, in milliseconds."""


# --- payloads: a person taking part (version 2) ------------------------------------------


class ExecutionPausedData(EventData):
    TYPE: ClassVar[str] = "execution:paused"
    reason: Literal["user", "breakpoint"]
    """``user``: someone paused (or stepped) the run; ``breakpoint``: one of its breakpoints."""
    before: Literal["model", "tool"]
    """What the run waits in front of: its next model call, or the tool call ``toolUseId``."""
    tool_use_id: str | None = None
    """The tool call it waits before, when ``before`` is ``tool``."""


class ExecutionResumedData(EventData):
    TYPE: ClassVar[str] = "execution:resumed"
    by: str | None = None
    """Who resumed it (a user name on a server; ``None`` in a notebook of one's own)."""
    step: bool = False
    """True: the run pauses again at its next turn boundary."""


class ToolApprovalData(EventData):
    TYPE: ClassVar[str] = "tool:approval"
    tool_use_id: str
    """The waiting call, as in its ``tool:start``."""
    tool_name: str
    """Name of the tool."""
    params: dict[str, Any]
    """The input the model gave the tool."""
    phase_id: str | None = None
    """The phase the call belongs to."""


class ToolDecisionData(EventData):
    TYPE: ClassVar[str] = "tool:decision"
    tool_use_id: str
    """The call decided on."""
    decision: Literal["approve", "edit", "deny"]
    """``approve``: it runs; ``edit``: it runs with ``params``; ``deny``: it does not run."""
    params: dict[str, Any] | None = None
    """The input it runs with after an ``edit``."""
    note: str | None = None
    """What the person said with the decision; a denial quotes it to the model."""
    by: str | None = None
    """Who decided."""


class UserMessageData(EventData):
    TYPE: ClassVar[str] = "user:message"
    text: str
    """The message; the model sees it as a user turn at the next turn boundary."""
    by: str | None = None
    """Who wrote it."""
    phase_id: str | None = None
    """The phase the run was in when it was given."""


class ModelResponseData(EventData):
    TYPE: ClassVar[str] = "model:response"
    phase_id: str | None = None
    """The phase the call belongs to (``None`` for the plan, the final answer and strategy ``react``)."""
    iteration: int
    """The call's number within its phase (or loop), from 1."""
    model: str
    """The model that answered, as the API named it."""
    content: list[dict[str, Any]]
    """The API's content blocks exactly as they go back to it: thinking with its ``signature``,
    ``redacted_thinking`` with its ``data``, text, tool calls."""
    stop_reason: str | None = None
    """Why the model stopped: ``end_turn``, ``tool_use``, ``max_tokens``, ``pause_turn``, …"""
    usage: Usage
    """This call's tokens (not the run's running totals)."""


class ToolResultEdit(_Wire):
    """A tool call's result replaced in a fork, as the model will see it."""

    tool_use_id: str
    result: Any


class ForkEdits(_Wire):
    """What a fork changes at its fork point; every part optional, and left out on the wire when absent."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}

    tool_result: ToolResultEdit | None = None
    """Replaces the result of one tool call of the copied prefix."""
    message: str | None = None
    """A person's message added at the fork point, as a user turn."""
    model: str | None = None
    """The model asked from the fork point on, when it differs from the parent's."""
    options: dict[str, Any] | None = None
    """Options changed from the fork point on."""


class RunForkedData(EventData):
    TYPE: ClassVar[str] = "run:forked"
    parent_id: str
    """The run this one was forked from."""
    at: int
    """The last event copied from the parent (the end of its last fully ended turn at the fork point)."""
    edits: ForkEdits = ForkEdits()
    """What the fork changed."""


class RunResumedData(EventData):
    """A worker took over a run whose worker stopped (``workbench worker``, Redis): it closed what the
    stopped worker left open, walked through the run again up to event ``at`` with the recorded
    answers (asking the model nothing for it), and goes on live from there."""

    TYPE: ClassVar[str] = "run:resumed"
    attempt: int
    """Which execution of the run this is: 2 for the first takeover."""
    at: int
    """The last event of the last model turn fully ended before the takeover: the run goes on from there."""
    worker: str
    """The worker that took the run over."""
