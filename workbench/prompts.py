"""What the orchestrator says to the model, and how a request tells its stage.

Each model call belongs to a *stage*: making the plan, working on phase i of n, writing
the final answer, or the single loop of strategy ``react``. The first line of the system
prompt names the stage (``# Phase 2 of 4: Research``) so that a person reading a
request, and the offline simulator answering it, can tell where the run is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Stage",
    "PLAN_TOOL_NAME",
    "PLAN_TOOL",
    "plan_system",
    "phase_system",
    "final_system",
    "react_system",
    "task_message",
    "phase_message",
    "final_message",
    "parse_stage",
    "task_of",
]

StageKind = Literal["plan", "phase", "final", "react"]


@dataclass(frozen=True)
class Stage:
    """Where a model call stands in a run."""

    kind: StageKind
    phase_index: int = 0
    """Zero-based index of the phase (``kind == "phase"`` only)."""
    phase_count: int = 0
    phase_name: str = ""


PLAN_TOOL_NAME = "submit_plan"

PLAN_TOOL: dict[str, Any] = {
    "name": PLAN_TOOL_NAME,
    "description": "Submit the plan for the task: a one-sentence goal and 2 to 6 ordered phases.",
    "input_schema": {
        "type": "object",
        "properties": {
            "goal": {"type": "string", "description": "What the work will achieve, in one sentence."},
            "phases": {
                "type": "array",
                "minItems": 2,
                "maxItems": 6,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "A short name, 1 to 4 words."},
                        "description": {"type": "string", "description": "What the phase does."},
                    },
                    "required": ["name", "description"],
                },
            },
        },
        "required": ["goal", "phases"],
    },
}


def plan_system() -> str:
    return (
        "# Planning\n"
        "You plan work for an agent that has tools to list, read and write files in its own "
        "workspace folder. Think about the task, then call the submit_plan tool exactly once "
        "with a one-sentence goal and 2 to 6 phases that together accomplish the task."
    )


def phase_system(index: int, count: int, name: str) -> str:
    return (
        f"# Phase {index + 1} of {count}: {name}\n"
        "You are an agent working through a plan one phase at a time. Do the work of this phase "
        "only, using the tools when they help. When the phase is done, answer with a short "
        "summary of what it produced, without calling a tool."
    )


def final_system() -> str:
    return (
        "# Final answer\n"
        "The plan has been carried out. Write the final answer to the task for the person who "
        "asked, based on the summaries of the phases."
    )


def react_system() -> str:
    return (
        "# Agent\n"
        "You are an agent with tools to list, read and write files in your own workspace folder. "
        "Work on the task step by step, using the tools when they help. When you are done, "
        "answer with the result without calling a tool."
    )


def task_message(task: str) -> str:
    return f"Task: {task}"


def phase_message(task: str, goal: str, phases: list[tuple[str, str]], index: int, done: list[str]) -> str:
    """The opening user message of phase ``index``: the task, the plan, and what is done."""
    lines = [task_message(task), "", f"Goal: {goal}", "", "Plan:"]
    lines += [f"{i + 1}. {name}: {description}" for i, (name, description) in enumerate(phases)]
    if done:
        lines += ["", "Done so far:"]
        lines += [f"- Phase {i + 1} ({phases[i][0]}): {summary}" for i, summary in enumerate(done)]
    lines += ["", f"Now do phase {index + 1}: {phases[index][0]}."]
    return "\n".join(lines)


def final_message(task: str, phases: list[tuple[str, str]], summaries: list[str]) -> str:
    lines = [task_message(task), "", "Phases and what they produced:"]
    lines += [f"- {name}: {summary}" for (name, _), summary in zip(phases, summaries)]
    lines += ["", "Write the final answer."]
    return "\n".join(lines)


_PHASE_HEADER = re.compile(r"^# Phase (\d+) of (\d+): (.*)$")
_HEADERS: dict[str, StageKind] = {"# Planning": "plan", "# Final answer": "final", "# Agent": "react"}


def parse_stage(system: str | list[dict[str, Any]] | None) -> Stage | None:
    """The stage a request's system prompt names, or ``None`` for a prompt of someone else's."""
    if isinstance(system, list):  # system given as text blocks
        system = "".join(block.get("text", "") for block in system if isinstance(block, dict))
    if not system:
        return None
    first = system.split("\n", 1)[0].strip()
    if first in _HEADERS:
        return Stage(_HEADERS[first])
    match = _PHASE_HEADER.match(first)
    if match:
        return Stage("phase", int(match[1]) - 1, int(match[2]), match[3])
    return None


def task_of(messages: list[dict[str, Any]]) -> str:
    """The task, read from the first user message (``Task: …`` up to the first blank line)."""
    if not messages:
        return ""
    content = messages[0].get("content", "")
    if isinstance(content, list):
        content = "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    text = str(content)
    if text.startswith("Task: "):
        text = text[len("Task: ") :]
    return text.split("\n\n", 1)[0].strip()
