"""Which tools a run gets: the built-ins, user tools, or a mix, each name once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from workbench.agent.tools._decorator import Tool, tool
from workbench.agent.tools.workspace import list_files, read_file, write_file
from workbench.errors import ToolError, UserError

__all__ = ["BUILTIN_TOOLS", "ToolSpec", "resolve_tools", "tool_by_name"]

BUILTIN_TOOLS: dict[str, Tool[..., Any]] = {
    t.name: t for t in (list_files, read_file, write_file)
}
"""The tools every run gets unless told otherwise, by name."""

ToolSpec = Tool[..., Any] | Callable[..., Any] | str
"""One entry of a tool list: a Tool, a plain function (decorated on the fly), or a built-in's name."""


def resolve_tools(
    spec: Sequence[ToolSpec] | ToolSpec | None = None,
) -> list[Tool[..., Any]]:
    """The tools for a run, from what the user asked for.

    Args:
        spec: ``None`` for the built-in tools; otherwise a list of :class:`Tool` objects,
            plain functions (made into tools with :func:`tool`) and names of built-in
            tools (``"read_file"``). A single entry is taken as a list of one. An empty
            list means no tools.

    Raises:
        UserError: for an unknown name (the message lists the built-ins), two tools with
            the same name, or an entry that is not a tool.
    """
    if spec is None:
        return list(BUILTIN_TOOLS.values())
    entries: Iterable[Any] = (
        [spec] if isinstance(spec, (str, Tool)) or callable(spec) else spec
    )
    try:
        entries = list(entries)
    except TypeError:
        raise UserError(
            f"tools must be a list of tools, functions or built-in names, got {spec!r}"
        ) from None

    tools: list[Tool[..., Any]] = []
    seen: set[str] = set()
    for entry in entries:
        resolved = _resolve_one(entry)
        if resolved.name in seen:
            raise UserError(
                f"Two tools are named {resolved.name!r}; tool names must be unique. "
                "Drop one, or rename it with @tool(name=...)."
            )
        seen.add(resolved.name)
        tools.append(resolved)
    return tools


def tool_by_name(
    tools: Iterable[Tool[..., Any]] | Mapping[str, Tool[..., Any]], name: str
) -> Tool[..., Any]:
    """The tool called ``name``, for answering the model's ``tool_use`` block.

    Raises:
        ToolError: when no tool has that name. Its message lists the available tools and
            is meant for the model (e.g. ``ToolOutcome.failure(str(error))``).
    """
    candidates = list(tools.values()) if isinstance(tools, Mapping) else list(tools)
    for candidate in candidates:
        if candidate.name == name:
            return candidate
    available = ", ".join(sorted(t.name for t in candidates)) or "none"
    raise ToolError(f"Unknown tool {name!r}. Available tools: {available}.")


def _resolve_one(entry: object) -> Tool[..., Any]:
    if isinstance(entry, Tool):
        return entry
    if isinstance(entry, str):
        try:
            return BUILTIN_TOOLS[entry]
        except KeyError:
            raise UserError(
                f"Unknown tool {entry!r}. Built-in tools: {', '.join(sorted(BUILTIN_TOOLS))}; "
                "for your own tools pass the function or a @workbench.tool object instead of a name."
            ) from None
    if callable(entry) and not isinstance(entry, type):
        return tool(entry)
    raise UserError(
        f"Cannot use {entry!r} as a tool: give a @workbench.tool function, a plain function, or the "
        f"name of a built-in tool ({', '.join(sorted(BUILTIN_TOOLS))})."
    )
