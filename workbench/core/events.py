"""The events of a run: one typed class per event type of the wire contract.

Every event is an envelope ``{id, runId, type, ts, data}``. Each event class fixes
``type`` to a ``Literal`` tag and types ``data`` with its own payload class; the
union of all of them, discriminated on ``type``, is the only way persisted events
are read back (:func:`parse_event`). Field names are snake_case in Python and
camelCase on the wire; every ``duration`` is in milliseconds.

Readers skip event types they do not know (:func:`parse_event` returns ``None``),
so a newer writer never breaks an older reader.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

__all__ = [
    "AnyEvent",
    "Event",
    "EventData",
    "EVENT_TYPES",
    "TERMINAL_TYPES",
    "Usage",
    "PlanPhase",
    "Plan",
    "ErrorInfo",
    "UnknownEvent",
    "make_event",
    "trusted_event",
    "trusted_delta",
    "parse_event",
    "event_from_dict",
    "utc_timestamp",
    # ...and each event class with its payload class, added from _EVENT_CLASSES below.
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


_Delta = TypeVar("_Delta", "ThinkingDeltaData", "TextDeltaData")


class MessageData(EventData):
    TYPE: ClassVar[str] = "message"
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


# --- envelopes ----------------------------------------------------------------------------


class Event(_Wire):
    """The envelope every event travels in."""

    id: int
    """Sequence number within the run: 1, 2, 3, … with no gaps."""
    run_id: str
    """The run's id."""
    type: str
    """The event type; fixed by each subclass."""
    ts: str
    """UTC timestamp, ISO 8601 with milliseconds."""
    data: EventData
    """The payload."""

    def to_json(self) -> str:
        """The envelope as one line of compact JSON, camelCase."""
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict, camelCase."""
        return self.model_dump(mode="json")


class ExecutionStarted(Event):
    """The run begins."""

    type: Literal["execution:started"] = "execution:started"
    data: ExecutionStartedData


class PlanCreated(Event):
    """The agent made its plan."""

    type: Literal["plan:created"] = "plan:created"
    data: PlanCreatedData


class PhaseStart(Event):
    """A phase starts."""

    type: Literal["phase:start"] = "phase:start"
    data: PhaseStartData


class Thinking(Event):
    """One whole thinking step."""

    type: Literal["thinking"] = "thinking"
    data: ThinkingData


class ToolStart(Event):
    """A tool is about to run."""

    type: Literal["tool:start"] = "tool:start"
    data: ToolStartData


class ToolComplete(Event):
    """A tool ran (or failed)."""

    type: Literal["tool:complete"] = "tool:complete"
    data: ToolCompleteData


class PhaseComplete(Event):
    """A phase ended."""

    type: Literal["phase:complete"] = "phase:complete"
    data: PhaseCompleteData


class ExecutionComplete(Event):
    """The run succeeded. Terminal."""

    type: Literal["execution:complete"] = "execution:complete"
    data: ExecutionCompleteData


class ExecutionError(Event):
    """The run failed. Terminal."""

    type: Literal["execution:error"] = "execution:error"
    data: ExecutionErrorData


class ThinkingDelta(Event):
    """A piece of a thinking step as it streams."""

    type: Literal["thinking:delta"] = "thinking:delta"
    data: ThinkingDeltaData


class TextDelta(Event):
    """A piece of assistant text as it streams."""

    type: Literal["text:delta"] = "text:delta"
    data: TextDeltaData


class Message(Event):
    """One whole assistant text block."""

    type: Literal["message"] = "message"
    data: MessageData


class UsageEvent(Event):
    """Running token totals, after each model call."""

    type: Literal["usage"] = "usage"
    data: UsageData


class ModelRetry(Event):
    """A model call failed and is tried again."""

    type: Literal["model:retry"] = "model:retry"
    data: ModelRetryData


class ExecutionCancelled(Event):
    """The run was cancelled. Terminal."""

    type: Literal["execution:cancelled"] = "execution:cancelled"
    data: ExecutionCancelledData


class UnknownEvent(Event):
    """An event of a type this reader does not know: kept as it came, ignored by the reducer.

    Keeping it (rather than dropping it) preserves the ids 1..n of a log written by a newer
    workbench, so resuming and re-saving lose nothing.
    """

    data: dict[str, Any]  # type: ignore[assignment]  # an unknown payload stays a plain dict


_EVENT_CLASSES: tuple[type[Event], ...] = (
    ExecutionStarted,
    PlanCreated,
    PhaseStart,
    Thinking,
    ToolStart,
    ToolComplete,
    PhaseComplete,
    ExecutionComplete,
    ExecutionError,
    ThinkingDelta,
    TextDelta,
    Message,
    UsageEvent,
    ModelRetry,
    ExecutionCancelled,
)
"""Every event type of the contract, once: the union, :data:`EVENT_TYPES` and ``__all__`` come from it."""

AnyEvent = Annotated[Union[_EVENT_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]
"""Every event type of the contract, discriminated on ``type``."""

_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)

EVENT_TYPES: dict[str, type[Event]] = {cls.model_fields["type"].default: cls for cls in _EVENT_CLASSES}
"""Event class by its wire type."""

TERMINAL_TYPES = frozenset({"execution:complete", "execution:error", "execution:cancelled"})
"""The types that end a run; exactly one of them is a run's last event."""

