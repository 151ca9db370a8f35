"""What the simulated model says, as data: scenario files and the choice of a turn.

A scenario scripts every stage of a run (see :mod:`workbench.agent.prompts`): the plan, the turns
of each phase, the loop of strategy ``react``, the final answer, and the faults to inject.
The file format is JSON with camelCase names::

    {"format": "workbench-scenario", "version": 1,
     "plan": {"goal": "...", "phases": [{"name": "...", "description": "..."}]},
     "phases": [[turn, ...], ...],
     "react": [turn, ...],
     "final": turn,
     "faults": [{"request": 3, "kind": "529"}]}

    turn = {"thinking": "..." | null, "redactedThinking": false, "text": "..." | null,
            "toolCalls": [{"name": "write_file", "input": {...}}]}
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from workbench.errors import UserError
from workbench.simulator.request import PLAN_TOOL_NAME, Stage

__all__ = [
    "SCENARIO_FORMAT",
    "SCENARIO_VERSION",
    "FaultKind",
    "ToolCall",
    "Turn",
    "PlanPhase",
    "Plan",
    "Fault",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "dump_scenario",
    "select_turn",
    "offer_tools",
]

SCENARIO_FORMAT = "workbench-scenario"
SCENARIO_VERSION = 1

FaultKind = Literal["429", "529", "midstream_error", "drop", "no_message_stop"]


class _Data(BaseModel):
    # camelCase in files, snake_case in Python; unknown keys are refused so a typo in a
    # hand-written scenario is reported instead of silently ignored.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class ToolCall(_Data):
    """One ``tool_use`` block the model emits."""

    name: str = Field(min_length=1)
    """The tool's name; the call is made only if the request offers a tool of this name."""
    input: dict[str, Any] = Field(default_factory=dict)
    """The tool's input, streamed as ``input_json_delta`` pieces."""


class Turn(_Data):
    """One assistant message: optional thinking, optional text, then tool calls."""

    thinking: str | None = None
    """Text of a thinking block (sent only when the request enables thinking)."""
    redacted_thinking: bool = False
    """Add a ``redacted_thinking`` block (sent only when the request enables thinking)."""
    text: str | None = None
    """Assistant text shown to the user."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Tools to call; a turn with calls ends with ``stop_reason`` ``tool_use``."""

    @model_validator(mode="after")
    def _says_something(self) -> Turn:
        if not self.text and not self.tool_calls:
            raise ValueError("a turn needs a non-empty 'text' or at least one of 'toolCalls'")
        return self

    def finished(self, fallback: str) -> Turn:
        """This turn as the last word of its stage: text, and no tool calls."""
        return Turn(thinking=self.thinking, redacted_thinking=self.redacted_thinking, text=self.text or fallback)


class PlanPhase(_Data):
    name: str = Field(min_length=1)
    description: str = ""


class Plan(_Data):
    """The plan the planning call submits with the ``submit_plan`` tool."""

    goal: str = Field(min_length=1)
    phases: list[PlanPhase] = Field(min_length=1)
    thinking: str | None = None
    """Thinking before the plan; derived from the plan when absent."""


