"""Fork benchmark: forking a long run near its end costs its remaining model calls, not the whole run.

    python bench/fork.py            # full run, about 2 minutes
    python bench/fork.py --quick    # smoke test, about 15 s

Everything goes through the real path of a run against the API: the simulator served over a
socket (``workbench.simulator.serve``), the ``anthropic`` SDK with ``ANTHROPIC_BASE_URL`` set
and a ``claude-…`` model id, the orchestrator and the run log. The simulator streams at a
``pace`` (deltas per second), so each model call takes a model call's time (about half a
second in the full mode), and it counts the ``POST /v1/messages`` requests it answers.

1. Fresh: a long plan run (plan, phases of two turns, a ``write_file`` call in each phase's
   first turn, a final answer), timed from ``wb.run`` to its end; its model requests.
2. Forks of that run, each timed from ``run.fork(at=…)`` to its end, with the requests it made
   and the time to its ``run:forked`` event (copying and replaying the prefix, no model call):
   after the last phase's end (only the final answer is left), at the last ``tool:complete``
   (that phase's closing turn and the final answer are left), and after 25, 50 and 75 % of
   the parent's model calls.

Each fork must make exactly the requests the parent made after the fork point (otherwise the
bench exits 1); its time is compared with the fresh run's share for those requests, since
a fork's worth is that it pays only for what is left. Medians of a few repetitions, each
fork taken from its own repetition's parent. The machine is shared (2 cores): model-call
time is mostly the simulator's pacing, so the figures vary little with load, but the prefix
copy is CPU work.

This is a benchmark, not a test: it prints figures, says plainly when a target is missed, and
exits 0 either way (1 only if a run misbehaved).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import report  # bench/report.py
from report import print_summary, verdict

MODEL = "claude-sonnet-4-6"
KEY = "sk-ant-api03-fork-bench-key-0123456789abcdef"
TASK = "Benchmark forks with a long run"

TARGET_SHARE = 1.25
"""A fork may take at most 1.25 × the fresh run's time per request × the requests it makes ..."""
TARGET_SLACK_S = 0.25
"""... plus this much for copying and replaying the prefix (which grows with the run)."""


@dataclass(frozen=True)
class Mode:
    name: str
    phases: int
    words: int
    """Words per thinking/text block, one word per delta."""
    pace: float
    """Deltas per second."""
    reps: int


FULL = Mode("full", phases=8, words=60, pace=240.0, reps=3)
QUICK = Mode("quick", phases=3, words=20, pace=240.0, reps=1)


# --- environment and scenario ----------------------------------------------------------------


def isolate_environment(tmp: Path) -> None:
    """A private workbench home and no credentials of the machine's, so only the simulator is asked."""
    os.environ["WORKBENCH_HOME"] = str(tmp / "home")
    os.environ["ANTHROPIC_CONFIG_DIR"] = str(tmp / "anthropic-config")
    for name in ("ANTHROPIC_AUTH_TOKEN", "WORKBENCH_MODEL", "ANTHROPIC_PROFILE"):
        os.environ.pop(name, None)
    os.environ["ANTHROPIC_API_KEY"] = KEY


def scenario_body(mode: Mode, seed: int = 7) -> dict[str, Any]:
    """A plan run of ``mode.phases`` phases of two turns (a tool call in the first), and a final answer."""
    rng = random.Random(seed)
    vocab = ["tide", "moon", "salt", "shore", "wave", "the", "a", "of", "and", "slow", "light", "sand"]

    def block() -> str:
        return " ".join(rng.choices(vocab, k=mode.words))

    numbers = range(1, mode.phases + 1)
    return {
        "format": "workbench-scenario",
        "version": 1,
        "plan": {"goal": "A long run to fork near its end",
                 "phases": [{"name": f"Phase {i}", "description": f"Part {i} of the work"} for i in numbers],
                 "thinking": block()},
        "phases": [
            [{"thinking": block(), "text": block(),
              "toolCalls": [{"name": "write_file", "input": {"path": f"part-{i}.md", "content": block()}}]},
             {"thinking": block(), "text": block()}]
            for i in numbers
        ],
        "final": {"thinking": block(), "text": block()},
    }


# --- one measurement -------------------------------------------------------------------------


@dataclass
class Timed:
    seconds: float
    """From starting the run (``wb.run`` or ``run.fork``) to its end."""
    requests: int
    """``POST /v1/messages`` the simulator answered for it."""
    status: str
    to_forked: float | None = None
    """A fork only: from ``run.fork`` to its ``run:forked`` event (the prefix copied and replayed)."""
    expected_requests: int | None = None
    """A fork only: the parent's model calls after the fork point."""
    events_copied: int | None = None


async def timed(start: Any, simulator: Any) -> tuple[Any, Timed]:
    """Start a run with ``start()``, wait for its end; its time and the requests it made."""
    before = simulator.requests
    t0, wall0 = time.perf_counter(), time.time()
    run = start()
    await asyncio.wait_for(run.wait_async(), 600)
    seconds = time.perf_counter() - t0
    to_forked = None
    if run.forked_at is not None:  # the marker's own timestamp (ms): it may come before any listener is added
        marker = run.events[run.forked_at]
        to_forked = datetime.fromisoformat(marker.ts).timestamp() - wall0
    return run, Timed(seconds, simulator.requests - before, run.state.status, to_forked=to_forked)


