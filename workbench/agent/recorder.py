"""Recording an agent of one's own: the same events, log and widget as a workbench run.

    with wb.record("Summarise the news") as rec:
        rec.plan("A short summary", ["Fetch", "Summarise"])
        with rec.phase("Fetch"):
            rec.think("The front page has the headlines.")
            with rec.tool("fetch", url="https://example.org") as call:
                call.result = fetch("https://example.org")
        with rec.phase("Summarise") as phase:
            rec.say("Three stories stand out.")
            phase.summary = "Summarised three stories"
        rec.finish("Three stories: …")

An agent that calls the model through the ``anthropic`` SDK logs each whole answer with
``rec.response(message)`` (its ``model:response`` and the running ``usage``), as a workbench run does.

Everything written is checked against the contract as it happens: a tool call always gets
its ``tool:complete``, a phase its ``phase:complete``, and the run exactly one terminal
event — also when the agent's code raises (``execution:error``) or the block is left early.

A person can take part as in any run (``rec.run.pause()``, ``.resume()``, ``.decide()``, ``.say()``,
or the view's buttons): the agent waits where it asks to, at ``rec.checkpoint()`` (before a model
call) and in ``rec.tool(..., approve=True)``. Waiting blocks the agent's thread, so in a notebook
run the agent in a thread of its own, which leaves the kernel free to take the person's clicks.
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from types import TracebackType
from collections.abc import Mapping
from typing import Any, Callable, Iterator, Literal, Sequence

from workbench.core import events as ev
from workbench.core import otel
from workbench.core.handle import Run, new_run_id
from workbench.core.pricing import run_cost
from workbench.core.redact import StreamScrubber, redact
from workbench.agent.controls import check_decision, check_message
from workbench.agent.prompts import denied_result
from workbench.errors import NotWaiting, UnknownToolCall, UserError

__all__ = ["Recorder", "ToolCallRecord", "PhaseRecord", "RecorderControls", "record"]


@dataclass
class ToolCallRecord:
    """A tool call being recorded; set :attr:`result` (and :attr:`is_error`) inside the block."""

    name: str
    params: dict[str, Any]
    """What the call runs with: after an ``edit``, the person's params."""
    tool_use_id: str
    result: Any = None
    is_error: bool = False
    decision: str | None = None
    """``approve``, ``edit`` or ``deny`` for a call made with ``approve=True``."""
    note: str | None = None
    """What the person said with the decision."""

    @property
    def denied(self) -> bool:
        """True when the person denied the call: skip it (its result already says it was denied)."""
        return self.decision == "deny"


@dataclass
class PhaseRecord:
    """A phase being recorded; set :attr:`summary` inside the block."""

    id: str
    name: str
    summary: str = ""
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)


