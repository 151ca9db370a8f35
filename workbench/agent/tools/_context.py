"""The run context a tool can ask for: which workspace, which run.

The runner (:func:`workbench.agent.tools.call_tool`) sets it in a :class:`contextvars.ContextVar`
for the duration of one call. Async tools run in the caller's task and see it directly;
sync tools run in a worker thread that starts with a copy of the caller's context, so they
see it too. Code that is not inside a call gets a :class:`~workbench.errors.UserError`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import UserError

__all__ = ["ToolContext", "current_context", "use_context"]


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know about the run that called it."""

    workspace: Path
    """The folder the run's tools work in; the workspace tools never leave it."""
    run_id: str
    """Id of the run making the call."""
    phase_id: str | None = None
    """The phase the call belongs to, when the run has phases."""
    tool_use_id: str | None = None
    """Id of the model's ``tool_use`` block being answered, when known."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else a host wants to hand its tools (clients, settings, …)."""

    def __post_init__(self) -> None:
        # Accept a str for convenience; tools always get a Path.
        if not isinstance(self.workspace, Path):
            object.__setattr__(self, "workspace", Path(self.workspace))


_CURRENT: contextvars.ContextVar[ToolContext] = contextvars.ContextVar(
    "workbench_tool_context"
)


def current_context() -> ToolContext:
    """The :class:`ToolContext` of the tool call in progress.

    Raises:
        UserError: when called outside a tool call (outside :func:`call_tool` or
            :func:`use_context`).
    """
    try:
        return _CURRENT.get()
    except LookupError:
        message = (
            "current_context() was called outside a tool call: tools that need the run's "
            "context (such as the workspace tools) must run through an agent run or "
            "workbench.agent.tools.call_tool(); to call one directly, wrap the call in "
            "`with workbench.agent.tools.use_context(ToolContext(workspace=..., run_id=...)):`"
        )
        raise UserError(message) from None


@contextlib.contextmanager
def use_context(context: ToolContext) -> Iterator[ToolContext]:
    """Make ``context`` the current tool context inside a ``with`` block.

    For calling tools by hand (in a notebook or a test) the way a run would.
    """
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
