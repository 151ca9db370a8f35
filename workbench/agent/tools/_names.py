"""The names of the built-in tools, without the tools: what servers and clients check names against.

Importing the tools themselves builds their schemas with the ``anthropic`` SDK; a server that only
validates ``allowed_tools`` at start, or a client naming them in a message, needs just the names.
"""

from __future__ import annotations

__all__ = ["BUILTIN_TOOL_NAMES"]

BUILTIN_TOOL_NAMES: tuple[str, ...] = ("list_files", "read_file", "write_file")
"""The names of :data:`~workbench.agent.tools.BUILTIN_TOOLS`, in the same order (a test checks)."""
