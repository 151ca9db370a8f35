"""The agent: plan, phases, agent loop and tools, every step emitted as an event.

Strategy ``plan`` asks the model for a plan (a ``submit_plan`` tool call), runs an agent
loop per phase (thinking, text, tool calls, tool results, until the model answers without
a tool), then asks for the final answer. Strategy ``react`` is one loop with no plan.

The model is only ever reached through ``anthropic.AsyncAnthropic.messages.stream``;
thinking blocks go back to the API unchanged, signatures included, on every tool turn.
Whatever happens, :meth:`Orchestrator.execute` ends the log with exactly one terminal
event.
"""

from __future__ import annotations

import asyncio
import random
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from workbench.agent import prompts
from workbench.agent.controls import RunControls
from workbench.agent.model_errors import IncompleteStream, describe_api_error, retry_reason
from workbench.agent.models import ModelClient, thinking_param
from workbench.agent.options import RunOptions
from workbench.agent.replaying import Replay
from workbench.agent.tools import Tool, ToolContext, ToolOutcome, call_tool, tool_by_name
from workbench.agent.turns import add_user_messages, answer_tools, content_params, plan_from_input, text_of
from workbench.core import events as ev
from workbench.core.forking import CALL_OUTPUT
from workbench.core.log import RunLog
from workbench.core.pricing import run_cost
from workbench.core.progress import usage_plus
from workbench.core.redact import StreamScrubber, get_logger, redact
from workbench.errors import LimitExceeded, RunFailed, ToolError

__all__ = ["RunConfig", "Orchestrator", "STRATEGIES"]

MAX_RETRY_WAIT = 120.0
"""Seconds between two attempts of a failed model call at most, however often it doubled."""

log = get_logger("workbench")

Strategy = Literal["plan", "react"]
STRATEGIES: tuple[str, ...] = ("plan", "react")


@dataclass(frozen=True)
class RunConfig:
    """What a run was asked to do."""

    task: str
    model: str
    strategy: Strategy
    tools: list[Tool[..., Any]]
    options: RunOptions
    workspace: Path


_REDONE = frozenset({"plan:created", "phase:complete", "phase:start"})
"""Events a taken-over run logs again, the same, between its last ended turn and its next model call."""


