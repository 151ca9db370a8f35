"""Who forks runs: the core's :class:`~workbench.core.handle.Run` cannot import the agent that runs a
fork, so the package root registers it here (as it registers the notebook's presenter). Light: no
pydantic, no SDK, so ``import workbench`` stays quick."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from workbench.errors import UserError

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["Forker", "forker", "register_forker"]


class Forker(Protocol):
    """Starts a fork of ``parent`` at event ``at`` (``workbench.agent.launch.start_fork``)."""

    def __call__(self, parent: Run, at: int, **edits: Any) -> Run: ...


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