UsageData.__doc__ = "Running token totals for the run."
_ENVELOPE_BY_DATA: dict[type[EventData], type[Event]] = {
    # pydantic types an annotation as `type[Any] | None`; each envelope's `data` is one EventData class.
    cls.model_fields["data"].annotation: cls for cls in _EVENT_CLASSES  # type: ignore[misc]
}
__all__ += [cls.__name__ for data, envelope in _ENVELOPE_BY_DATA.items() for cls in (envelope, data)]


_last_second: tuple[int, str] = (0, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(0)))
"""The last whole second and its text: every event of a busy second shares it."""
_last_milli: tuple[int, str] = (0, "1970-01-01T00:00:00.000Z")
"""The last millisecond and its timestamp: the events of one millisecond share the string."""
_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))
"""The end of a timestamp for each millisecond (one lookup, not a formatting)."""


def utc_timestamp(now: float | None = None) -> str:
    """``now`` (seconds since the epoch, default: the present) as ISO 8601 UTC with milliseconds."""
    global _last_second, _last_milli
    milli = time.time_ns() // 1_000_000 if now is None else int(now * 1000)
    last = _last_milli  # one read each: another thread may replace them meanwhile
    if last[0] == milli:
        return last[1]
    seconds, millis = divmod(milli, 1000)
    second = _last_second
    if second[0] != seconds:
        second = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    text = second[1] + _MILLIS[millis]
    _last_milli = (milli, text)
    return text


def make_event(data: EventData, *, id: int, run_id: str, ts: str | None = None) -> Event:
    """Wrap a payload in its envelope."""
    cls = _ENVELOPE_BY_DATA[type(data)]
    # Each envelope class gives `type` its default; only the base Event, as typed here, lacks one.
    return cls(id=id, run_id=run_id, ts=ts or utc_timestamp(), data=data)  # type: ignore[call-arg]


_TYPE_OF: dict[type[Event], str] = {cls: type_ for type_, cls in EVENT_TYPES.items()}
# The fields set at construction (``model_fields_set``) of every trusted envelope and delta: one set
# each, shared, as they are the same for all and never changed (the models are frozen, and pydantic
# copies the set before changing a copy's). A set per event would be two more objects of 216 bytes.
_ENVELOPE_FIELDS = {"id", "run_id", "ts", "data"}  # ``type`` keeps its default
_DELTA_FIELDS = {"step_id", "delta", "phase_id"}
_set_dict = object.__setattr__  # the slots validation fills; a frozen model refuses attribute assignment
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__

_Model = TypeVar("_Model", bound=_Wire)


def _filled(cls: type[_Model], fields: dict[str, Any], fields_set: set[str]) -> _Model:
    """A ``cls`` filled as validation fills it, from ``fields`` already of their types and in
    declared order (the order of the JSON), ``fields_set`` being those given explicitly."""
    instance = cls.__new__(cls)
    _set_dict(instance, "__dict__", fields)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, {})
    _set_private(instance, None)
    return instance


def trusted_event(data: EventData, *, id: int, run_id: str, ts: str | None = None) -> Event:
    """:func:`make_event` without validating the envelope, for a log stamping its own events.

    ``data`` is a payload instance and the id, run id and timestamp are the log's own, so there
    is nothing to check. The event equals the validated one and serializes to the same bytes
    (tests/test_events.py), for about half the cost. Events read from outside are validated
    (:func:`event_from_dict`).
    """
    cls = _ENVELOPE_BY_DATA[type(data)]
    fields = {"id": id, "run_id": run_id, "type": _TYPE_OF[cls], "ts": ts or utc_timestamp(), "data": data}
    return _filled(cls, fields, _ENVELOPE_FIELDS)


def trusted_delta(cls: type[_Delta], step_id: str, delta: str, phase_id: str | None) -> _Delta:
    """``cls(step_id=step_id, delta=delta, phase_id=phase_id)`` without validation, for a piece of a
    stream the engine has just cut: its own ids and a ``str`` from its scrubber. The payload of
    nearly every event of a run; it equals the validated one, byte for byte when serialized."""
    return _filled(cls, {"step_id": step_id, "delta": delta, "phase_id": phase_id}, _DELTA_FIELDS)


def event_from_dict(obj: dict[str, Any], *, keep_unknown: bool = False) -> Event | None:
    """Validate one envelope given as a dict.

    A type this reader does not know gives ``None``, or with ``keep_unknown`` an
    :class:`UnknownEvent`. Raises :class:`pydantic.ValidationError` for bad fields.
    """
    if obj.get("type") not in EVENT_TYPES:
        if not isinstance(obj.get("type"), str):
            raise ValueError("an event needs a string 'type'")
        return UnknownEvent.model_validate(obj) if keep_unknown else None
    return _ADAPTER.validate_python(obj)


def parse_event(line: str | bytes, *, keep_unknown: bool = False) -> Event | None:
    """Validate one envelope given as JSON text (unknown types as in :func:`event_from_dict`).

    Raises :class:`ValueError` (``json.JSONDecodeError`` or ``pydantic.ValidationError``) for
    malformed input.
    """
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("an event must be a JSON object")
    return event_from_dict(obj, keep_unknown=keep_unknown)
