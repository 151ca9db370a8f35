"""A person's hand on a running agent: pause, step, breakpoints, tool approvals and messages.

The orchestrator asks :class:`RunControls` at each *turn boundary* (before each model call and
before each tool call) whether to wait, and before a tool it must get approved whether to run it.
A waiting run awaits a future: it calls no model, runs no tool, holds no thread and spins no
loop; cancelling the run's task (``cancel()``, its ``timeout``) ends the wait like any other.

Every method runs on the loop the run executes on (``Run`` hands calls from other threads over).
The methods a person calls check where the run is and raise :class:`~workbench.errors.NotWaiting`
(HTTP 409) or :class:`~workbench.errors.UnknownToolCall` (404) with a message saying why; an
edit that does not fit the tool's schema is a :class:`~workbench.errors.UserError` (400).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workbench.agent import prompts
from workbench.agent.options import RunOptions, ToolBreakpoint
from workbench.agent.tools import Tool
from workbench.core import events as ev
from workbench.errors import NotWaiting, UnknownToolCall, UserError

__all__ = ["Decision", "DECISIONS", "MAX_MESSAGE_CHARS", "RunControls", "check_decision", "check_message"]

DecisionKind = Literal["approve", "edit", "deny"]
DECISIONS: tuple[str, ...] = ("approve", "edit", "deny")
MAX_MESSAGE_CHARS = 20_000
"""The longest message a person may send the agent."""


@dataclass(frozen=True)
class Decision:
    """What a person decided about a waiting tool call."""

    decision: DecisionKind
    params: dict[str, Any] | None = None
    """The input the call runs with after an ``edit``."""
    note: str | None = None
    by: str | None = None

    def denial(self) -> str:
        """What the model reads as the result of a denied call."""
        return prompts.denied_result(self.note)


def check_message(text: Any, what: str = "a message to the agent") -> str:
    """``text`` when it is a message the agent can be given (a :class:`UserError` saying why not)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{what} must be a non-empty string")
    if len(text) > MAX_MESSAGE_CHARS:
        raise UserError(f"the message is {len(text):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}")
    return text


def check_decision(
    tool: Tool[..., Any] | None, decision: Any, params: Any, note: Any
) -> tuple[DecisionKind, dict[str, Any] | None, str | None]:
    """``decision``, ``params`` and ``note`` as given by a person, checked; a :class:`UserError` says what is wrong."""
    if decision not in DECISIONS:
        raise UserError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if note is not None and not isinstance(note, str):
        raise UserError("note must be a string")
    if decision != "edit":
        if params is not None:
            raise UserError("params go with an edit only; send decision 'edit' to run the call with other params")
        return decision, None, note or None
    if not isinstance(params, dict):
        raise UserError("an edit needs params: the tool's input as a JSON object")
    if tool is not None:
        # Imported here: jsonschema loads its format checkers' optional packages on import, and one
        # that Jupyter installs (rfc3987-syntax) builds a grammar for 1.5 s, at every run's start.
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(tool.input_schema).iter_errors(params), key=lambda e: list(e.path))
        if errors:
            problems = "; ".join(f"{'.'.join(str(p) for p in e.path) or 'params'}: {e.message}" for e in errors[:5])
            raise UserError(f"the edited params do not fit the schema of {tool.name}: {problems}")
    return "edit", params, note or None


