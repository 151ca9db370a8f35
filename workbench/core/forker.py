"""Who forks runs: the core's :class:`~workbench.core.handle.Run` cannot import the agent that runs a
fork, so the package root registers it here (as it registers the notebook's presenter). Light: no
pydantic, no SDK, so ``import workbench`` stays quick."""

from __future__ import annotations

from typing import Any, Callable

from workbench.errors import UserError

__all__ = ["Forker", "forker", "register_forker"]


Forker = Callable[..., Any]
"""``fork(parent, at, **edits) -> Run``: starts a fork of ``parent`` at event ``at``
(``workbench.agent.launch.start_fork``). Typed loosely here: this module may not import the
run it forks (``core.handle`` imports it)."""


_forker: Forker | None = None


def register_forker(fork: Forker) -> None:
    """Fork runs with ``fork`` from now on."""
    global _forker
    _forker = fork


def forker() -> Forker:
    """The registered forker."""
    if _forker is None:
        raise UserError("forking needs the agent: import workbench first")
    return _forker