class Orchestrator:
    """Runs one task and writes every step to its log."""

    def __init__(self, config: RunConfig, run_log: RunLog, client: ModelClient, *, replay: Replay | None = None,
                 on_request: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.log = run_log
        self.client = client
        self.options = config.options
        self._started = 0.0
        self._step_counter = 0
        self._usage = ev.Usage()
        self._open_tools: dict[str, str] = {}
        self._tools = {t.name: t for t in config.tools}
        self._thinking: dict[str, Any] | None = None
        self._cancel_reason = "cancelled"
        self._cancel_requested = False
        self._interrupted = False
        self._task: asyncio.Task[Any] | None = None
        self._pieces: list[ev.EventData] = []
        """Streamed deltas not yet in the log: they go in at the next turn of the event loop."""
        self.controls = RunControls(config.options, self._tools, self._emit)
        """Pause, step, approvals and messages: the person's side of the run."""
        self._replay = replay
        """A fork's copied prefix still being walked through: nothing is logged, nothing is asked."""
        self._logged: deque[ev.Event] = deque()
        """What a taken-over run finds logged already once it goes live (:attr:`Replay.logged`)."""
        self._on_request = on_request
        """Sees the params of every model call, replayed ones too (``agent/conversation.py``)."""
        if replay is not None:
            self.controls.hold()  # a message given meanwhile is logged once the fork goes live

    # --- lifecycle -----------------------------------------------------------------------

    def request_cancel(self, reason: str, *, interrupted: bool = False) -> None:
        """Cancel the run; call on the loop the run executes on.

        ``interrupted`` ends it with ``execution:error`` of type ``interrupted`` instead of
        ``execution:cancelled``: the host is going away, nobody chose to stop the run.
        """
        self._cancel_reason = reason
        self._interrupted = interrupted
        if self._task is not None:
            self._task.cancel()
        else:  # not started yet: execute() stops at its first step
            self._cancel_requested = True

    async def execute(self) -> None:
        """Run the task to its end; the log always ends with exactly one terminal event."""
        self._started = time.monotonic()
        self._task = asyncio.current_task()
        cfg = self.config
        self._emit(ev.ExecutionStartedData(task=cfg.task, started_at=ev.utc_timestamp(), model=cfg.model, strategy=cfg.strategy))
        try:
            self._go_live_if_replayed()
            if self._cancel_requested:
                raise asyncio.CancelledError()
            async with asyncio.timeout(self.options.timeout):
                result = await self._work()
        except asyncio.CancelledError:
            if self._interrupted:
                self._fail("interrupted", self._cancel_reason, None)
            else:
                self._close_open_tools("interrupted: the run was cancelled")
                self._emit(ev.ExecutionCancelledData(reason=self._cancel_reason, duration=self._elapsed_ms()))
            return
        except TimeoutError:
            self._fail("limit_exceeded", f"the run took longer than its time limit of {self.options.timeout:g} s "
                       "(raise options={'timeout': seconds})", None)
        except LimitExceeded as exc:
            self._fail("limit_exceeded", str(exc), None)
        except RunFailed as exc:
            self._fail(exc.error_type, str(exc).split(": ", 1)[-1], None)
        except Exception as exc:  # a bug or an unexpected failure: the run ends, the process goes on
            log.exception("run %s failed", self.log.run_id)
            self._fail(type(exc).__name__, str(exc), traceback.format_exc())
        else:
            self._emit(ev.ExecutionCompleteData(result=result, duration=self._elapsed_ms(), tokens_used=self._usage,
                                                cost_usd=self._cost()))
        finally:
            self.controls.end()
            await self.client.aclose()

    def _cost(self) -> float | None:
        """The run's cost at list prices (core/pricing.py); none for the simulator, whatever model it plays."""
        return None if self.client.simulated else run_cost(self.client.model, self._usage)

    def _fail(self, error_type: str, message: str, stack: str | None) -> None:
        self._close_open_tools("interrupted: the run failed")
        self._emit(
            ev.ExecutionErrorData(
                error=ev.ErrorInfo(type=error_type, message=redact(message)),
                stack=redact(stack) if stack else None,
            )
        )

    def _emit(self, data: ev.EventData) -> None:
        if self._replay is not None:  # a fork's copied prefix: the log has these events already
            return
        if self._logged:  # a taken-over run doing again what its stopped worker logged already
            if self._logged[0].type == data.TYPE and self._logged[0].data == data:
                self._logged.popleft()
                return
            self._logged.clear()  # from the first difference on, everything is new
        self._append_pieces()  # the deltas before it go first
        controls = self.controls
        if controls.holding and data.TYPE in ev.TERMINAL_TYPES:
            controls.release()
        self.log.append(data)
        if controls.holding and (data.TYPE in CALL_OUTPUT or data.TYPE == "model:response"):
            controls.release()  # messages given since the call took its own go after its first event

    def _add_piece(self, data: ev.EventData) -> None:
        """Queue a streamed delta for the log, which gets the pieces of one turn of the event loop together.

        The SDK parses a burst of the stream without yielding; readers on this loop see nothing of it
        until the run yields anyway, and readers elsewhere at most a turn later. Appended together,
        the pieces take the log's lock, a timestamp and a wake-up once, and its code stays hot.
        """
        if self._replay is not None:
            return
        if not self._pieces:
            asyncio.get_running_loop().call_soon(self._append_pieces)
        self._pieces.append(data)

    def _append_pieces(self) -> None:
        if self._pieces:
            self._logged.clear()  # a model call's output: the run goes past what was logged
            pieces, self._pieces = self._pieces, []
            self.log.append_all(pieces)
            if self.controls.holding:  # deltas are a call's output
                self.controls.release()

    def _go_live_if_replayed(self) -> None:
        """A fork that has walked through its copied prefix says so (``run:forked``) and goes on live."""
        replay = self._replay
        if replay is None or not replay.done:
            return
        self._replay = None
        self.controls.carry(replay.plan.messages)
        if replay.resumed is not None:  # the same run, taken over by another worker
            self._step_counter = max(self._step_counter, replay.steps_used)
            self._emit(replay.resumed)
            # What it does again before its next model call: the plan, a phase's end, the next one's start.
            self._logged = deque(e for e in replay.logged if e.type in _REDONE)
            self.controls.release()
            if replay.pause_again:
                self.controls.pause()
            return
        self._emit(ev.RunForkedData(parent_id=replay.parent_id, at=replay.plan.at, edits=replay.edits))
        self.controls.release()
        if replay.edits.message:
            self.controls.say(replay.edits.message, by=replay.by)

    def _elapsed_ms(self) -> float:
        return round((time.monotonic() - self._started) * 1000, 3)

    def _next_step_id(self) -> str:
        self._step_counter += 1
        return f"s{self._step_counter}"

    def _close_open_tools(self, why: str) -> None:
        for tool_use_id, name in list(self._open_tools.items()):
            self._emit(ev.ToolCompleteData(tool_name=name, result=why, duration=0.0, tool_use_id=tool_use_id, is_error=True))
        self._open_tools.clear()

    # --- strategies ----------------------------------------------------------------------

    async def _work(self) -> str:
        self._thinking = await thinking_param(self.client, self.options)
        if self.config.strategy == "react":
            messages = [{"role": "user", "content": prompts.task_message(self.config.task)}]
            return await self._agent_loop(prompts.react_system(), messages, phase_id=None)
        plan = await self._make_plan()
        self._emit(ev.PlanCreatedData(plan=plan))
        outline = [(p.name, p.description) for p in plan.phases]
        summaries: list[str] = []
        for index, phase in enumerate(plan.phases):
            self._emit(ev.PhaseStartData(phase_id=phase.id, phase_name=phase.name, phase_index=index))
            self.controls.phase_id = phase.id
            opening = prompts.phase_message(self.config.task, plan.goal, outline, index, summaries)
            system = prompts.phase_system(index, len(plan.phases), phase.name)
            summary = await self._agent_loop(system, [{"role": "user", "content": opening}], phase_id=phase.id)
            summaries.append(summary)
            self._emit(ev.PhaseCompleteData(phase_id=phase.id, phase_name=phase.name, summary=summary))
            self.controls.phase_id = None
        final = [{"role": "user", "content": prompts.final_message(self.config.task, outline, summaries)}]
        message = await self._call_model(prompts.final_system(), final, phase_id=None, iteration=1, tools=False)
        return text_of(message)

    async def _make_plan(self) -> ev.Plan:
        """Ask for a plan through the ``submit_plan`` tool.

        With thinking on the API forbids forcing a tool (``tool_choice``), so the model is
        asked; if it answers without the tool, it is asked once more, then the run fails.
        """
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompts.task_message(self.config.task)}]
        for iteration in (1, 2):
            message = await self._call_model(prompts.plan_system(), messages, phase_id=None, iteration=iteration, tools="plan")
            for block in message.content:
                if block.type == "tool_use" and block.name == prompts.PLAN_TOOL_NAME:
                    return plan_from_input(block.input)
            messages.append({"role": "assistant", "content": content_params(message)})
            messages.append({"role": "user", "content": answer_tools(message, "Please call submit_plan with the plan.")})
        raise RunFailed("plan_missing", "the model did not submit a plan after being asked twice")

    async def _agent_loop(self, system: str, messages: list[dict[str, Any]], *, phase_id: str | None) -> str:
        """Call the model, run the tools it asks for, and repeat until it answers in text."""
        for iteration in range(1, self.options.max_iterations + 1):
            message = await self._call_model(system, messages, phase_id=phase_id, iteration=iteration, tools=True)
            messages.append({"role": "assistant", "content": content_params(message)})
            tool_uses = [b for b in message.content if b.type == "tool_use"]
            if tool_uses:
                results = [await self._run_tool(block, phase_id) for block in tool_uses]
                messages.append({"role": "user", "content": results})
                continue
            if message.stop_reason == "pause_turn":
                continue
            return text_of(message)
        where = f"phase {phase_id}" if phase_id else "the agent loop"
        raise LimitExceeded(
            "max_iterations",
            f"{where} used its {self.options.max_iterations} model calls without finishing "
            "(raise options={'maxIterations': n})",
        )

    # --- tools -------------------------------------------------------------------------

    async def _run_tool(self, block: Any, phase_id: str | None) -> dict[str, Any]:
        params = block.input if isinstance(block.input, dict) else {}
        self._emit(ev.ToolStartData(tool_name=block.name, params=params, tool_use_id=block.id, phase_id=phase_id))
        self._open_tools[block.id] = block.name
        if self._replay is not None and self._replay.takes(block.id):
            return await self._replay_tool(self._replay, block, params, phase_id)
        await self.controls.before_tool(block.id, block.name)  # after tool:start: a pause shows the call
        try:
            tool = tool_by_name(self._tools, block.name)
        except ToolError as exc:  # the model named a tool it was not given: tell it which exist
            outcome = ToolOutcome.failure(str(exc))
        else:
            if self.controls.needs_approval(tool):
                decision = await self.controls.approval(block.id, block.name, params, phase_id)
                if decision.decision == "deny":
                    return self._tool_done(block, ToolOutcome.failure(decision.denial()))
                if decision.params is not None:
                    params = decision.params
            context = ToolContext(workspace=self.config.workspace, run_id=self.log.run_id, phase_id=phase_id, tool_use_id=block.id)
            outcome = await call_tool(
                tool, params, context=context, timeout=self.options.tool_timeout, max_output_chars=self.options.max_tool_output
            )
        return self._tool_done(block, outcome)

    async def _replay_tool(self, replay: Replay, block: Any, params: dict[str, Any], phase_id: str | None) -> dict[str, Any]:
        """A tool call of a fork's copied prefix: the model gets what it got then."""
        outcome = replay.tool_outcome(block.id)
        again = replay.rewrite(block.id, block.name, params, outcome)
        if again is not None and block.name in self._tools:
            context = ToolContext(workspace=self.config.workspace, run_id=self.log.run_id, phase_id=phase_id, tool_use_id=block.id)
            await call_tool(self._tools[block.name], again, context=context, timeout=self.options.tool_timeout)
        answer = self._tool_done(block, outcome)
        self._go_live_if_replayed()
        return answer

    def _tool_done(self, block: Any, outcome: ToolOutcome) -> dict[str, Any]:
        """The call's ``tool:complete``, and its answer for the model."""
        content, result, is_error = outcome.content, outcome.result, outcome.is_error
        if is_error:
            content, result = redact(content), redact(result) if isinstance(result, str) else result
        del self._open_tools[block.id]
        self._emit(ev.ToolCompleteData(tool_name=block.name, result=result, duration=round(outcome.duration_ms, 3), tool_use_id=block.id, is_error=is_error))
        answer: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.id, "content": content}
        if is_error:
            answer["is_error"] = True
        return answer

    # --- model calls ---------------------------------------------------------------------

    def _request(self, system: str, messages: list[dict[str, Any]], tools: bool | Literal["plan"]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.client.model,
            "system": system,
            "messages": messages,
            "max_tokens": self.options.max_output_tokens,
        }
        if self._thinking is not None:
            params["thinking"] = self._thinking
            if self._thinking["type"] == "enabled":  # the API wants max_tokens above the budget
                params["max_tokens"] = max(params["max_tokens"], self._thinking["budget_tokens"] + 1024)
        if tools == "plan":
            params["tools"] = [prompts.PLAN_TOOL]
        elif tools and self._tools:
            params["tools"] = [t.to_api() for t in self._tools.values()]
        # tool_choice stays "auto" (the default): thinking forbids forcing a tool.
        return params

    async def _call_model(
        self,
        system: str,
        messages: list[dict[str, Any]],
        *,
        phase_id: str | None,
        iteration: int,
        tools: bool | Literal["plan"],
    ) -> Any:
        """One model call, retried with backoff when the stream breaks; emits its steps."""
        if self._replay is not None:
            return self._replay_call(self._replay, system, messages, tools)
        await self.controls.before_model()
        add_user_messages(messages, self.controls.take_messages())
        self._check_token_limit()
        params = self._request(system, messages, tools)
        if self._on_request is not None:
            self._on_request(params)
        attempt = 1
        while True:
            try:
                message = await self._stream(params, phase_id, iteration)
                break
            except Exception as exc:
                reason = retry_reason(exc)
                if reason is None:
                    error_type, text = describe_api_error(exc)
                    raise RunFailed(error_type, text) from exc
                if attempt > self.options.max_retries:
                    raise RunFailed(
                        "model_error",
                        f"the model call failed {attempt} times; last failure: {reason}",
                    ) from exc
                # Doubling, capped: twenty retries of a 60 s delay would otherwise wait for days.
                backoff = min(self.options.retry_delay * 2 ** (attempt - 1), MAX_RETRY_WAIT)
                delay = backoff * (0.5 + random.random() / 2)
                self._emit(ev.ModelRetryData(attempt=attempt, reason=redact(reason), delay_ms=round(delay * 1000, 3)))
                attempt += 1
                await asyncio.sleep(delay)
        self._count_usage(message.usage)
        self._emit(ev.ModelResponseData(
            phase_id=phase_id, iteration=iteration, model=message.model, content=[b.to_dict(mode="json") for b in message.content],
            stop_reason=message.stop_reason, usage=_call_usage(message.usage)))
        return message

    def _replay_call(self, replay: Replay, system: str, messages: list[dict[str, Any]],
                     tools: bool | Literal["plan"]) -> Any:
        """A model call of a fork's copied prefix, answered as the parent's was: the conversation grows
        exactly as it did, and the run's step ids and token totals with it."""
        message, taken = replay.next_call()
        add_user_messages(messages, list(taken))
        if self._on_request is not None:
            self._on_request(self._request(system, messages, tools))
        for block in message.content:
            if block.type in ("thinking", "redacted_thinking", "text"):
                self._next_step_id()  # as _stream numbers a streamed block
        self._count_usage(message.usage)
        self._go_live_if_replayed()
        return message

    def on_sdk_retry(self, attempt: int, reason: str, delay_ms: float) -> None:
        """The SDK is about to retry a call (429, 529, …): make it visible."""
        self._emit(ev.ModelRetryData(attempt=attempt, reason=redact(reason), delay_ms=round(delay_ms, 3)))

    async def _stream(self, params: dict[str, Any], phase_id: str | None, iteration: int) -> Any:
        """Stream one answer, emitting deltas as they come and whole steps as blocks end."""
        step_ids: dict[int, str] = {}
        # One per streamed block: a credential split across deltas is held back until it is whole.
        scrubbers: dict[int, StreamScrubber] = {}
        # Deltas, nearly every event of a run, are built unvalidated (trusted_delta): the ids are ours
        # and the scrubber's pieces are str. Whole blocks carry the SDK's values and are validated.
        emit, add_piece = self._emit, self._add_piece
        async with self.client.client.messages.stream(**params) as stream:
            async for event in stream:
                if event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        if piece := scrubbers[event.index].feed(delta.text):
                            add_piece(ev.trusted_delta(ev.TextDeltaData, step_ids[event.index], piece, phase_id))
                    elif delta.type == "thinking_delta":
                        if piece := scrubbers[event.index].feed(delta.thinking):
                            add_piece(ev.trusted_delta(ev.ThinkingDeltaData, step_ids[event.index], piece, phase_id))
                elif event.type == "content_block_start":
                    if event.content_block.type in ("thinking", "redacted_thinking", "text"):
                        step_ids[event.index] = self._next_step_id()
                        scrubbers[event.index] = StreamScrubber()
                elif event.type == "content_block_stop":
                    block = event.content_block
                    if block.type == "thinking":
                        if rest := scrubbers[event.index].flush():
                            add_piece(ev.trusted_delta(ev.ThinkingDeltaData, step_ids[event.index], rest, phase_id))
                        emit(ev.ThinkingData(thought=block.thinking, iteration=iteration, step_id=step_ids[event.index], phase_id=phase_id))
                    elif block.type == "redacted_thinking":
                        emit(ev.ThinkingData(thought="", iteration=iteration, step_id=step_ids[event.index], phase_id=phase_id, redacted=True))
                    elif block.type == "text":
                        if rest := scrubbers[event.index].flush():
                            add_piece(ev.trusted_delta(ev.TextDeltaData, step_ids[event.index], rest, phase_id))
                        emit(ev.TextData(step_id=step_ids[event.index], text=block.text, phase_id=phase_id))
            message = await stream.get_final_message()
        self._append_pieces()
        if message.stop_reason is None:
            raise IncompleteStream()
        return message

    def _count_usage(self, usage: Any) -> None:
        self._usage = usage_plus(self._usage, _call_usage(usage))
        self._emit(ev.UsageData(**self._usage.model_dump(by_alias=False)))

    def _check_token_limit(self) -> None:
        used = self._usage.input + self._usage.output + self._usage.cache_read + self._usage.cache_write
        if used >= self.options.max_tokens:
            raise LimitExceeded(
                "max_tokens",
                f"the run used {used:,} tokens, reaching its limit of {self.options.max_tokens:,} "
                "(raise options={'maxTokens': n})",
            )


def _call_usage(usage: Any) -> ev.Usage:
    """One call's tokens, from the SDK's usage."""
    return ev.Usage(input=usage.input_tokens or 0, output=usage.output_tokens or 0,
                    cache_read=usage.cache_read_input_tokens or 0, cache_write=usage.cache_creation_input_tokens or 0)


# --- message helpers ---------------------------------------------------------------------
