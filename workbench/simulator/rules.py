"""The Messages API's request rules, checked the way the API checks them.

Each violation raises :class:`MessagesApiError` with the status, error type and (as near as we
know it) the message the real API gives, so code that works against the simulator keeps
working against Claude: thinking blocks go back unchanged, every ``tool_use`` is answered
by a ``tool_result``, budgets fit ``max_tokens``, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.simulator.frames import verify_redacted, verify_thinking

__all__ = [
    "MessagesApiError",
    "CheckedRequest",
    "THINKING_TYPES",
    "THINKING_ON",
    "check_auth",
    "check_version",
    "check_messages_request",
]

THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
"""Every ``thinking.type`` the API knows."""
THINKING_ON = frozenset({"enabled", "adaptive"})
"""The types under which the model thinks (and the thinking rules apply)."""

_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


class MessagesApiError(Exception):
    """An error answer of the Messages API: ``status``, the error ``type`` and a ``message``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body of the answer, in the API's error shape."""
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}, "request_id": request_id}


def _invalid(message: str) -> MessagesApiError:
    return MessagesApiError(400, "invalid_request_error", message)


@dataclass(frozen=True)
class CheckedRequest:
    """What the simulator needs from a request that passed every rule."""

    body: Mapping[str, Any]
    model: str
    stream: bool
    thinking: bool
    """Whether the model thinks on this request (``enabled`` or ``adaptive``)."""
    tool_names: frozenset[str]


def check_auth(headers: Mapping[str, str], api_key: str | None) -> None:
    """A key is required (``x-api-key`` or ``Authorization: Bearer``); it must match ``api_key`` if set.

    The key is never repeated in a message: error answers may end up in logs.
    """
    given = headers.get("x-api-key")
    if not given:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
    if not given:
        raise MessagesApiError(401, "authentication_error", "x-api-key header is required")
    if api_key is not None and given != api_key:
        raise MessagesApiError(401, "authentication_error", "invalid x-api-key")


