"""Memory benchmark: what a server holds per finished run and per running run, and the size of a run list.

    python bench/memory.py            # 40 runs of each kind, a few minutes
    python bench/memory.py --quick    # 8 of each, under a minute

Everything goes through a real ``RunService`` (the core both servers share) on a real SQLite
store, with simulated runs of 2,000-character tasks (the generic scenario thinks its way through the
task word by word, so a 50,000-character task, the longest allowed, makes a run of about 150,000
events and 23 MB; these are some 7,000 events and 1 MB):

- per finished run: the growth of the Python memory in use (``tracemalloc``, after
  ``gc.collect()``: what is still referenced, not what the allocator has yet to give back) from
  before the runs to after they have all ended and left the live table, divided by the number
  the service still caches (a cache bounded in count and in bytes; the others hold nothing).
  Set beside it, measured in the same run, is the memory of one such run's log alone, read back
  from the store (its events as Python objects, the least a server that keeps the log in memory
  can hold), and its events' JSON size;
- per running run: the same growth while the runs are all going (slowly, ``pace`` 5), over their number;
- the run list: bytes of ``GET /runs`` as a client gets it by default (one page) and of every run at once.

A benchmark, not a test: it prints figures and says whether the targets are met; it exits 0 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.core.store import MAX_PAGE  # noqa: E402
from workbench.serving.service import FINISHED_CACHE_BYTES, FINISHED_CACHE_SIZE, Principal, RunService  # noqa: E402

TARGET_FINISHED_RATIO = 1.2
"""A cached finished run holds its log and nothing else: at most 1.2 times its log alone."""
TARGET_LIST_MB = 2.0
"""One page of the run list, as a client gets it by default."""

WHO = Principal("bench")


def held_mb() -> float:
    """Python memory in use now (tracemalloc), after a full collection: what is still referenced."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 2**20


TASK_CHARS = 2_000


def task(i: int) -> str:
    words = f"Plan a field trip to the tide pools, day {i}. "
    return (words * (TASK_CHARS // len(words) + 1))[:TASK_CHARS]


async def measure(n: int, tmp: Path) -> dict[str, float]:
    service = RunService(store_path=tmp / "runs.db", workspace_root=tmp / "ws", max_runs_per_user=10_000)
    try:
        warm = service.create(WHO, {"task": task(-1), "model": "simulated"})  # imports, caches
        await warm.wait_async()
        base = held_mb()
        finished = [service.create(WHO, {"task": task(i), "model": "simulated"}) for i in range(n)]
        for run in finished:
            await run.wait_async()
        service.store.flush()
        service.create(WHO, {"task": "one more", "model": "simulated"})  # retires the ended runs
        ended = held_mb()
        events_mb = sum(len(e.to_json()) for e in finished[0].events) / 2**20
        held = sum(1 for r in finished if r.id in service._finished)
        before_copy = held_mb()
        copy = service.store.load(finished[-1].id)  # its log alone: the least a cached run can hold
        log_mb = held_mb() - before_copy
        del copy

        before_live = held_mb()
        going = [service.create(WHO, {"task": task(i), "model": "simulated", "options": {"pace": 5}})
                 for i in range(n)]
        await asyncio.sleep(2.0)
        live = held_mb()
        for run in going:
            run.cancel("the benchmark is done")
        for run in going:
            await run.wait_async()

        page = len(json.dumps(service.list(WHO)).encode()) / 2**20
        everything = len(json.dumps(service.list(WHO, limit=MAX_PAGE)).encode()) / 2**20
        return {"finished": (ended - base) / max(held, 1), "cache": ended - base, "events": events_mb, "log": log_mb, "held": held, "running": (live - before_live) / n,
                "page": page, "all": everything, "runs": 2 * n + 2}
    finally:
        await service.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 runs of each kind instead of 40")
    n = 8 if parser.parse_args().quick else 40
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = tmp
        tracemalloc.start()
        figures = asyncio.run(measure(n, Path(tmp)))
    print(f"Memory per run, {n} simulated runs of each kind, tasks of {TASK_CHARS:,} characters:")
    ratio = figures["finished"] / figures["log"]
    print(f"  finished run (in the cache): {figures['finished']:6.2f} MB   = {ratio:.2f}x its log alone read back from the "
          f"store ({figures['log']:.2f} MB; {figures['events']:.2f} MB as JSON); {figures['held']:.0f} of {n} still "
          "cached, the rest hold nothing")
    print(f"  all {n} finished runs:        {figures['cache']:6.2f} MB   (the cache's bound: "
          f"{FINISHED_CACHE_SIZE} runs, {FINISHED_CACHE_BYTES / 2**20:.0f} MB of JSON)")
    print(f"  running run:                 {figures['running']:6.2f} MB")
    print(f"  GET /runs, default page:     {figures['page']:6.2f} MB   "
          f"(all {figures['runs']:.0f} runs at once: {figures['all']:.2f} MB)")
    met = ratio <= TARGET_FINISHED_RATIO and figures["page"] < TARGET_LIST_MB
    print(f"Targets: a cached finished run <= {TARGET_FINISHED_RATIO:g}x its log, a default page < {TARGET_LIST_MB:g} MB: "
          + ("met" if met else "TARGETS MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
