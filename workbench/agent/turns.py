"""The model's answers turned into what the next request sends: its content, answers to its tool calls, its plan."""

from __future__ import annotations

import json
from typing import Any

from workbench.agent import prompts
from workbench.core import events as ev
from workbench.errors import RunFailed

__all__ = ["text_of", "content_params", "answer_tools", "add_user_messages", "plan_from_input"]


def text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text").strip()


def content_params(message: Any) -> list[dict[str, Any]]:
    """The assistant's content blocks as request params, thinking blocks exactly as received."""
    params: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "thinking":
            params.append({"type": "thinking", "thinking": block.thinking, "signature": block.signature})
        elif block.type == "redacted_thinking":
            params.append({"type": "redacted_thinking", "data": block.data})
        elif block.type == "text":
            if block.text:  # the API refuses empty text blocks
                params.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            params.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        else:
            params.append(block.to_dict())
    return params


def answer_tools(message: Any, text: str) -> list[dict[str, Any]]:
    """A user turn that answers every tool call of ``message`` (the API requires it), then ``text``."""
    content: list[dict[str, Any]] = [
        {"type": "tool_result", "tool_use_id": b.id, "content": "Not run: only submit_plan is available now.", "is_error": True}
        for b in message.content
        if b.type == "tool_use"
    ]
    content.append({"type": "text", "text": text})
    return content


def add_user_messages(messages: list[dict[str, Any]], texts: list[str]) -> None:
    """A person's messages, added to the conversation as the model will read them next.

    The request ends with a user turn (the task, a phase's opening, tool results): the messages
    join it as text blocks after what it holds, since the API wants user and assistant turns to
    alternate, and tool results first in their turn.
    """
    if not texts:
        return
    blocks = [{"type": "text", "text": prompts.person_message(text)} for text in texts]
    last = messages[-1] if messages else None
    if last is None or last["role"] != "user":
        messages.append({"role": "user", "content": blocks})
    elif isinstance(last["content"], str):
        last["content"] = [{"type": "text", "text": last["content"]}, *blocks]
    else:
        last["content"] = [*last["content"], *blocks]


def plan_from_input(raw: Any) -> ev.Plan:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise RunFailed("plan_invalid", "the model's plan was not valid JSON") from None
    if not isinstance(raw, dict):
        raise RunFailed("plan_invalid", "the model's plan was not an object with a goal and phases")
    phases = raw.get("phases")
    if not isinstance(phases, list) or not phases:
        raise RunFailed("plan_invalid", "the model's plan has no phases")
    return ev.Plan(
        goal=str(raw.get("goal", "")).strip(),
        phases=[
            ev.PlanPhase(
                id=f"p{i + 1}",
                name=str(p.get("name", f"Phase {i + 1}")) if isinstance(p, dict) else str(p),
                description=str(p.get("description", "")) if isinstance(p, dict) else "",
            )
            for i, p in enumerate(phases[:8])
        ],
    )
