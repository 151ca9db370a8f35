"""What ``wb.runs()`` returns: the summaries as a list to code, a table in a notebook."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

__all__ = ["RunList"]

_COLUMNS = ("id", "task", "status", "started", "duration", "tokens")


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _duration(summary: dict[str, Any]) -> str:
    start, end = _when(summary.get("createdAt")), _when(summary.get("endedAt"))
    if start is None or end is None:
        return ""
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _tokens(summary: dict[str, Any]) -> str:
    """``tokens`` when the server's summary has them (the contract's summary need not)."""
    tokens = summary.get("tokens")
    if isinstance(tokens, dict):
        return f"{int(tokens.get('input') or 0):,} in · {int(tokens.get('output') or 0):,} out"
    return f"{tokens:,}" if isinstance(tokens, int) else ""


def _cells(summary: dict[str, Any]) -> list[str]:
    started = _when(summary.get("createdAt"))
    task = str(summary.get("task") or "")
    return [
        str(summary.get("id") or ""), task if len(task) <= 80 else task[:79] + "…", str(summary.get("status") or ""),
        started.strftime("%Y-%m-%d %H:%M:%S") if started else "", _duration(summary), _tokens(summary),
    ]


class RunList(list[dict[str, Any]]):
    """The run summaries of :func:`workbench.runs`, newest first: a plain list of dicts to code,
    a table (id, task, status, started, duration, and tokens where the summaries have them) when
    a notebook shows it."""

    def _repr_html_(self) -> str:
        if not self:
            return "<p><em>No runs on this server yet.</em></p>"
        table = [_cells(summary) for summary in self]
        # The tokens column only when the server's summaries have them: an empty column says nothing.
        width = len(_COLUMNS) if any(cells[-1] for cells in table) else len(_COLUMNS) - 1
        head = "".join(f'<th style="text-align: left">{name}</th>' for name in _COLUMNS[:width])
        rows = []
        for summary, cells in zip(self, table, strict=True):
            task = escape(str(summary.get("task") or ""))
            row = [f"<td><code>{escape(cells[0])}</code></td>", f'<td title="{task}">{escape(cells[1])}</td>']
            row += [f"<td>{escape(cell)}</td>" for cell in cells[2:width]]
            rows.append("<tr>" + "".join(row) + "</tr>")
        count = f"{len(self)} run{'s' if len(self) != 1 else ''}, newest first"
        return (f'<table class="workbench-runs"><caption style="text-align: left">{count}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
