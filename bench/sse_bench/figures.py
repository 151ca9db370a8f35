"""How the SSE bench prints its figures: the table of every run, one line per case, the extension's
profile, the machine."""

from __future__ import annotations

import io
import pstats
from pathlib import Path
from typing import Any

import report  # bench/report.py
from report import own_time_by_group

from sse_bench.common import LABEL, RATE
from sse_bench.measure import Load


def print_load_table(loads: list[Load]) -> None:
    print(f"   {'server':<21} {'subs':>5} {'rep':>3} {'appended':>9} {'delivered':>11} {'offered':>11} {'p50':>8} "
          f"{'p99':>9} {'max':>7} {'p99 due':>9} {'catch-up':>8} {'server':>6} {'s.wait':>6} {'client':>6} {'c.wait':>6} "
          f"{'c.lag':>7} {'GC n/full/max':>14} {'stalls n/max':>13} {'ev/read':>7}")
    for x in loads:
        gc_text = f"{x.gc['count']:.0f}/{x.gc['full']:.0f}/{x.gc['max_ms']:.0f}ms"
        stall_text = f"{x.gc['stalls']:.0f}/{x.gc['worst_stall_ms']:.0f}ms"
        print(f"   {LABEL[x.kind]:<21} {x.subscribers:>5} {x.rep:>3} {x.append_rate:>7.1f}/s {x.delivered_rate:>9,.0f}/s "
              f"{x.offered_rate:>9,.0f}/s {x.p50_ms:>6.1f}ms {x.p99_ms:>7.1f}ms {x.max_ms:>5.0f}ms {x.p99_from_due_ms:>7.1f}ms "
              f"{x.catch_up_s:>7.2f}s {x.cpu['server']:>6.0%} {x.cpu['server_wait']:>6.0%} {x.cpu['client']:>6.0%} "
              f"{x.cpu['client_wait']:>6.0%} {x.client_lag_p99_ms:>5.1f}ms "
              f"{gc_text:>14} {stall_text:>13} {x.frames_per_read:>7.1f}")


def case_line(load: Load) -> str:
    lo, hi = load.bytes_per_subscriber
    state = "all events, in order, once each" if not load.problems else "PROBLEMS: " + "; ".join(load.problems)
    return (f"delivered {load.delivered_rate:>9,.0f} ev/s (offered {load.offered_rate:>7,.0f}), latency p50 "
            f"{load.p50_ms:6.1f} ms, p99 {load.p99_ms:7.1f} ms, max {load.max_ms:5.0f} ms; server CPU "
            f"{load.cpu['server']:4.0%}; waited for CPU: server {load.cpu['server_wait']:3.0%}, subscribers "
            f"{load.cpu['client_wait']:3.0%}; longest loop stall {load.gc['worst_stall_ms']:.0f} ms "
            f"({load.gc['worst_stall_cpu']:.0%} busy); {load.frames_per_read:.1f} ev/read; "
            f"{lo:,}{'' if lo == hi else f'–{hi:,}'} frame bytes per subscriber; {state}")


def print_profile(path: Path, load: Load, top: int = 22) -> None:
    stats = pstats.Stats(str(path), stream=io.StringIO())
    raw = stats.stats  # type: ignore[attr-defined]
    total, groups = own_time_by_group(raw, _group)
    receipts = load.subscribers * load.events
    print(f"\n   cProfile of the extension's server process (its event loop thread) during one run to "
          f"{load.subscribers:,} subscribers ({load.events:,} events at {RATE:g}/s; {total:.1f} s of profiled CPU; "
          f"profiling slows it down, so read shares, not seconds)")
    print(f"   under the profiler: delivered {load.delivered_rate:,.0f} ev/s, p99 {load.p99_ms:,.0f} ms, "
          f"{load.frames_per_read:.1f} events per read at the client")
    print("   own time by where the code lives:")
    for name, secs in sorted(groups.items(), key=lambda kv: -kv[1]):
        if secs / total >= 0.01:
            print(f"     {name:<42} {secs:6.2f} s {secs / total:6.1%}")
    print(f"   functions by own time (top {top}); calls per (subscriber, event) receipt = calls / {receipts:,}:")
    for (filename, line, name), (_, nc, tt, ct, _) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"     {tt:6.2f} s own {ct:6.2f} s cum {nc:>9,} calls ({nc / receipts:5.2f}/receipt)  {_short(filename)}:{line} {name}")
    wanted = ("encode_event", "to_json", "run_stream", "_send", "flush", "write", "wait_beyond", "_wake", "_push",
              "model_dump_json", "wait_for")
    print("   selected call counts:")
    for (filename, line, name), (_, nc, tt, ct, _) in sorted(raw.items(), key=lambda kv: -kv[1][3]):
        if name in wanted and nc >= load.events:
            print(f"     {nc:>9,} calls ({nc / receipts:5.2f}/receipt) {ct:6.2f} s cum  {_short(filename)}:{line} {name}")


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/workbench/", "/lib/python3"):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return ("workbench/" + tail) if marker == "/workbench/" else tail
    return filename


def _group(filename: str) -> str:
    if "/workbench/" in filename:
        return "workbench (sse, log, events, handlers)"
    for name in ("tornado", "jupyter_server", "pydantic_core", "pydantic", "traitlets", "sqlite3"):
        if f"/site-packages/{name}/" in filename:
            return name
    if filename.startswith(("~", "<")):
        return "builtins (C: socket send, json, pydantic-core…)"
    if "/asyncio/" in filename:
        return "asyncio"
    return "stdlib (other)"


def machine() -> str:
    return report.machine(("anthropic", "httpx2", "pydantic", "pydantic_core", "jupyter_server", "tornado",
                           "aiohttp", "aiohttp_sse"))

def print_idle_trace(before: Path, with_streams: Path, n: int, top: int = 14) -> None:
    """Where the memory of ``n`` idle subscribers went, from two tracemalloc snapshots: by the line that
    allocated it, and by the innermost line of a package (the server's, its framework's) that led there."""
    import tracemalloc

    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    old = tracemalloc.Snapshot.load(str(before)).filter_traces(ignore)
    new = tracemalloc.Snapshot.load(str(with_streams)).filter_traces(ignore)
    diffs = new.compare_to(old, "traceback")
    total = sum(d.size_diff for d in diffs)
    by_line: dict[str, list[int]] = {}
    by_package: dict[str, list[int]] = {}
    for d in diffs:
        frames = list(d.traceback)  # oldest first
        for key, table in ((_where(frames[-1]), by_line), (_package_frame(frames), by_package)):
            sums = table.setdefault(key, [0, 0])
            sums[0] += d.size_diff
            sums[1] += d.count_diff
    print(f"     traced by tracemalloc: {total / n / 1024:.1f} KB per subscriber (the rest of RSS is the allocator's "
          "slack, and what C extensions allocate outside Python's allocator)")
    for title, table in (("allocated at", by_line), ("through (innermost package line)", by_package)):
        print(f"     {title}: KB / blocks per subscriber")
        for key, (size, count) in sorted(table.items(), key=lambda kv: -kv[1][0])[:top]:
            print(f"       {size / n / 1024:6.2f} KB {count / n:6.1f}  {key}")


def _where(frame: Any) -> str:
    name = frame.filename
    for marker in ("site-packages/", "/lib/python3", "/work/"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def _package_frame(frames: list[Any]) -> str:
    """The innermost frame outside the standard library (a package's or the project's), else the innermost."""
    for frame in reversed(frames):
        if "site-packages/" in frame.filename or "/workbench" in frame.filename:
            return _where(frame)
    return _where(frames[-1])