def check_version(headers: Mapping[str, str]) -> None:
    if not headers.get("anthropic-version"):
        raise _invalid("anthropic-version: header is required")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_messages_request(
    body: Any,
    *,
    model_known: Callable[[str], bool],
    thinking_types: Collection[str],
    max_output_tokens: int,
) -> CheckedRequest:
    """Check a ``POST /v1/messages`` body; raise :class:`MessagesApiError` at the first violation."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    model = _check_model(body, model_known)
    max_tokens = _check_max_tokens(body, model, max_output_tokens)
    messages = _check_messages_shape(body)
    _check_system(body)
    thinking = _check_thinking(body, max_tokens, thinking_types)
    tool_names = _check_tools(body, thinking)
    _check_history(messages, thinking)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("stream: Input should be a valid boolean")
    return CheckedRequest(body, model, stream, thinking, tool_names)


def _check_model(body: dict[str, Any], model_known: Callable[[str], bool]) -> str:
    if "model" not in body:
        raise _invalid("model: Field required")
    model = body["model"]
    if not isinstance(model, str) or not model:
        raise _invalid("model: Input should be a valid string")
    if not model_known(model):
        raise MessagesApiError(404, "not_found_error", f"model: {model}")
    return model


def _check_max_tokens(body: dict[str, Any], model: str, max_output_tokens: int) -> int:
    if "max_tokens" not in body:
        raise _invalid("max_tokens: Field required")
    value = body["max_tokens"]
    if not _is_int(value):
        raise _invalid("max_tokens: Input should be a valid integer")
    if value < 1:
        raise _invalid("max_tokens: Input should be greater than or equal to 1")
    if value > max_output_tokens:
        raise _invalid(
            f"max_tokens: {value} > {max_output_tokens}, which is the maximum allowed number of output tokens for {model}"
        )
    return int(value)


def _check_messages_shape(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise _invalid("messages: Field required")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _invalid("messages: Input should be a valid list")
    if not messages:
        raise _invalid("messages: at least one message is required")
    previous = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _invalid(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise _invalid(f"messages.{i}.content.{j}: Input should be a valid content block with a `type`")
        elif not isinstance(content, str):
            raise _invalid(f"messages.{i}.content: Input should be a valid string or a list of content blocks")
        last_assistant = i == len(messages) - 1 and role == "assistant"
        if not content and not last_assistant:
            raise _invalid(f"messages.{i}: all messages must have non-empty content except for the optional final assistant message")
        if i == 0 and role != "user":
            raise _invalid('messages: first message must use the "user" role')
        if role == previous:
            raise _invalid(f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" roles in a row')
        previous = role
    return messages


def _check_system(body: dict[str, Any]) -> None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system):
        return
    raise _invalid("system: Input should be a valid string or a list of text blocks")


def _check_thinking(body: dict[str, Any], max_tokens: int, supported: Collection[str]) -> bool:
    config = body.get("thinking")
    if config is None:
        return False
    if not isinstance(config, dict):
        raise _invalid("thinking: Input should be a valid dictionary")
    kind = config.get("type")
    if kind not in THINKING_TYPES:
        expected = ", ".join(f"'{t}'" for t in THINKING_TYPES)
        raise _invalid(f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}")
    if kind not in supported:
        others = [t for t in ("adaptive", "enabled") if t in supported]
        advice = f" Use {' or '.join(f'thinking.type.{t}' for t in others)} instead." if others else ""
        raise _invalid(f"thinking.type.{kind} is not supported for this model.{advice}")
    if kind == "enabled":
        budget = config.get("budget_tokens")
        if budget is None:
            raise _invalid("thinking.enabled.budget_tokens: Field required")
        if not _is_int(budget):
            raise _invalid("thinking.enabled.budget_tokens: Input should be a valid integer")
        if budget < 1024:
            raise _invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if budget >= max_tokens:
            raise _invalid(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                f"{_DOCS}#max-tokens-and-context-window-size"
            )
    on = kind in THINKING_ON
    temperature = body.get("temperature")
    if on and temperature is not None and temperature != 1:
        raise _invalid("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode.")
    return on


def _check_tools(body: dict[str, Any], thinking: bool) -> frozenset[str]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise _invalid("tools: Input should be a valid list")
    names: list[str] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise _invalid(f"tools.{i}.name: Field required")
        names.append(tool["name"])
    if len(set(names)) != len(names):
        raise _invalid("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise _invalid("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise _invalid(f"tool_choice.tool.name: no tool named {choice.get('name')!r} in `tools`")
        if thinking and choice["type"] in ("any", "tool"):
            raise _invalid("Thinking may not be enabled when tool_choice forces tool use.")
    return frozenset(names)


def _blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _check_history(messages: list[dict[str, Any]], thinking: bool) -> None:
    """Thinking blocks come back unchanged; tool_use and tool_result pair up, in order."""
    for i, message in enumerate(messages):
        blocks = _blocks(message)
        if message["role"] == "assistant":
            _check_thinking_blocks(i, blocks)
            uses = [b.get("id") for b in blocks if b["type"] == "tool_use"]
            if not uses:
                continue
            following = messages[i + 1] if i + 1 < len(messages) else None
            results = _leading_results(following)
            missing = [u for u in uses if u not in results]
            late = [u for u in missing if u in _all_results(following)]
            if late:
                raise _invalid(
                    f"messages.{i + 1}: `tool_result` blocks for {', '.join(str(u) for u in late)} must come first "
                    "in the message content, before any other content."
                )
            if missing:
                where = i + 1 if following is not None else i
                raise _invalid(
                    f"messages.{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(str(m) for m in missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )
            if thinking and blocks[0]["type"] not in ("thinking", "redacted_thinking"):
                raise _invalid(
                    f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                    f"`{blocks[0]['type']}`. When `thinking` is enabled, a final `assistant` message must start "
                    "with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). "
                    "We recommend you include thinking blocks from previous turns. To avoid this requirement, "
                    f"disable `thinking`. Please consult our documentation at {_DOCS}"
                )
        else:
            previous_uses = {b.get("id") for b in _blocks(messages[i - 1]) if b["type"] == "tool_use"} if i else set()
            for j, block in enumerate(blocks):
                if block["type"] == "tool_result" and block.get("tool_use_id") not in previous_uses:
                    raise _invalid(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )


def _all_results(message: Mapping[str, Any] | None) -> set[Any]:
    if message is None or message.get("role") != "user":
        return set()
    return {b.get("tool_use_id") for b in _blocks(message) if b["type"] == "tool_result"}


def _leading_results(message: Mapping[str, Any] | None) -> set[Any]:
    """The ``tool_use_id`` of the tool results that open ``message`` (a user message)."""
    if message is None or message.get("role") != "user":
        return set()
    ids = set()
    for block in _blocks(message):
        if block["type"] != "tool_result":
            break
        ids.add(block.get("tool_use_id"))
    return ids


def _check_thinking_blocks(i: int, blocks: list[dict[str, Any]]) -> None:
    for j, block in enumerate(blocks):
        if block["type"] == "thinking":
            thinking, signature = block.get("thinking"), block.get("signature")
            if not isinstance(signature, str):
                raise _invalid(f"messages.{i}.content.{j}.thinking.signature: Field required")
            if not isinstance(thinking, str) or not verify_thinking(thinking, signature):
                raise _invalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
        elif block["type"] == "redacted_thinking":
            data = block.get("data")
            if not isinstance(data, str) or not verify_redacted(data):
                raise _invalid(f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block")