class RunControls:
    """Where a run may wait, and the person's calls that make it wait or go on."""

    def __init__(self, options: RunOptions, tools: Mapping[str, Tool[..., Any]], emit: Callable[[ev.EventData], object]) -> None:
        self._emit = emit
        self._tools = tools
        self._approve_all = options.approve == "all"
        self._approve = set() if options.approve == "all" else set(options.approve)
        self._break_model = "model" in options.breakpoints
        self._break_tool = "tool" in options.breakpoints
        self._break_tools = {b.tool for b in options.breakpoints if isinstance(b, ToolBreakpoint)}
        self._pause_next = False
        self._paused: asyncio.Future[None] | None = None
        self._decisions: dict[str, asyncio.Future[Decision]] = {}
        self._calls: dict[str, str] = {}
        """Every tool call the run has made: toolUseId -> tool name (to tell unknown from decided)."""
        self._messages: list[str] = []
        self._held: list[ev.UserMessageData] | None = None
        """Messages given while held (:meth:`hold`): logged at :meth:`release`."""
        self.phase_id: str | None = None
        """The phase the run is in, for the events the person's calls emit."""
        self.ended = False

    # --- what a person calls --------------------------------------------------------------

    def pause(self) -> None:
        """Hold the run at its next turn boundary (nothing to do if it waits already)."""
        self._check_going("pause")
        self._pause_next = True

    def resume(self, *, step: bool = False, by: str | None = None) -> None:
        """Go on; ``step``: pause again at the next boundary.

        A pause asked for but not reached yet is simply withdrawn (no event: there was no pause).
        """
        self._check_going("resume")
        if self._paused is None or self._paused.done():
            if self._pause_next:  # a step keeps it (it pauses there either way); a resume withdraws it
                self._pause_next = step
                return
            raise NotWaiting("the run is not paused; pause it first (run.pause())")
        self._emit(ev.ExecutionResumedData(by=by, step=step))
        self._pause_next = step
        self._paused.set_result(None)

    def decide(self, tool_use_id: str, decision: Any, params: Any = None, note: Any = None, *, by: str | None = None) -> None:
        """Approve, edit or deny the waiting call ``tool_use_id``."""
        if tool_use_id not in self._calls:
            raise UnknownToolCall(f"this run has made no tool call {str(tool_use_id)[:64]!r}")
        waiting = self._decisions.get(tool_use_id)
        if waiting is None or waiting.done():
            raise NotWaiting(f"tool call {tool_use_id} ({self._calls[tool_use_id]}) is not waiting for a decision")
        kind, params, note = check_decision(self._tools.get(self._calls[tool_use_id]), decision, params, note)
        self._emit(ev.ToolDecisionData(tool_use_id=tool_use_id, decision=kind, params=params, note=note, by=by))
        waiting.set_result(Decision(kind, params, note, by))

    def say(self, text: Any, *, by: str | None = None) -> None:
        """A message the model sees as a user turn at the next model call."""
        self._check_going("send a message to")
        text = check_message(text)
        data = ev.UserMessageData(text=text, by=by, phase_id=self.phase_id)
        if self._held is not None:
            self._held.append(data)
        else:
            self._emit(data)
        self._messages.append(text)

    @property
    def waiting(self) -> list[str]:
        """The tool calls waiting for a decision."""
        return [tool_use_id for tool_use_id, future in self._decisions.items() if not future.done()]

    # --- what the orchestrator calls ------------------------------------------------------

    async def before_model(self) -> None:
        """The boundary before a model call."""
        await self._boundary("model", None, self._break_model)

    async def before_tool(self, tool_use_id: str, tool_name: str) -> None:
        """The boundary before a tool call runs (after its ``tool:start``, so a pause shows the call)."""
        self._calls[tool_use_id] = tool_name
        await self._boundary("tool", tool_use_id, self._break_tool or tool_name in self._break_tools)

    def carry(self, messages: Sequence[str]) -> None:
        """Messages the log has already that the next model call takes in: those of a fork's copied
        part, or of a taken-over run's given-up turn, that no replayed call took."""
        self._messages[:0] = messages

    def take_messages(self) -> list[str]:
        """The person's messages since the last model call, for the next one.

        Messages given from now until the call's first event in the log are held back
        (:meth:`release`): their events then follow that event, so the log alone tells which
        call took which message (:func:`workbench.core.forking.recorded_calls`).
        """
        messages, self._messages = self._messages, []
        self.hold()
        return messages

    def hold(self) -> None:
        """Hold back the events of messages given from now on, until :meth:`release`."""
        if self._held is None:
            self._held = []

    @property
    def holding(self) -> bool:
        return self._held is not None

    def release(self) -> None:
        """Log the messages held back."""
        held, self._held = self._held, None
        for data in held or ():
            self._emit(data)

    def needs_approval(self, tool: Tool[..., Any]) -> bool:
        return self._approve_all or tool.name in self._approve or tool.approve

    async def approval(self, tool_use_id: str, tool_name: str, params: dict[str, Any], phase_id: str | None) -> Decision:
        """Announce the call as waiting (``tool:approval``) and wait for the person's decision."""
        waiting: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._decisions[tool_use_id] = waiting
        self._emit(ev.ToolApprovalData(tool_use_id=tool_use_id, tool_name=tool_name, params=params, phase_id=phase_id))
        try:
            return await waiting
        finally:
            waiting.cancel()  # a cancelled run leaves nothing to decide

    def end(self) -> None:
        """The run has ended: every control now says so."""
        self.ended = True

    # --- inside -------------------------------------------------------------------------

    async def _boundary(self, before: Literal["model", "tool"], tool_use_id: str | None, breakpoint: bool) -> None:
        if not (self._pause_next or breakpoint):
            return
        reason: Literal["user", "breakpoint"] = "user" if self._pause_next else "breakpoint"
        self._pause_next = False
        self._paused = asyncio.get_running_loop().create_future()
        self._emit(ev.ExecutionPausedData(reason=reason, before=before, tool_use_id=tool_use_id))
        try:
            await self._paused
        finally:
            self._paused = None

    def _check_going(self, what: str) -> None:
        if self.ended:
            raise NotWaiting(f"the run has ended; there is nothing to {what}")
