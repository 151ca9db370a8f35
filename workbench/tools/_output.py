"""Turning what a tool returned (or raised) into text for the model and data for the log."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core

from ..errors import ToolError

__all__ = [
    "describe_exception",
    "describe_validation_error",
    "format_seconds",
    "relative_to_workspace",
    "to_result",
    "truncate",
]

try:  # The SDK's own ToolError means the same thing as ours: a message for the model.
    from anthropic.lib.tools import ToolError as _SdkToolError
except ImportError:  # pragma: no cover - older SDKs
    _SdkToolError = ToolError  # type: ignore[misc,assignment]


def to_result(value: Any) -> tuple[Any, str]:
    """``(result, content)`` for a returned value.

    ``result`` is JSON data (what a run file would read back, so tuples become lists and
    keys become strings), or ``str(value)`` when the value has no JSON form. ``content``
    is the text for the model: a string as is, anything else as compact JSON.
    """
    if isinstance(value, str):
        return value, value
    try:
        # pydantic knows models, dataclasses, dates, paths, sets, …; NaN is not JSON.
        text = json.dumps(
            pydantic_core.to_jsonable_python(value),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        )
    except (TypeError, ValueError, pydantic_core.PydanticSerializationError):
        text = str(value)
        return text, text
    return json.loads(text), text


def truncate(text: str, limit: int) -> str:
    """Keep the first ``limit`` characters of ``text`` and say how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n…[truncated {len(text) - limit:,} characters]"


def describe_exception(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"``, or just the message of a :class:`ToolError`."""
    message = str(exc)
    if isinstance(exc, (ToolError, _SdkToolError)):
        return message or type(exc).__name__
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def describe_validation_error(tool_name: str, error: pydantic.ValidationError) -> str:
    """One line per problem, worded so the model can fix its call."""
    lines = [f"Invalid arguments for tool {tool_name!r}:"]
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(arguments)"
        line = f"- {where}: {item['msg']}"
        if item["type"] not in (
            "missing",
            "missing_argument",
            "missing_keyword_only_argument",
        ):
            shown = repr(item.get("input"))
            line += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        lines.append(line)
    return "\n".join(lines)


def relative_to_workspace(message: str, workspace: Path) -> str:
    """``message`` with the workspace's absolute path taken out: ``<ws>/notes.md`` reads ``notes.md``
    and ``<ws>`` itself ``.``, as the model names them (an OSError's text holds the full path)."""
    roots = {os.path.abspath(workspace), os.path.realpath(workspace)}
    for root in sorted(roots, key=len, reverse=True):
        if root == os.sep:
            continue
        # The root itself, or followed by a separator; never a sibling such as '<ws>2'.
        pattern = re.escape(root) + r"(?:" + re.escape(os.sep) + r"|(?![\w.-]))"
        message = re.sub(pattern, lambda m: "" if m.group(0).endswith(os.sep) else ".", message)
    return message


def format_seconds(seconds: float) -> str:
    """``2.0``, ``0.25``, ``60.0``: at most three decimals, at least one."""
    text = f"{seconds:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
