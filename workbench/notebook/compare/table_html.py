"""A comparison as a plain HTML table: what a notebook saved without its widgets shows (GitHub, nbviewer)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from workbench.core.comparison import CompareRow

__all__ = ["cells", "comparison_html"]

HEADINGS = ("#", "status", "model", "phases", "tools", "errors", "tokens", "cost", "time", "result")


def _money(cost: float | None) -> str:
    return "" if cost is None else f"${cost:.4f}"


def _seconds(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def cells(row: CompareRow) -> list[str]:
    """The row's cells as text, in the order of ``HEADINGS`` with the options after the model."""
    options = ["—" if value is None else str(value) for value in row.options.values()]
    phases = f"{row.phases_done}/{row.phases_total}" if row.phases_total else ""
    counts = ["", "", ""] if row.status == "queued" else [str(row.tool_calls), str(row.tool_errors), f"{row.tokens:,}"]
    return [str(row.index + 1), row.status, row.model, *options, phases, *counts, _money(row.cost_usd),
            _seconds(row.duration_ms), row.result]


def comparison_html(rows: Sequence[CompareRow], progress: str) -> str:
    keys = list(rows[0].options) if rows else []
    headings = [*HEADINGS[:3], *keys, *HEADINGS[3:]]
    head = "".join(f"<th>{escape(name)}</th>" for name in headings)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells(row)) + "</tr>" for row in rows)
    return f"<div><p>{escape(progress)}</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
