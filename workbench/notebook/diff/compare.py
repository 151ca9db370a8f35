"""The diff of two runs as they are now: their published events, compared (core/diffing.py)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Union

from workbench.core.diffing import RunDiff, diff_runs

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["RunLike", "as_run", "current_diff", "positions"]

RunLike = Union["Run", str, "os.PathLike[str]"]
"""A run, or the path of a run file (``wb.load``)."""


def as_run(run: RunLike) -> Run:
    """``run`` itself, or the run file at that path."""
    from workbench.core.handle import Run

    if isinstance(run, Run):
        return run
    if isinstance(run, (str, os.PathLike)):
        return Run.from_file(run)
    raise TypeError(f"wb.diff() compares runs or run files, not {type(run).__name__}")


def positions(a: Run, b: Run) -> tuple[int, int]:
    """How far each run has got: its events a viewer may see."""
    return a.log.published, b.log.published


def current_diff(a: Run, b: Run) -> RunDiff:
    """``a`` against ``b``, as far as each has got."""
    n_a, n_b = positions(a, b)
    return diff_runs(a.log.events[:n_a], b.log.events[:n_b])
