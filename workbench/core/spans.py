"""A run's log as the spans of one OpenTelemetry trace, by the GenAI semantic conventions.

Pure: events in, planned spans out, with no OpenTelemetry import (:mod:`workbench.core.otel`
turns the plan into the SDK's spans and exports them). Every time comes from the events' own
timestamps, so a run file plans to exactly the trace its live run sent.

The tree::

    invoke_agent workbench            the run (INTERNAL): status, totals, waits as span events
      chat {model}                    a model call outside any phase: planning, the final answer
      phase {name}                    each phase that started (INTERNAL)
        chat {model}                  its model calls (CLIENT), retries as span events
        execute_tool {tool}           its tool calls (INTERNAL), approvals and decisions as span events

A model call's times are those :mod:`workbench.core.progress` derives (``RunState.model_calls``);
one that was retried starts with its first attempt, as the conventions ask of a span that covers
its retries. A call still under way when the run ended (output streamed, or a retry waited for,
and no ``usage`` yet) is a chat span ending with the run, in error.

Message, thinking and tool content (``gen_ai.input.messages``, ``gen_ai.system_instructions``,
``gen_ai.output.messages``, tool arguments and results, the plan's goal, phase summaries, people's
messages) is planned only with ``capture_content``: the conventions leave it off by default. A
model call's input comes from ``requests`` (the agent rebuilds them from the log).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.core import events as ev
from workbench.core.progress import BOUNDARY_TYPES, OUTPUT_TYPES, ts_ms
from workbench.core.redact import redact
from workbench.core.reducer import ModelCall, RunState, fold

__all__ = ["AGENT_NAME", "GENAI_SEMCONV", "PROVIDER", "PlannedSpan", "SpanEvent", "TracePlan", "plan_trace"]

GENAI_SEMCONV = "1.41.1+genai"
"""The GenAI conventions these spans follow: those of OpenTelemetry semantic conventions 1.41.1 as
carried on in the open-telemetry/semantic-conventions-genai repository (no release of its own yet;
read in December 2026): ``gen_ai.provider.name``, cache tokens as ``gen_ai.usage.cache_read.input_tokens``
and ``gen_ai.usage.cache_creation.input_tokens``, both included in ``gen_ai.usage.input_tokens`` (as
that repository says of Anthropic), and messages as role and parts, thinking as ``reasoning`` parts."""
AGENT_NAME = "workbench"
PROVIDER = "anthropic"
"""``gen_ai.provider.name``: every model call goes through the Anthropic SDK (the simulator answers it too)."""

AttributeValue = str | bool | int | float | Sequence[str]
SpanKind = Literal["internal", "client"]


@dataclass
class SpanEvent:
    name: str
    ts: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass
class PlannedSpan:
    key: str
    """Unique in the run and the same in every export of it (``run``, ``phase:{id}``, ``chat:{event id}``,
    ``tool:{toolUseId}``): what a deterministic span id is derived from."""
    name: str
    kind: SpanKind
    start: str
    end: str
    parent: str | None
    """The parent's ``key``; ``None`` for the run's span."""
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    error: str | None = None
    """The status description of a span that ended in error (``error.type`` says which); ``None``: unset."""
    order: int = 0
    """The id of the event it began with: what orders spans that start in the same millisecond."""

    @property
    def start_ms(self) -> int:
        return ts_ms(self.start)

    @property
    def end_ms(self) -> int:
        return max(ts_ms(self.end), self.start_ms)


@dataclass
class TracePlan:
    run_id: str
    parent_run_id: str | None
    spans: list[PlannedSpan]
    """The run's span first, then the others in the order they started."""


def plan_trace(events: Sequence[ev.Event], *, capture_content: bool = False,
               requests: Sequence[dict[str, Any]] = ()) -> TracePlan:
    """The spans of the run whose log is ``events`` (a whole run, or one still going: its open spans end at its last event).

    ``requests``: what each model call was asked (its ``system`` and ``messages``), in order, as
    ``workbench.agent.conversation`` rebuilds them from the log; with content capture on, each
    chat span carries its call's input."""
    state = fold(events)
    return _Planner(state, events, capture_content, requests).plan()


