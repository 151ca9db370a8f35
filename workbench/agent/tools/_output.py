"""Turning what a tool returned (or raised) into text for the model and data for the log."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core

from workbench.errors import ToolError

__all__ = [
    "describe_exception",
    "describe_validation_error",
    "format_seconds",
    "relative_to_workspace",
    "to_result",
    "truncate",
    "valid_text",
]

try:  # The SDK's own ToolError means the same thing as ours: a message for the model.
    from anthropic.lib.tools import ToolError as _SdkToolError
except ImportError:  # pragma: no cover - older SDKs
    _SdkToolError = ToolError  # type: ignore[misc,assignment]  # ours stands in for the missing class


# A str may hold lone surrogates (how Python decodes bytes that are not UTF-8, e.g. in file
# names); they cannot be encoded, so one in an event would lose the whole run file.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    # U+DC80..U+DCFF stand for the undecodable bytes 0x80..0xFF: show the byte.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: each lone surrogate becomes a visible escape, ``\\xff`` for
    the byte 0xFF of a file name that is not UTF-8 (so two such names stay apart)."""
    return _SURROGATE.sub(_escape_surrogate, text)


def to_result(value: Any) -> tuple[Any, str]:
    """``(result, content)`` for a returned value.

    ``result`` is JSON data (what a run file would read back, so tuples become lists and
    keys become strings), or ``str(value)`` when the value has no JSON form. ``content``
    is the text for the model: a string as is, anything else as compact JSON. Both are
    valid text (see :func:`valid_text`).
    """
    if isinstance(value, str):
        text = valid_text(value)
        return text, text
    try:
        text = _json_text(value)
    except (TypeError, ValueError, pydantic_core.PydanticSerializationError):
        text = valid_text(str(value))
        return text, text
    # Surrogates can only be inside JSON strings here; escape the escape's backslash for JSON.
    text = _SURROGATE.sub(lambda match: "\\" + _escape_surrogate(match), text)
    return json.loads(text), text


def _json_text(value: Any) -> str:
    """Compact JSON; pydantic knows models, dataclasses, dates, paths, sets, …; NaN is not JSON."""
    dump = functools.partial(json.dumps, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return dump(pydantic_core.to_jsonable_python(value))
    except UnicodeEncodeError:
        # pydantic refuses lone surrogates; the json module keeps them (escaped by the caller)
        # and asks pydantic only for what it does not know.
        return dump(value, default=pydantic_core.to_jsonable_python)


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
