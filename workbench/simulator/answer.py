"""The assistant message that answers a checked ``POST /v1/messages`` request: the scenario's turn
for the request's stage (or, for a prompt not of the workbench, calls of its own tools or a short
chat turn: :mod:`.own_tools`), its content blocks, and its usage."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from workbench.simulator.frames import dumps, make_message, redacted_data, sign_thinking
from workbench.simulator.own_tools import own_tools_turn
from workbench.simulator.request import parse_stage, task_of
from workbench.simulator.responses import api_id
from workbench.simulator.rules import CheckedRequest
from workbench.simulator.scenario import Scenario, Turn, offer_tools, select_turn
from workbench.simulator.supervision import heed, read_supervision

__all__ = ["answer"]


def answer(request: CheckedRequest, raw: bytes, *, number: int, seed: int,
           scenario_for: Callable[[str], Scenario]) -> tuple[str | None, dict[str, Any]]:
    """The assistant message answering ``request`` (request ``number``, whose body is ``raw``), and
    the stage it belongs to (None for a prompt not of the workbench)."""
    body = request.body
    messages = body["messages"]
    stage = parse_stage(body.get("system"))
    if stage is None:
        turn = own_tools_turn(body, body.get("tools") or [], seed)
    else:
        task = task_of(messages)
        index = sum(1 for m in messages if m.get("role") == "assistant")
        turn = select_turn(scenario_for(task), stage, index, task)
    turn = offer_tools(heed(turn, read_supervision(messages), thinking=request.thinking), request.tool_names)
    message_id = api_id("msg_", seed, number, hashlib.sha256(raw).hexdigest())
    content = _content(turn, message_id, request.thinking)
    prompt = dumps([body.get("system"), messages, body.get("tools")])
    produced = sum(len(b.get("thinking", "")) + len(b.get("text", "")) + len(dumps(b.get("input", ""))) for b in content)
    message = make_message(
        message_id=message_id,
        model=request.model,
        content=content,
        input_tokens=max(1, len(prompt) // 4),
        output_tokens=max(1, produced // 4),
    )
    return (stage.kind if stage else None), message


def _content(turn: Turn, message_id: str, thinking: bool) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if thinking and turn.thinking:
        content.append({"type": "thinking", "thinking": turn.thinking, "signature": sign_thinking(turn.thinking)})
    if thinking and turn.redacted_thinking:
        content.append({"type": "redacted_thinking", "data": redacted_data(message_id)})
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for i, call in enumerate(turn.tool_calls):
        content.append({"type": "tool_use", "id": api_id("toolu_", message_id, i), "name": call.name, "input": call.input})
    return content
