"""What the benchmarks share: verdicts, the summary table they end with, profile grouping, the machine."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
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


def machine(packages: Sequence[str], *, load: bool = False) -> str:
    """Two lines naming the machine and the versions of ``packages`` (a label: nothing here may fail)."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for name in packages:
        try:
            module = __import__(name)
            versions.append(f"{name} {getattr(module, '__version__', getattr(module, 'version', '?'))}")
        except Exception:  # noqa: BLE001, S110 - only for the label
            pass
    average = ""
    if load:
        try:
            average = "; load average %.1f, %.1f, %.1f" % os.getloadavg()
        except OSError:
            pass
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
        f"{platform.machine()}; {os.cpu_count()} cores ({usable} usable){', ' + cpu if cpu else ''}{average}\n"
        f"         {', '.join(versions)}"
    )


def finish(started: float, machine_line: str, bad: bool) -> int:
    """The benchmark's last lines; its exit status (1 only if a run misbehaved)."""
    print(f"machine: {machine_line}")
    print(f"bench took {time.perf_counter() - started:.0f} s")
    if bad:
        print("SOMETHING WENT WRONG (see above): the figures are not to be trusted")
    return 1 if bad else 0


def finish_listing(started: float, problems: Sequence[str]) -> int:
    """The last lines of a benchmark that names each thing that went wrong; its exit status (1 if any did)."""
    print(f"bench took {time.perf_counter() - started:.0f} s")
    if problems:
        print("SOMETHING WENT WRONG (the figures around it are not to be trusted):")
        for line in problems:
            print(f"  - {line}")
    return 1 if problems else 0