# --- the walk ------------------------------------------------------------------------------


@dataclass
class _Call:
    """One model call as the walk sees it: its ``usage`` event, its answer and the retries before it."""

    usage_event: ev.Event | None = None
    response: ev.ModelResponseData | None = None
    retries: list[ev.Event] = field(default_factory=list)
    first_attempt_ts: str | None = None
    """Where a retried call's first attempt began: the last boundary before its first retry."""


class _Planner:
    def __init__(self, state: RunState, events: Sequence[ev.Event], capture: bool,
                 requests: Sequence[dict[str, Any]] = ()) -> None:
        self.state, self.events, self.capture, self.requests = state, events, capture, requests
        self.spans: dict[str, PlannedSpan] = {}
        self.first_ts = events[0].ts if events else ""
        self.last_ts = events[-1].ts if events else ""
        self.terminal = events[-1] if events and events[-1].type in ev.TERMINAL_TYPES else None

    def plan(self) -> TracePlan:
        root = self._root()
        self.spans[root.key] = root
        phase_starts = {e.data.phase_id: e.id for e in self.events if isinstance(e.data, ev.PhaseStartData)}
        for phase in self.state.phases.values():
            if phase.started_at is not None:
                self._phase(phase.id, phase_starts.get(phase.id, 0))
        calls, open_call = self._walk()
        for index, (call, timing) in enumerate(zip(calls, self.state.model_calls)):
            self._chat(call, timing, self.requests[index] if index < len(self.requests) else None)
        if open_call is not None:
            self._open_chat(open_call)
        ordered = [root] + sorted((s for s in self.spans.values() if s is not root), key=lambda s: (s.start_ms, s.order))
        return TracePlan(self.state.run_id or (self.events[0].run_id if self.events else ""),
                         self._parent_run_id(), ordered)

    def _parent_run_id(self) -> str | None:
        forked = next((e for e in self.events if isinstance(e.data, ev.RunForkedData)), None)
        return forked.data.parent_id if forked is not None and isinstance(forked.data, ev.RunForkedData) else None

    def _walk(self) -> tuple[list[_Call], _Call | None]:
        """Model calls, tool calls and the run's own events, in one pass over the log."""
        calls: list[_Call] = []
        pending = _Call()
        boundary = self.first_ts
        streamed = False
        for event in self.events:
            data = event.data
            if event.type in OUTPUT_TYPES:
                streamed = True
            match data:
                case ev.UsageData():
                    pending.usage_event = event
                    calls.append(pending)
                    pending, streamed = _Call(), False
                case ev.ModelResponseData():
                    owner = calls[-1] if calls and calls[-1].response is None else pending
                    owner.response = data
                case ev.ModelRetryData():
                    if not pending.retries:
                        pending.first_attempt_ts = boundary
                    pending.retries.append(event)
                    streamed = False
                case ev.ToolStartData():
                    self._tool_start(event, data)
                case ev.ToolCompleteData():
                    self._tool_complete(event, data)
                case ev.ToolApprovalData():
                    self._tool_event(data.tool_use_id, SpanEvent("tool:approval", event.ts))
                case ev.ToolDecisionData():
                    attributes: dict[str, AttributeValue] = {"workbench.decision": data.decision}
                    if self.capture and data.note:
                        attributes["workbench.decision.note"] = redact(data.note)
                    if self.capture and data.params is not None:
                        attributes["gen_ai.tool.call.arguments"] = _json(data.params)
                    self._tool_event(data.tool_use_id, SpanEvent("tool:decision", event.ts, attributes))
                case _:
                    self._run_event(event)
            if event.type in BOUNDARY_TYPES and event.type != "model:retry":
                boundary = event.ts
        self._close_open_tools()
        self._mark_stopped_tools()
        under_way = self.terminal is not None and (streamed or pending.retries)
        if under_way and pending.first_attempt_ts is None:
            pending.first_attempt_ts = boundary
        return calls, pending if under_way else None

    # --- the run ---------------------------------------------------------------------------

    def _root(self) -> PlannedSpan:
        state = self.state
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.agent.name": AGENT_NAME,
            "gen_ai.conversation.id": state.run_id,
            "gen_ai.request.model": state.model,
            **_usage_attributes(state.tokens),
            "workbench.run.id": state.run_id,
            "workbench.run.strategy": state.strategy,
            "workbench.run.status": state.status,
            "workbench.run.waited_ms": state.waited,
            "workbench.run.model_calls": len(state.model_calls),
            "workbench.run.tool_calls": len(state.tool_calls),
            "workbench.run.retries": len(state.retries),
        }
        if state.cost_usd is not None:
            attributes["workbench.run.cost_usd"] = state.cost_usd
        if self.capture:
            attributes["gen_ai.input.messages"] = _json([{"role": "user", "parts": [_text(state.task)]}])
            if state.result is not None:
                attributes["gen_ai.output.messages"] = _json(
                    [{"role": "assistant", "parts": [_text(state.result)], "finish_reason": "stop"}])
        span = PlannedSpan("run", f"invoke_agent {AGENT_NAME}", "internal", state.started_at or self.first_ts,
                           state.ended_at or self.last_ts, None, attributes)
        self._end_status(span, state.status)
        return span

    def _end_status(self, span: PlannedSpan, status: str) -> None:
        """A span that did not complete: in error, ``error.type`` saying why."""
        state = self.state
        if status == "error" and state.error is not None:
            span.attributes["error.type"] = state.error.type
            span.error = redact(state.error.message)
        elif status in ("cancelled", "interrupted"):
            span.attributes["error.type"] = status
            reason = state.cancel_reason or (state.error.message if state.error is not None else status)
            span.error = redact(reason)

    def _run_event(self, event: ev.Event) -> None:
        """Events of the run itself, as events of its span."""
        data, root = event.data, self.spans["run"]
        match data:
            case ev.PlanCreatedData():
                attributes: dict[str, AttributeValue] = {"workbench.plan.phases": len(data.plan.phases)}
                if self.capture:
                    attributes["workbench.plan.goal"] = redact(data.plan.goal)
                root.events.append(SpanEvent("plan:created", event.ts, attributes))
            case ev.ExecutionPausedData():
                paused: dict[str, AttributeValue] = {"workbench.pause.reason": data.reason,
                                                     "workbench.pause.before": data.before}
                if data.tool_use_id:
                    paused["gen_ai.tool.call.id"] = data.tool_use_id
                root.events.append(SpanEvent("execution:paused", event.ts, paused))
            case ev.ExecutionResumedData():
                root.events.append(SpanEvent("execution:resumed", event.ts, {"workbench.resume.step": data.step}))
            case ev.UserMessageData():
                said: dict[str, AttributeValue] = {}
                if self.capture:
                    said["gen_ai.input.messages"] = _json([{"role": "user", "parts": [_text(data.text)]}])
                root.events.append(SpanEvent("user:message", event.ts, said))
            case ev.RunForkedData():
                root.attributes["workbench.run.parent_id"] = data.parent_id
                root.attributes["workbench.run.forked_at"] = data.at
                root.events.append(SpanEvent("run:forked", event.ts, {"workbench.run.parent_id": data.parent_id,
                                                                      "workbench.run.forked_at": data.at}))
            case ev.ExecutionErrorData():
                failed: dict[str, AttributeValue] = {"exception.type": data.error.type,
                                                     "exception.message": redact(data.error.message)}
                if data.stack:
                    failed["exception.stacktrace"] = redact(data.stack)
                root.events.append(SpanEvent("exception", event.ts, failed))
            case ev.ExecutionCancelledData():
                root.events.append(SpanEvent("execution:cancelled", event.ts,
                                             {"workbench.cancel.reason": redact(data.reason)}))
            case _:
                pass

    # --- phases ----------------------------------------------------------------------------

    def _phase(self, phase_id: str, order: int) -> None:
        phase = self.state.phases[phase_id]
        attributes: dict[str, AttributeValue] = {
            "workbench.phase.id": phase.id, "workbench.phase.name": redact(phase.name),
            "workbench.phase.index": phase.index, "workbench.phase.status": phase.status,
            **_usage_attributes(phase.tokens),
        }
        if self.capture and phase.summary:
            attributes["workbench.phase.summary"] = redact(phase.summary)
        span = PlannedSpan(f"phase:{phase.id}", f"phase {redact(phase.name)}", "internal", phase.started_at or self.first_ts,
                           phase.ended_at or self.last_ts, "run", attributes, order=order)
        if phase.status == "failed":
            self._end_status(span, "error" if self.state.status == "error" else self.state.status)
        elif phase.status == "cancelled":
            self._end_status(span, "cancelled")
        self.spans[span.key] = span

    def _parent_of(self, phase_id: str | None) -> str:
        key = f"phase:{phase_id}"
        return key if phase_id is not None and key in self.spans else "run"

    # --- model calls -----------------------------------------------------------------------

    def _chat_span(self, key: str, start: str, end: str, phase_id: str | None, response: ev.ModelResponseData | None,
                   retries: list[ev.Event], order: int) -> PlannedSpan:
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": self.state.model,
            "gen_ai.request.stream": True,
            "gen_ai.conversation.id": self.state.run_id,
        }
        if response is not None:
            attributes["gen_ai.response.model"] = response.model
            if response.stop_reason:
                attributes["gen_ai.response.finish_reasons"] = [response.stop_reason]
            if self.capture:
                attributes["gen_ai.output.messages"] = _json([_output_message(response)])
        span = PlannedSpan(key, f"chat {self.state.model}", "client", start, end, self._parent_of(phase_id), attributes,
                           order=order)
        for retry in retries:
            if isinstance(retry.data, ev.ModelRetryData):
                span.events.append(SpanEvent("model:retry", retry.ts, {
                    "workbench.retry.attempt": retry.data.attempt,
                    "workbench.retry.reason": redact(retry.data.reason),
                    "workbench.retry.delay_ms": retry.data.delay_ms,
                }))
        return span

    def _chat(self, call: _Call, timing: ModelCall, request: dict[str, Any] | None) -> None:
        assert call.usage_event is not None
        start = call.first_attempt_ts if call.retries and call.first_attempt_ts else timing.started_at
        span = self._chat_span(f"chat:{call.usage_event.id}", start, call.usage_event.ts, timing.phase_id,
                               call.response, call.retries, call.usage_event.id)
        span.attributes.update(_usage_attributes(timing.tokens))
        if self.capture and request is not None:
            if request.get("system"):
                span.attributes["gen_ai.system_instructions"] = _json([_text(str(request["system"]))])
            span.attributes["gen_ai.input.messages"] = _json([_input_message(m) for m in request.get("messages", [])])
        if timing.ttft is not None:
            span.attributes["gen_ai.response.time_to_first_chunk"] = timing.ttft / 1000
        self.spans[span.key] = span

    def _open_chat(self, call: _Call) -> None:
        """The model call under way when the run ended."""
        assert self.terminal is not None
        phase_id = self.terminal_phase()
        span = self._chat_span(f"chat:open:{self.terminal.id}", call.first_attempt_ts or self.last_ts,
                               self.terminal.ts, phase_id, None, call.retries, self.terminal.id)
        self._end_status(span, self.state.status)
        self.spans[span.key] = span

    def terminal_phase(self) -> str | None:
        """The phase that was running when the run ended, if one was."""
        running = [p for p in self.state.phases.values() if p.ended_at == self.last_ts and p.status != "complete"]
        return running[0].id if running else None

    # --- tool calls ------------------------------------------------------------------------

    def _tool_start(self, event: ev.Event, data: ev.ToolStartData) -> None:
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": data.tool_name,
            "gen_ai.tool.call.id": data.tool_use_id,
            "gen_ai.tool.type": "function",
        }
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = _json(data.params)
        key = f"tool:{data.tool_use_id}"
        self.spans[key] = PlannedSpan(key, f"execute_tool {data.tool_name}", "internal", event.ts, "",
                                      self._parent_of(data.phase_id), attributes, order=event.id)

    def _tool_complete(self, event: ev.Event, data: ev.ToolCompleteData) -> None:
        span = self.spans.get(f"tool:{data.tool_use_id}")
        if span is None:  # a complete without its start (a broken log): nothing to end
            return
        span.end = event.ts
        if self.capture:
            span.attributes["gen_ai.tool.call.result"] = data.result if isinstance(data.result, str) else _json(data.result)
            span.attributes["gen_ai.tool.call.result"] = redact(str(span.attributes["gen_ai.tool.call.result"]))
        if data.is_error:
            span.attributes["error.type"] = "tool_error"
            span.error = "the tool call failed" if not self.capture else _short(str(span.attributes["gen_ai.tool.call.result"]))

    def _tool_event(self, tool_use_id: str, event: SpanEvent) -> None:
        span = self.spans.get(f"tool:{tool_use_id}")
        if span is not None:
            span.events.append(event)

    def _mark_stopped_tools(self) -> None:
        """Tool calls a cancellation or an interruption stopped: their ``tool:complete`` events come right
        before the terminal event, and they say why the run's end gave, not that the tool failed."""
        if self.terminal is None or self.state.status not in ("cancelled", "interrupted"):
            return
        for event in reversed(self.events[:-1]):
            if not isinstance(event.data, ev.ToolCompleteData):
                break
            span = self.spans.get(f"tool:{event.data.tool_use_id}")
            if span is not None and event.data.is_error:
                self._end_status(span, self.state.status)

    def _close_open_tools(self) -> None:
        """Tool calls the run's end left without a ``tool:complete``."""
        for span in self.spans.values():
            if span.key.startswith("tool:") and not span.end:
                span.end = self.last_ts
                if self.terminal is not None:
                    self._end_status(span, self.state.status)


