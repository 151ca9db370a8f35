"""What the orchestrator says to the model.

Each model call belongs to a *stage*: making the plan, working on phase i of n, writing
the final answer, or the single loop of strategy ``react``. The first line of the system
prompt names the stage (``# Phase 2 of 4: Research``) so that a person reading a
request, and the offline simulator answering it (:mod:`workbench.simulator.request`, which
reads the text as any model would), can tell where the run is.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "person_message",
    "denied_result",
    "PLAN_TOOL_NAME",
    "PLAN_TOOL",
    "plan_system",
    "phase_system",
    "final_system",
    "react_system",
    "task_message",
    "phase_message",
    "final_message",
]

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


def person_message(text: str) -> str:
    """A message from the person supervising the run, as the model reads it in a user turn."""
    return f"A message from the person supervising this run: {text}"


def denied_result(note: str | None) -> str:
    """The result of a tool call the person denied, as the model reads it."""
    if note:
        return f"The person supervising this run denied this tool call. Their note: {note}"
    return "The person supervising this run denied this tool call."
