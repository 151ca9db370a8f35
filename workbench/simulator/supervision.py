"""What the person supervising a run told the model, and the simulated model's answer to it.

A person can send the agent a message or deny one of its tool calls (``run.say``,
``run.decide(..., "deny")``). The model learns of either only from the request: a text block in
the last user turn (:func:`workbench.agent.prompts.person_message`), or a ``tool_result`` that
reports the denial (:func:`workbench.agent.prompts.denied_result`). The simulator reads those
without importing the agent (``tests/test_simulator.py`` checks that the two agree) and answers
as a model would: it says what it heard, and it does not call a denied tool again in that turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workbench.simulator.scenario import Turn

__all__ = ["Supervision", "read_supervision", "heed"]

_PERSON = "A message from the person supervising this run: "
_DENIED = re.compile(r"The person supervising this run denied this tool call\.(?: Their note: (.*))?", re.S)


@dataclass(frozen=True)
class Supervision:
    """What the last user turn brought from the person."""

    messages: list[str] = field(default_factory=list)
    denied: list[tuple[str, str | None]] = field(default_factory=list)
    """Each denied call as (tool name, the person's note)."""

    def __bool__(self) -> bool:
        return bool(self.messages or self.denied)


def read_supervision(messages: list[dict[str, Any]]) -> Supervision:
    """The person's messages and denials in the request's last user turn."""
    if not messages or messages[-1].get("role") != "user" or not isinstance(messages[-1].get("content"), list):
        return Supervision()
    names = _tool_names(messages[-2]) if len(messages) > 1 else {}
    said: list[str] = []
    denied: list[tuple[str, str | None]] = []
    for block in messages[-1]["content"]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and str(block.get("text", "")).startswith(_PERSON):
            said.append(str(block["text"])[len(_PERSON):])
        elif block.get("type") == "tool_result" and block.get("is_error"):
            match = _DENIED.fullmatch(_text_of(block.get("content")))
            if match:
                denied.append((names.get(str(block.get("tool_use_id")), "a tool"), match[1]))
    return Supervision(said, denied)


def heed(turn: Turn, supervision: Supervision, *, thinking: bool) -> Turn:
    """``turn`` as a model that read ``supervision`` would give it."""
    if not supervision:
        return turn
    notes = [f"The person supervising this run says: \u201c{text}\u201d. I will take that into account." for text in supervision.messages]
    for name, note in supervision.denied:
        why = f" with the note \u201c{note}\u201d" if note else ""
        notes.append(f"They denied my call to {name}{why}, so I will not make it again and will go on without it.")
    heard = " ".join(notes)
    refused = {name for name, _ in supervision.denied}
    calls = [call for call in turn.tool_calls if call.name not in refused]
    if thinking and turn.thinking:
        text = turn.text
        thought: str | None = f"{heard}\n\n{turn.thinking}"
    else:  # no thinking to put it in: the model says it
        text, thought = f"{heard}\n\n{turn.text}" if turn.text else heard, turn.thinking
    if not calls and not text:
        text = heard
    return Turn(thinking=thought, redacted_thinking=turn.redacted_thinking, text=text, tool_calls=calls)


def _tool_names(message: dict[str, Any]) -> dict[str, str]:
    content = message.get("content") if message.get("role") == "assistant" else None
    if not isinstance(content, list):
        return {}
    return {str(b.get("id")): str(b.get("name")) for b in content if isinstance(b, dict) and b.get("type") == "tool_use"}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""