class RecorderControls:
    """A recorded run's controls: the person's calls come from any thread, the agent waits in its own."""

    def __init__(self, emit: Callable[[ev.EventData], None]) -> None:
        self._emit = emit
        self._changed = threading.Condition()
        self._pause_next = False
        self._paused = False
        self._decisions: dict[str, tuple[str, Any, str | None] | None] = {}
        """Calls waiting for approval (None until decided), by toolUseId."""
        self._calls: set[str] = set()
        self._messages: list[str] = []
        self.phase_id: str | None = None
        self.ended = False

    # --- the person's side (Run's Controller) ---------------------------------------------

    def pause(self) -> None:
        with self._changed:
            self._check_going("pause")
            self._pause_next = True

    def resume(self, *, step: bool = False, by: str | None = None) -> None:
        with self._changed:
            self._check_going("resume")
            if not self._paused:
                if self._pause_next:  # asked for, not reached: a resume withdraws it, a step keeps it
                    self._pause_next = step
                    return
                raise NotWaiting("the run is not paused; pause it first (run.pause())")
            self._emit(ev.ExecutionResumedData(by=by, step=step))
            self._paused, self._pause_next = False, step
            self._changed.notify_all()

    def decide(self, tool_use_id: str, decision: Any, params: Any = None, note: Any = None, *, by: str | None = None) -> None:
        with self._changed:
            if tool_use_id not in self._calls:
                raise UnknownToolCall(f"this run has made no tool call {str(tool_use_id)[:64]!r}")
            if tool_use_id not in self._decisions or self._decisions[tool_use_id] is not None:
                raise NotWaiting(f"tool call {tool_use_id} is not waiting for a decision")
            kind, params, note = check_decision(None, decision, params, note)
            self._emit(ev.ToolDecisionData(tool_use_id=tool_use_id, decision=kind, params=params, note=note, by=by))
            self._decisions[tool_use_id] = (kind, params, note)
            self._changed.notify_all()

    def say(self, text: Any, *, by: str | None = None) -> None:
        with self._changed:
            self._check_going("send a message to")
            text = check_message(text)
            self._emit(ev.UserMessageData(text=text, by=by, phase_id=self.phase_id))
            self._messages.append(text)

    # --- the agent's side -----------------------------------------------------------------

    def boundary(self, before: Literal["model", "tool"], tool_use_id: str | None = None) -> None:
        """Wait here while the run is paused (a pause asked for is taken here)."""
        with self._changed:
            if not self._pause_next:
                return
            self._pause_next, self._paused = False, True
            self._emit(ev.ExecutionPausedData(reason="user", before=before, tool_use_id=tool_use_id))
            self._changed.wait_for(lambda: not self._paused or self.ended)

    def approval(self, call: ToolCallRecord, phase_id: str | None) -> tuple[str, Any, str | None]:
        with self._changed:
            self._decisions[call.tool_use_id] = None
            self._emit(ev.ToolApprovalData(tool_use_id=call.tool_use_id, tool_name=call.name, params=call.params,
                                           phase_id=phase_id))
            self._changed.wait_for(lambda: self._decisions[call.tool_use_id] is not None or self.ended)
            decided = self._decisions.pop(call.tool_use_id)
            if decided is None:
                raise UserError("the run ended while the tool call waited for a decision")
            return decided

    def started_call(self, tool_use_id: str) -> None:
        with self._changed:
            self._calls.add(tool_use_id)

    def take_messages(self) -> list[str]:
        with self._changed:
            messages, self._messages = self._messages, []
            return messages

    def end(self) -> None:
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def _check_going(self, what: str) -> None:
        if self.ended:
            raise NotWaiting(f"the run has ended; there is nothing to {what}")


