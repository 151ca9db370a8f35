"""The agent's tools: the ``@tool`` decorator, the runner, the run context and the built-ins.

Write a tool as a typed function with a docstring and decorate it with :func:`tool`; a
run calls it through :func:`call_tool`, which validates the model's arguments, runs sync
tools in a thread, enforces a timeout and turns every failure into a message for the
model. Tools that need the run's workspace ask :func:`current_context`.

The names below are imported from their modules on first use (PEP 562): the decorator and
the built-in tools need the ``anthropic`` SDK, which ``BUILTIN_TOOL_NAMES`` or ``ToolContext``
should not pull in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.agent.tools._names import BUILTIN_TOOL_NAMES

if TYPE_CHECKING:
    from workbench.agent.tools._context import ToolContext, current_context, use_context
    from workbench.agent.tools._decorator import TOOL_NAME_PATTERN, Tool, tool
    from workbench.agent.tools._registry import BUILTIN_TOOLS, ToolSpec, resolve_tools, tool_by_name
    from workbench.agent.tools._runner import DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_TIMEOUT, ToolOutcome, call_tool
    from workbench.agent.tools.workspace import (
        MAX_FILE_BYTES,
        MAX_LIST_ENTRIES,
        list_files,
        read_file,
        write_file,
    )

__all__ = [
    "BUILTIN_TOOLS",
    "BUILTIN_TOOL_NAMES",
    "DEFAULT_MAX_OUTPUT_CHARS",
    "DEFAULT_TIMEOUT",
    "MAX_FILE_BYTES",
    "MAX_LIST_ENTRIES",
    "TOOL_NAME_PATTERN",
    "Tool",
    "ToolContext",
    "ToolOutcome",
    "ToolSpec",
    "call_tool",
    "current_context",
    "list_files",
    "read_file",
    "resolve_tools",
    "tool",
    "tool_by_name",
    "use_context",
    "write_file",
]

_HOME: dict[str, str] = {
    **dict.fromkeys(("ToolContext", "current_context", "use_context"), "_context"),
    **dict.fromkeys(("TOOL_NAME_PATTERN", "Tool", "tool"), "_decorator"),
    **dict.fromkeys(("BUILTIN_TOOLS", "ToolSpec", "resolve_tools", "tool_by_name"), "_registry"),
    **dict.fromkeys(("DEFAULT_MAX_OUTPUT_CHARS", "DEFAULT_TIMEOUT", "ToolOutcome", "call_tool"), "_runner"),
    **dict.fromkeys(("MAX_FILE_BYTES", "MAX_LIST_ENTRIES", "list_files", "read_file", "write_file"), "workspace"),
}
"""Each lazy name's module, under this package."""


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