# --- content ---------------------------------------------------------------------------------


def _usage_attributes(usage: ev.Usage) -> dict[str, AttributeValue]:
    # Anthropic counts cache reads and writes apart from input_tokens; the conventions' input_tokens includes them.
    return {
        "gen_ai.usage.input_tokens": usage.input + usage.cache_read + usage.cache_write,
        "gen_ai.usage.output_tokens": usage.output,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_write,
    }


def _text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def _output_message(response: ev.ModelResponseData) -> dict[str, Any]:
    """A model's answer as the conventions' output message: thinking as ``reasoning`` parts."""
    parts: list[dict[str, Any]] = []
    for block in response.content:
        kind = block.get("type")
        if kind == "thinking":
            parts.append({"type": "reasoning", "content": str(block.get("thinking", ""))})
        elif kind == "text":
            parts.append(_text(str(block.get("text", ""))))
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input")})
        # redacted_thinking carries only encrypted data: nothing a reader could use
    return {"role": "assistant", "parts": parts, "finish_reason": response.stop_reason or "error"}


def _input_message(message: dict[str, Any]) -> dict[str, Any]:
    """One message of a request as the conventions' input message: thinking as ``reasoning``, tool
    calls and their results as ``tool_call`` and ``tool_call_response`` parts."""
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            parts.append(_text(str(block.get("text", ""))))
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": str(block.get("thinking", ""))})
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input")})
        elif kind == "tool_result":
            parts.append({"type": "tool_call_response", "id": block.get("tool_use_id"), "response": block.get("content")})
    return {"role": message.get("role", "user"), "parts": parts}


def _json(value: Any) -> str:
    """Structured content as the JSON string the conventions allow on span attributes, credentials redacted."""
    return redact(json.dumps(value, ensure_ascii=False, default=str))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