class Fault(_Data):
    """A failure injected into the answer to one ``POST /v1/messages`` request."""

    request: int = Field(ge=1)
    """Which request (1 = the first ``POST /v1/messages`` the simulator sees, retries count)."""
    kind: FaultKind
    after_frames: int = Field(default=3, ge=0)
    """For ``midstream_error`` and ``drop``: how many frames go out before the break."""

    @field_validator("kind", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value  # allow "kind": 429


class Scenario(_Data):
    """The whole script of a simulated run."""

    format: Literal["workbench-scenario"] = "workbench-scenario"
    version: int = SCENARIO_VERSION
    plan: Plan
    phases: list[Annotated[list[Turn], Field(min_length=1)]]
    """One list of turns per phase of the plan, in plan order."""
    react: list[Turn] = Field(default_factory=list)
    """The single loop of strategy ``react``."""
    final: Turn
    """The final-answer call."""
    faults: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_list_per_phase(self) -> Scenario:
        if len(self.phases) != len(self.plan.phases):
            raise ValueError(
                f"the plan has {len(self.plan.phases)} phases but 'phases' has {len(self.phases)} lists of turns; "
                "give one list per phase, in plan order"
            )
        return self

    def plan_turn(self, task: str) -> Turn:
        """The planning call's answer: thinking, then ``submit_plan`` with ``{goal, phases}``."""
        names = ", ".join(p.name for p in self.plan.phases)
        thinking = self.plan.thinking or (
            f"The task is: {task or 'not stated'}. The goal: {self.plan.goal} "
            f"I will work through {len(self.plan.phases)} phases in order: {names}."
        )
        phases = [{"name": p.name, "description": p.description} for p in self.plan.phases]
        return Turn(thinking=thinking, tool_calls=[ToolCall(name=PLAN_TOOL_NAME, input={"goal": self.plan.goal, "phases": phases})])


def select_turn(scenario: Scenario, stage: Stage, index: int, task: str) -> Turn:
    """The turn that answers the ``index``-th call (0-based) of ``stage``.

    Past the end of a stage's list the last turn answers again, made final (text, no tool
    calls), so a client that keeps asking still gets an answer that ends the loop.
    """
    if stage.kind == "plan":
        turns = [scenario.plan_turn(task)]
        fallback = "I have submitted the plan."
    elif stage.kind == "phase":
        name = stage.phase_name or f"phase {stage.phase_index + 1}"
        fallback = f"{name} is done."
        if 0 <= stage.phase_index < len(scenario.phases):
            turns = scenario.phases[stage.phase_index]
        else:
            turns = [Turn(text=fallback)]
    elif stage.kind == "react":
        turns = scenario.react or [scenario.final]
        fallback = "The task is done."
    else:
        turns = [scenario.final]
        fallback = "The task is done."
    if index < len(turns):
        return turns[index]
    return turns[-1].finished(fallback)


def offer_tools(turn: Turn, offered: Collection[str]) -> Turn:
    """``turn`` restricted to the tools a request offers.

    A call of a tool the request does not offer becomes text describing it, so a client
    without tools still gets a sensible answer instead of a call it cannot handle.
    """
    kept = [call for call in turn.tool_calls if call.name in offered]
    dropped = [call for call in turn.tool_calls if call.name not in offered]
    if not dropped:
        return turn
    parts = [turn.text] if turn.text else []
    parts += [describe_call(call) for call in dropped]
    return Turn(
        thinking=turn.thinking,
        redacted_thinking=turn.redacted_thinking,
        text="\n\n".join(parts),
        tool_calls=kept,
    )


def describe_call(call: ToolCall) -> str:
    """A tool call written out as prose, for a request that does not offer the tool."""
    data = call.input
    if call.name == PLAN_TOOL_NAME and isinstance(data.get("phases"), list):
        lines = [f"Goal: {data.get('goal', '')}", "", "Plan:"]
        for i, phase in enumerate(data["phases"]):
            if isinstance(phase, dict):
                lines.append(f"{i + 1}. {phase.get('name', '')}: {phase.get('description', '')}")
        return "\n".join(lines)
    if call.name == "write_file" and "path" in data:
        return f"Here is what I would write to `{data['path']}`:\n\n```\n{data.get('content', '')}\n```"
    if call.name == "read_file" and "path" in data:
        return f"I would read `{data['path']}` next, but I have no tool to read files here."
    if call.name == "list_files":
        return "I would list the files in the workspace, but I have no tool for that here."
    return f"I would call `{call.name}` with {json.dumps(data, ensure_ascii=False)}, but that tool is not available."


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """A scenario from already-parsed JSON; ``source`` names it in error messages."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a scenario file must hold a JSON object, not {type(data).__name__}.")
    fmt = data.get("format")
    if fmt != SCENARIO_FORMAT:
        raise UserError(f"{source}: not a scenario file: 'format' is {fmt!r}, expected {SCENARIO_FORMAT!r}.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{source}: 'version' must be a positive integer, not {version!r}.")
    if version > SCENARIO_VERSION:
        raise UserError(
            f"{source}: scenario version {version} is newer than this workbench understands "
            f"(version {SCENARIO_VERSION}); upgrade agent-workbench to use it."
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors()
        )
        raise UserError(f"{source}: not a valid scenario: {problems}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; every problem is a :class:`UserError` naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"{source}: cannot read the scenario file: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise UserError(f"{source}: a scenario file must be UTF-8 JSON text.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{source}, line {err.lineno}: not valid JSON: {err.msg} (column {err.colno}).") from None
    return parse_scenario(data, source)


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as file text (camelCase, indented), loadable with :func:`load_scenario`."""
    return json.dumps(scenario.model_dump(by_alias=True, exclude_defaults=False), indent=2, ensure_ascii=False) + "\n"
