"""Runs side by side: ``wb.compare(runs)`` and ``wb.sweep(...)`` (a live table, and its DataFrame)."""

from workbench.notebook.compare.comparison import Comparison, compare, sweep

__all__ = ["Comparison", "compare", "sweep"]