def fork_points(parent: Any) -> dict[str, int]:
    """Where to fork, by name: event ids of the parent.

    "After k of the n calls" is the event just before the (k+1)-th answer: its call has not
    answered yet, so the fork copies the k turns before it, their tool calls included.
    """
    answers = [e.id for e in parent.events if e.type == "model:response"]
    points = {f"after {p} % of the calls": answers[round(len(answers) * p / 100)] - 1 for p in (25, 50, 75)}
    points["at the last tool:complete"] = max(e.id for e in parent.events if e.type == "tool:complete")
    points["after the last phase"] = max(e.id for e in parent.events if e.type == "phase:complete")
    return points


async def one_rep(simulator: Any) -> tuple[Timed, dict[str, Timed], int]:
    """A fresh run, then each fork of it; the run's event count."""
    import workbench as wb

    parent, fresh = await timed(lambda: wb.run(TASK, model=MODEL), simulator)
    answers = [e.id for e in parent.events if e.type == "model:response"]
    forks: dict[str, Timed] = {}
    for name, at in fork_points(parent).items():
        fork, result = await timed(lambda at=at: parent.fork(at=at), simulator)
        result.expected_requests = sum(1 for a in answers if a > fork.forked_at)
        result.events_copied = fork.forked_at
        forks[name] = result
        if fork.result != parent.result:
            result.status += " (A DIFFERENT RESULT)"
    return fresh, forks, len(parent.events)


async def measure(mode: Mode, scenario: Path) -> tuple[Timed, list[Timed], dict[str, list[Timed]], int]:
    from workbench.simulator import Simulator, load_scenario, serve

    simulator = Simulator(load_scenario(scenario), pace=mode.pace, api_key=KEY)
    async with serve(simulator) as base_url:
        os.environ["ANTHROPIC_BASE_URL"] = base_url
        warm, _, _ = await one_rep(simulator)  # warm-up: imports, first connections
        fresh: list[Timed] = []
        forks: dict[str, list[Timed]] = {}
        events = 0
        for _ in range(mode.reps):
            f, fs, events = await one_rep(simulator)
            fresh.append(f)
            for name, t in fs.items():
                forks.setdefault(name, []).append(t)
    return warm, fresh, forks, events


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing (about 15 s)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="workbench-bench-fork-"))
    try:
        return bench(mode, tmp, args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def machine() -> str:
    return report.machine(("anthropic", "httpx2", "aiohttp", "pydantic"), load=True)


def bench(mode: Mode, tmp: Path, quick: bool) -> int:
    started = time.perf_counter()
    # The SDK warns once that ANTHROPIC_API_KEY shadows its credential discovery: here that is the point.
    logging.getLogger("anthropic").setLevel(logging.ERROR)
    isolate_environment(tmp)
    scenario = tmp / "scenario.json"
    scenario.write_text(json.dumps(scenario_body(mode)), encoding="utf-8")
    print(f"Agent Workbench fork benchmark ({mode.name} mode)")
    print(f"machine: {machine()}")

    warm, fresh, forks, events = asyncio.run(measure(mode, scenario))
    bad = any(t.status != "complete" for t in [warm, *fresh, *(t for ts in forks.values() for t in ts)])
    requests = fresh[0].requests
    fresh_s = statistics.median(t.seconds for t in fresh)
    per_call = fresh_s / requests
    print(f"\nA plan run of {mode.phases} phases × 2 turns (a write_file call each phase) and a final answer: "
          f"{events:,} events, {requests} model requests, {mode.words} words per block at {mode.pace:g} deltas/s; "
          f"simulator over a socket, the SDK, model {MODEL}; 1 warm-up + {mode.reps} reps, medians")
    header = ("run", "time", "× fresh", "requests", "expected", "to run:forked", "events copied")
    lines = [("fresh run", f"{fresh_s:.2f} s", "1.00", str(requests), "", "", "")]
    rows: list[tuple[str, str, str, str]] = []
    for name, ts in forks.items():
        seconds = statistics.median(t.seconds for t in ts)
        to_forked = statistics.median(t.to_forked or 0.0 for t in ts)
        made, expected = ts[0].requests, ts[0].expected_requests
        wrong = [t for t in ts if t.requests != t.expected_requests]
        bad |= bool(wrong)
        lines.append((f"fork {name}", f"{seconds:.2f} s", f"{seconds / fresh_s:.2f}",
                      str(made) if not wrong else f"{[t.requests for t in ts]} WRONG", str(expected),
                      f"{to_forked * 1000:.0f} ms", f"{ts[0].events_copied:,}"))
        budget = TARGET_SHARE * per_call * (expected or 0) + TARGET_SLACK_S
        rows.append((f"fork {name}", f"{seconds:.2f} s ({made} req)", f"≤ {budget:.2f} s",
                     verdict(seconds <= budget and not wrong, quick)))
    widths = [max(len(line[i]) for line in (header, *lines)) for i in range(len(header))]
    for line in (header, *lines):
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))))
    print(f"\n  fresh run: {per_call:.2f} s per model request; a fork's target is {TARGET_SHARE} × that per request "
          f"it makes + {TARGET_SLACK_S:g} s for its prefix")
    print_summary("medians; the fresh run measured in this same run", rows)
    return report.finish(started, machine(), bad)


if __name__ == "__main__":
    sys.exit(main())
