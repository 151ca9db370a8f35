"""How a run shows itself, registered from above so that the core knows no view.

The package root registers the notebook's presenter when ``workbench`` is imported. This
module imports nothing heavy, so that registering costs the root nothing: the views, and the
core's own event classes, load only when a run is first shown (or made).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Protocol, TypeVar

__all__ = ["Presenter", "presenter", "register_presenter"]

RunT = TypeVar("RunT", contravariant=True)
"""The run type shown: :class:`workbench.core.handle.Run`, which imports this module (so not the reverse)."""


class Presenter(Protocol[RunT]):
    """How a run shows itself: registered from above (the package root registers the notebook's),
    so that the core knows no view."""

    def display(self, run: RunT) -> None:
        """Show ``run`` in the current notebook output."""

    def view(self, run: RunT) -> Any:
        """The live widget for ``run``."""

    def export_html(self, run: RunT, path: str | os.PathLike[str] | None) -> str:
        """One self-contained HTML page of ``run``; written to ``path`` when given."""


_presenter_factory: Callable[[], Presenter[Any]] | None = None
_presenter: Presenter[Any] | None = None


def register_presenter(factory: Callable[[], Presenter[Any]]) -> None:
    """Show runs with the presenter ``factory`` makes (called once, when a run is first shown)."""
    global _presenter_factory, _presenter
    _presenter_factory, _presenter = factory, None


def presenter() -> Presenter[Any]:
    """The registered presenter, made on first use."""
    global _presenter
    if _presenter is None:
        if _presenter_factory is None:
            raise RuntimeError("no view layer is registered: import workbench (the package) first")
        _presenter = _presenter_factory()
    return _presenter
