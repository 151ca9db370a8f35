"""What the core asks of the agent above it: forking a run, and rebuilding what its model calls were
asked. The core's :class:`~workbench.core.handle.Run` cannot import the agent, so the package root
registers both here (as it registers the notebook's presenter). Light: no pydantic, no SDK, so
``import workbench`` stays quick."""

from __future__ import annotations

from typing import Any, Callable

from workbench.errors import UserError

__all__ = ["Forker", "Conversation", "forker", "register_forker", "conversation", "register_conversation"]

Forker = Callable[..., Any]
"""``fork(parent, at, **edits) -> Run``: starts a fork of ``parent`` at event ``at``
(``workbench.agent.launch.start_fork``). Typed loosely here: this module may not import the
run it forks (``core.handle`` imports it)."""

Conversation = Callable[[Any], list[dict[str, Any]]]
"""``requests(run) -> [params, …]``: the request each model call of ``run`` sent (``system``,
``messages``, …), rebuilt from its log (``workbench.agent.conversation.model_requests_of``)."""

_forker: Forker | None = None
_conversation: Conversation | None = None


def register_forker(fork: Forker) -> None:
    """Fork runs with ``fork`` from now on."""
    global _forker
    _forker = fork


def forker() -> Forker:
    """The registered forker."""
    if _forker is None:
        raise UserError("forking needs the agent: import workbench first")
    return _forker


def register_conversation(rebuild: Conversation) -> None:
    """Rebuild the requests of a run's model calls with ``rebuild`` from now on."""
    global _conversation
    _conversation = rebuild


def conversation() -> Conversation | None:
    """The registered rebuilder, if any (a run's trace then carries each call's input)."""
    return _conversation
