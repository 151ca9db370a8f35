"""Two runs side by side (``wb.diff(a, b)``): the widget, and the same view as an offline HTML page."""

from __future__ import annotations

from workbench.notebook.diff.compare import RunLike, as_run
from workbench.notebook.diff.export import diff_html
from workbench.notebook.diff.view import DiffView

__all__ = ["DiffView", "diff", "diff_html"]


def diff(a: RunLike, b: RunLike) -> DiffView:
    """Runs ``a`` and ``b`` (runs, or paths of run files) side by side, in a widget.

    Their shared prefix is one line, the first divergence is marked, then both are aligned by
    phase and step, each difference highlighted, with time and token deltas and a diff of the
    final results. It follows runs that go on. ``.diff`` is the comparison itself
    (:class:`workbench.core.diffing.RunDiff`); ``.to_html(path)`` writes it as one offline page.
    """
    return DiffView(as_run(a), as_run(b))
