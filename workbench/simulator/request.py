"""How the simulator reads a request: the stage its system text names, the task, the plan tool.

A model sees only the request: the system text, the messages and the tools offered. The
simulator reads the workbench's requests from those alone, without importing the agent. The
orchestrator's prompts (:mod:`workbench.agent.prompts`) open the system text with a stage
header such as ``# Phase 2 of 4: Research``; a request without one is someone else's, and gets
the chat scenario. ``tests/test_simulator.py`` checks that every prompt the agent writes reads
back as its stage here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Stage", "StageKind", "PLAN_TOOL_NAME", "parse_stage", "task_of"]

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
"""The tool a scripted plan is submitted with, as the planning request offers it."""


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
    if isinstance(content, list):  # the first text block: later ones are a person's messages (supervision.py)
        content = next((b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"), "")
    text = str(content)
    if text.startswith("Task: "):
        text = text[len("Task: ") :]
    return text.split("\n\n", 1)[0].strip()
