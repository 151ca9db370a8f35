"""The tool registry: which tools a run gets (``resolve_tools``) and finding one by name."""

from __future__ import annotations

import pytest

from workbench.agent.tools import (
    BUILTIN_TOOLS,
    Tool,
    ToolOutcome,
    list_files,
    read_file,
    resolve_tools,
    tool,
    tool_by_name,
    write_file,
)
from workbench.errors import ToolError, UserError


def test_resolve_tools() -> None:
    assert resolve_tools(None) == [list_files, read_file, write_file]
    assert resolve_tools([]) == []

    @tool
    def mine(x: int) -> int:
        """Mine."""
        return x

    def plain(y: str) -> str:
        """Plain."""
        return y

    tools = resolve_tools([mine, plain, "read_file"])
    assert [t.name for t in tools] == ["mine", "plain", "read_file"]
    assert tools[0] is mine and tools[2] is read_file
    assert isinstance(tools[1], Tool) and tools[1].func is plain
    assert resolve_tools("write_file") == [write_file]

    with pytest.raises(UserError) as info:
        resolve_tools(["read_file", "rm_rf"])
    assert str(info.value).startswith(
        "Unknown tool 'rm_rf'. Built-in tools: list_files, read_file, write_file"
    )
    with pytest.raises(UserError, match="Two tools are named 'read_file'"):
        resolve_tools(["read_file", read_file])
    with pytest.raises(UserError, match="Two tools are named 'mine'"):
        resolve_tools([mine, tool(name="mine")(plain)])
    with pytest.raises(UserError, match="Cannot use 42 as a tool"):
        resolve_tools([42])  # type: ignore[list-item]


def test_tool_by_name() -> None:
    tools = resolve_tools(None)
    assert tool_by_name(tools, "read_file") is read_file
    assert tool_by_name(BUILTIN_TOOLS, "write_file") is write_file
    with pytest.raises(ToolError) as info:
        tool_by_name(tools, "delete_everything")
    assert (
        str(info.value)
        == "Unknown tool 'delete_everything'. Available tools: list_files, read_file, write_file."
    )
    failure = ToolOutcome.failure(str(info.value))
    assert (failure.is_error, failure.result, failure.content) == (
        True,
        str(info.value),
        str(info.value),
    )
