"""The agent's tools: the ``@tool`` decorator, the runner, the run context and the built-ins.

Write a tool as a typed function with a docstring and decorate it with :func:`tool`; a
run calls it through :func:`call_tool`, which validates the model's arguments, runs sync
tools in a thread, enforces a timeout and turns every failure into a message for the
model. Tools that need the run's workspace ask :func:`current_context`.
"""

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
