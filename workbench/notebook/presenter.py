"""The notebook's :class:`~workbench.core.handle.Presenter`: the widget, ``display(run)`` and the HTML export."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["NotebookPresenter"]


class NotebookPresenter:
    def display(self, run: Run) -> None:
        from workbench.notebook.display import display_run

        display_run(run)

    def view(self, run: Run) -> Any:
        from workbench.notebook.widget import RunView

        return RunView(run)

    def export_html(self, run: Run, path: str | os.PathLike[str] | None) -> str:
        from workbench.notebook.widget import export_html

        return export_html(run, path)
