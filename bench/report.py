"""What the benchmarks share: verdicts, the summary table they end with, profile grouping."""

from __future__ import annotations

from typing import Any, Callable, Sequence

MISSED = ("MISSED", "DID NOT FINISH")
"""How a verdict that misses its target begins."""


def verdict(ok: bool, quick: bool = False) -> str:
    """``met`` or ``MISSED``, marked when the sizes were too small to judge (``--quick``)."""
    return ("met" if ok else "MISSED") + (" (quick sizes)" if quick else "")


def print_summary(title: str, rows: Sequence[tuple[str, str, str, str]], *, missed_hint: str = "") -> list[str]:
    """Print the (figure, measured, target, verdict) table and which targets were missed; return those."""
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"\nSummary ({title})")
    for row in (("figure", "measured", "target", "verdict"), *rows):
        print(("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip())
    missed = [r[0] for r in rows if r[3].startswith(MISSED)]
    print(f"  TARGETS MISSED: {', '.join(missed)}{missed_hint}" if missed else "  all targets met")
    return missed


def own_time_by_group(raw: dict[Any, Any], group: Callable[[str], str]) -> tuple[float, dict[str, float]]:
    """From ``pstats.Stats(...).stats``: all own time, and own time per ``group(filename)``."""
    groups: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in raw.items():
        groups[group(filename)] = groups.get(group(filename), 0.0) + tottime
    return sum(groups.values()), groups
