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
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, Field, TypeAdapter

__all__ = [
    "AnyEvent",
    "Event",
    "EVENT_TYPES",
    "TERMINAL_TYPES",
    "V1_RENAMED",
    "UnknownEvent",
    "make_event",
    "trusted_event",
    "trusted_delta",
    "parse_event",
    "event_from_dict",
    "utc_timestamp",
    # ...and each event class, added from _EVENT_CLASSES below, and the payloads.
]


from workbench.core import payloads as _payloads
from workbench.core.payloads import *  # the payloads are part of this module's names (ev.ThinkingData)
from workbench.core.payloads import _Wire

__all__ += _payloads.__all__

_Delta = TypeVar("_Delta", ThinkingDeltaData, TextDeltaData)


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


class Text(Event):
    """One whole assistant text block (version 1 of the contract called the type ``message``)."""

    type: Literal["text"] = "text"
    data: TextData


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


class ExecutionPaused(Event):
    """The run stopped at a turn boundary and waits."""

    type: Literal["execution:paused"] = "execution:paused"
    data: ExecutionPausedData


class ExecutionResumed(Event):
    """The run goes on after a pause."""

    type: Literal["execution:resumed"] = "execution:resumed"
    data: ExecutionResumedData


class ToolApproval(Event):
    """A tool call waits for a person's decision."""

    type: Literal["tool:approval"] = "tool:approval"
    data: ToolApprovalData


class ToolDecision(Event):
    """The decision on a waiting tool call."""

    type: Literal["tool:decision"] = "tool:decision"
    data: ToolDecisionData


class UserMessage(Event):
    """A person's message to the agent."""

    type: Literal["user:message"] = "user:message"
    data: UserMessageData


class ModelResponse(Event):
    """The whole answer of one model call, as the API returned it."""

    type: Literal["model:response"] = "model:response"
    data: ModelResponseData


class RunForked(Event):
    """The first event after a forked run's copied prefix."""

    type: Literal["run:forked"] = "run:forked"
    data: RunForkedData


class RunResumed(Event):
    """A worker took over the run after its worker stopped, and goes on from the last fully ended turn."""

    type: Literal["run:resumed"] = "run:resumed"
    data: RunResumedData


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
    Text,
    UsageEvent,
    ModelRetry,
    ExecutionCancelled,
    ExecutionPaused,
    ExecutionResumed,
    ToolApproval,
    ToolDecision,
    UserMessage,
    ModelResponse,
    RunForked,
    RunResumed,
)
"""Every event type of the contract, once: the union, :data:`EVENT_TYPES` and ``__all__`` come from it."""

AnyEvent = Annotated[Union[_EVENT_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]
"""Every event type of the contract, discriminated on ``type``."""

_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)

EVENT_TYPES: dict[str, type[Event]] = {cls.model_fields["type"].default: cls for cls in _EVENT_CLASSES}
"""Event class by its wire type."""

V1_RENAMED = {"message": "text"}
"""Event types version 1 of the contract named otherwise: read under their new names."""

TERMINAL_TYPES = frozenset({"execution:complete", "execution:error", "execution:cancelled"})
"""The types that end a run; exactly one of them is a run's last event."""

UsageData.__doc__ = "Running token totals for the run."
_ENVELOPE_BY_DATA: dict[type[EventData], type[Event]] = {
    # pydantic types an annotation as `type[Any] | None`; each envelope's `data` is one EventData class.
    cls.model_fields["data"].annotation: cls for cls in _EVENT_CLASSES  # type: ignore[misc]
}
__all__ += [envelope.__name__ for envelope in _EVENT_CLASSES]


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
    :class:`UnknownEvent`. Version 1's ``message`` is read as ``text``, its new name (contract
    section 2), from run files, the store and streams alike. Raises
    :class:`pydantic.ValidationError` for bad fields.
    """
    if obj.get("type") in V1_RENAMED:
        obj = {**obj, "type": V1_RENAMED[obj["type"]]}
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
