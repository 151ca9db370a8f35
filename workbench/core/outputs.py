"""What a run wrote: the files of its successful ``write_file`` calls, read from its events.

A call a person edited before it ran (``tool:decision`` ``edit``) wrote the path of its edited
params; a denied one wrote nothing (its ``tool:complete`` is an error).

The events are the record, not the folder: a workspace may be reused by several runs (the
``workspace`` option), and may hold files the agent only read, so a scan of it would claim
files this run never wrote. A tool of one's own that writes files is not seen here.
"""

from __future__ import annotations

import os
from typing import Iterable

from workbench.core import events as ev

__all__ = ["WRITE_TOOLS", "written_paths"]

WRITE_TOOLS = frozenset({"write_file"})
"""The built-in tools that write a file named by their ``path`` parameter (agent/tools/workspace.py)."""


def written_paths(events: Iterable[ev.Event]) -> list[str]:
    """Workspace-relative paths written by successful write calls, each once, in the order first written."""
    pending: dict[str, str] = {}
    seen: dict[str, None] = {}
    for event in events:
        data = event.data
        if isinstance(data, ev.ToolStartData) and data.tool_name in WRITE_TOOLS:
            _note(pending, data.tool_use_id, data.params)
        elif isinstance(data, ev.ToolDecisionData) and data.params is not None and data.tool_use_id in pending:
            _note(pending, data.tool_use_id, data.params)  # it runs with these instead
        elif isinstance(data, ev.ToolCompleteData):
            path = pending.pop(data.tool_use_id, None)
            if path is not None and not data.is_error:
                seen.setdefault(path, None)
    return list(seen)


def _note(pending: dict[str, str], tool_use_id: str, params: dict[str, object]) -> None:
    path = params.get("path")
    if isinstance(path, str) and path.strip():
        pending[tool_use_id] = os.path.normpath(path).replace(os.sep, "/")  # as the tool reads it
    else:
        pending.pop(tool_use_id, None)