class Recorder:
    """Writes the events of an agent run by hand. Its :attr:`run` shows and saves like any run."""

    def __init__(self, task: str, *, model: str = "custom", strategy: str = "custom") -> None:
        if not isinstance(task, str) or not task.strip():
            raise UserError("record() needs the task as a non-empty string")
        run_id = new_run_id()
        self.run = Run(run_id=run_id, task=task, model=model, strategy=strategy, created_at=ev.utc_timestamp())
        self._started = time.monotonic()
        self._ids = count(1)
        self._phases: dict[str, str] = {}  # name -> id, from the plan
        self._phase: PhaseRecord | None = None
        self._iteration = 0
        self._answers = 0  # model calls answered in the current phase (or outside any), for model:response
        self._usage = ev.Usage()
        self.controls = RecorderControls(self._emit)
        self.run._controller = self.controls
        self._emit(ev.ExecutionStartedData(task=task, started_at=ev.utc_timestamp(), model=model, strategy=strategy))

    # --- what an agent reports -------------------------------------------------------------

    def plan(self, goal: str, phases: Sequence[str | tuple[str, str]]) -> list[str]:
        """Announce the plan; ``phases`` are names or ``(name, description)``. Returns the phase ids."""
        items = [(p, "") if isinstance(p, str) else (p[0], p[1]) for p in phases]
        plan = ev.Plan(goal=goal, phases=[ev.PlanPhase(id=f"p{i}", name=n, description=d) for i, (n, d) in enumerate(items, 1)])
        self._phases = {p.name: p.id for p in plan.phases}
        self._emit(ev.PlanCreatedData(plan=plan))
        return [p.id for p in plan.phases]

    @contextmanager
    def phase(self, name: str) -> Iterator[PhaseRecord]:
        """A phase: ``phase:start`` now, ``phase:complete`` (with ``.summary``) when the block ends."""
        if self._phase is not None:
            raise UserError(f"phase {name!r} started inside phase {self._phase.name!r}; phases do not nest")
        phase_id = self._phases.get(name) or f"p{len(self._phases) + 1}"
        self._phases.setdefault(name, phase_id)
        index = list(self._phases).index(name)
        self._phase = record = PhaseRecord(phase_id, name)
        self._iteration = self._answers = 0
        self._emit(ev.PhaseStartData(phase_id=phase_id, phase_name=name, phase_index=index))
        self.controls.phase_id = phase_id
        try:
            yield record
        finally:
            self._phase = None
            self.controls.phase_id = None
            if not self.run.done:
                self._emit(ev.PhaseCompleteData(phase_id=phase_id, phase_name=name, summary=record.summary))

    def think(self, thought: str, *, iteration: int | None = None) -> str:
        """One whole thinking step. Returns its step id."""
        self._iteration = iteration if iteration is not None else self._iteration + 1
        step_id = self._step_id()
        self._emit(ev.ThinkingData(thought=thought, iteration=self._iteration, step_id=step_id, phase_id=self._phase_id))
        return step_id

    def think_stream(self, pieces: Sequence[str] | Iterator[str]) -> str:
        """A thinking step streamed piece by piece (``thinking:delta`` events, then the whole step)."""
        step_id = self._step_id()
        self._iteration += 1
        text = []
        scrubber = StreamScrubber()  # a credential split across pieces is held back until it is whole
        for piece in pieces:
            text.append(piece)
            if released := scrubber.feed(piece):
                self._emit(ev.ThinkingDeltaData(step_id=step_id, delta=released, phase_id=self._phase_id))
        if rest := scrubber.flush():
            self._emit(ev.ThinkingDeltaData(step_id=step_id, delta=rest, phase_id=self._phase_id))
        self._emit(ev.ThinkingData(thought="".join(text), iteration=self._iteration, step_id=step_id, phase_id=self._phase_id))
        return step_id

    def say(self, text: str) -> str:
        """One whole assistant message. Returns its step id."""
        step_id = self._step_id()
        self._emit(ev.TextData(step_id=step_id, text=text, phase_id=self._phase_id))
        return step_id

    def checkpoint(self) -> list[str]:
        """A turn boundary before a model call: wait here while the run is paused.

        Returns the person's messages since the last checkpoint, for the agent's next model call.
        """
        self.controls.boundary("model")
        return self.controls.take_messages()

    @contextmanager
    def tool(self, name: str, *, approve: bool = False, **params: Any) -> Iterator[ToolCallRecord]:
        """A tool call: ``tool:start`` now, ``tool:complete`` with ``.result`` when the block ends.

        The call is a turn boundary: a paused run waits here. With ``approve=True`` it waits for
        the person's decision, on ``call.decision``: after an ``edit`` ``call.params`` holds
        theirs; after a ``deny`` (``call.denied``) skip the call, whose result already says so.
        An exception inside the block is recorded as an error result and then re-raised.
        """
        call = ToolCallRecord(name, params, f"toolu_{next(self._ids):04d}")
        self._emit(ev.ToolStartData(tool_name=name, params=params, tool_use_id=call.tool_use_id, phase_id=self._phase_id))
        self.controls.started_call(call.tool_use_id)
        began = time.perf_counter()
        try:
            self.controls.boundary("tool", call.tool_use_id)
            if approve:
                call.decision, edited, call.note = self.controls.approval(call, self._phase_id)
                if edited is not None:
                    call.params = edited
                if call.denied:
                    call.result, call.is_error = denied_result(call.note), True
            yield call
        except BaseException as exc:
            call.result, call.is_error = redact(f"{type(exc).__name__}: {exc}"), True
            raise
        finally:
            duration = round((time.perf_counter() - began) * 1000, 3)
            self._emit(ev.ToolCompleteData(tool_name=name, result=call.result, duration=duration,
                                           tool_use_id=call.tool_use_id, is_error=call.is_error))

    def usage(self, input: int = 0, output: int = 0, cache_read: int = 0, cache_write: int = 0) -> None:
        """Add one model call's tokens to the run's totals (a ``usage`` event)."""
        u = self._usage
        self._usage = ev.Usage(input=u.input + input, output=u.output + output,
                               cache_read=u.cache_read + cache_read, cache_write=u.cache_write + cache_write)
        self._emit(ev.UsageData(**self._usage.model_dump(by_alias=False)))

    def response(self, message: Any, *, iteration: int | None = None) -> None:
        """Log one model call's whole answer: its tokens (a ``usage`` event, as :meth:`usage`),
        then a ``model:response`` event with its content blocks, stop reason and tokens.

        ``message`` is what the ``anthropic`` SDK returned (an ``anthropic.types.Message``, e.g.
        ``stream.get_final_message()``) or its JSON form as a dict. ``iteration`` is the call's
        number in its phase; by default, one more than the last answer's.
        """
        body = message.to_dict(mode="json") if hasattr(message, "to_dict") else message
        answer = isinstance(body, Mapping) and isinstance(body.get("content"), list)
        if not answer or not isinstance(body.get("usage"), Mapping):
            raise UserError("response() takes the SDK's Message (or its dict form, with 'content' and 'usage'), "
                            f"not {type(message).__name__}")
        tokens = body["usage"]
        call = ev.Usage(input=tokens.get("input_tokens") or 0, output=tokens.get("output_tokens") or 0,
                        cache_read=tokens.get("cache_read_input_tokens") or 0,
                        cache_write=tokens.get("cache_creation_input_tokens") or 0)
        self.usage(**call.model_dump(by_alias=False))
        self._answers = iteration if iteration is not None else self._answers + 1
        self._emit(ev.ModelResponseData(phase_id=self._phase_id, iteration=self._answers,
                                        model=str(body.get("model") or self.run.model), content=list(body["content"]),
                                        stop_reason=body.get("stop_reason"), usage=call))

    def finish(self, result: str) -> None:
        """End the run successfully with ``result``."""
        cost = run_cost(self.run.model, self._usage)  # at list prices; None for a model with no price
        self._emit(ev.ExecutionCompleteData(result=result, duration=self._elapsed(), tokens_used=self._usage, cost_usd=cost))

    def fail(self, message: str, *, error_type: str = "agent_error", stack: str | None = None) -> None:
        """End the run as failed."""
        self._emit(ev.ExecutionErrorData(error=ev.ErrorInfo(type=error_type, message=redact(message)),
                                         stack=redact(stack) if stack else None))

    def cancel(self, reason: str = "cancelled") -> None:
        """End the run as cancelled."""
        self._emit(ev.ExecutionCancelledData(reason=reason, duration=self._elapsed()))

    # --- context manager: the run always ends -----------------------------------------------

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.run.done:
            return
        if exc is None:
            self.finish("")
        elif isinstance(exc, KeyboardInterrupt):
            self.cancel("interrupted")
        else:
            self.fail(f"{type(exc).__name__}: {exc}", stack="".join(traceback.format_exception(exc)))

    async def __aenter__(self) -> Recorder:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- helpers ---------------------------------------------------------------------------

    @property
    def _phase_id(self) -> str | None:
        return self._phase.id if self._phase else None

    def _step_id(self) -> str:
        return f"s{next(self._ids)}"

    def _elapsed(self) -> float:
        return round((time.monotonic() - self._started) * 1000, 3)

    def _emit(self, data: ev.EventData) -> None:
        if self.run.done:
            raise UserError("this run has already ended; start a new record() for more")
        self.run.log.append(data)
        if data.TYPE in ev.TERMINAL_TYPES:
            self.controls.end()
            otel.run_ended(self.run.log.events)  # sent as a trace when switched on, as every run of the process


def record(task: str, *, model: str = "custom", strategy: str = "custom") -> Recorder:
    """Start recording an agent of one's own; use it as a context manager so the run always ends."""
    return Recorder(task, model=model, strategy=strategy)
