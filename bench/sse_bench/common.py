"""What every part of the SSE bench shares: targets, sizes, the modes, and the helpers of its processes
(pinning, the ``@@ {json}`` protocol lines, /proc readings)."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTRY = Path(__file__).resolve().parents[1] / "sse.py"
"""The bench's script: the parent starts its children by running it again (``--serve``, ``--client``)."""

# --- targets and sizes -----------------------------------------------------------------------

RATE = 200.0
"""Events appended per second (the issue's target scenario)."""
SUBSCRIBERS = (10, 100, 1000)
IDLE_SUBSCRIBERS = 1000
TARGET_P99_MS = 100.0
TARGET_IDLE_KB = 20.0
TARGET_DELIVERY_RATIO = 0.99
"""Aggregate delivery at least that of the aiohttp-sse baseline; 1 % is allowed for measurement noise
(when both servers deliver everything, both rates are the offered rate give or take a few ms)."""

DISTURBED = 0.05
"""A run whose server waited for its CPU (run-queue delay) more than this share of the time is 'disturbed':
the machine may be shared with other work, and those waits show up as latency."""

SERVER_CPU = 0
CLIENT_CPU = 1
CONNECT_IN_FLIGHT = 64
"""Connections being opened at once (the servers listen with a backlog of 128)."""
IDLE_BACKLOG = 20
"""Events an idle stream has before it goes quiet (each idle subscriber gets them, then waits)."""
PREFIX = "@@ "
"""Lines of the parent ↔ child protocol on the children's stdout start with this."""
KINDS = ("aiohttp-sse", "tornado", "ext")
"""The servers of the load cases."""
IDLE_KINDS = (*KINDS, "standalone")
"""The servers whose idle subscribers are measured: those, and ``workbench serve``."""
WORKBENCH = ("ext", "standalone")
LABEL = {"ext": "Jupyter extension", "standalone": "workbench serve", "tornado": "Tornado baseline",
         "aiohttp-sse": "aiohttp-sse baseline", "replica": "workbench serve --redis", "feeder": "feeder (worker)"}


@dataclass(frozen=True)
class Mode:
    name: str
    duration: float
    """Seconds of events per case."""
    grace: float
    """Seconds after the last append that subscribers may take to get everything."""
    whatif_duration: float
    """Seconds of events of the profiled run and of each what-if run."""
    real_seconds: float | None
    """How long the real simulated run cross-check streams before it is cancelled (None: skipped)."""
    reruns: int
    """Runs of disturbed cases made again, in all (the 1,000-subscriber cases first)."""


FULL = Mode("full", duration=10.0, grace=20.0, whatif_duration=5.0, real_seconds=8.0, reruns=4)
QUICK = Mode("quick", duration=2.0, grace=8.0, whatif_duration=1.5, real_seconds=None, reruns=0)
REAL_PACE = 200.0
"""Pace of the real simulated run (content deltas per second)."""


# --- the processes' helpers ------------------------------------------------------------------


def raise_nofile(want: int = 65_536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


PRIORITY = -10
"""Niceness of the bench's processes where allowed, so other processes on a shared machine disturb less."""


def become_child(cpu: int) -> None:
    """Pin this process to one CPU, raise its priority where allowed, and die with the parent."""
    try:
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    except (AttributeError, OSError):
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = int(os.environ.get("SSE_BENCH_PARENT", "0"))
    if parent and os.getppid() != parent:  # the parent is already gone
        sys.exit(1)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
    sys.stdout.flush()


def stdin_commands(handle: Any) -> None:
    """Read JSON commands from stdin in a daemon thread and hand each to ``handle``."""

    def reader() -> None:
        for line in sys.stdin:
            line = line.strip()
            if line:
                handle(json.loads(line))
        handle({"cmd": "quit"})  # stdin closed: the parent is gone

    threading.Thread(target=reader, daemon=True, name="bench-stdin").start()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_delay(pid: int) -> float:
    """Seconds the process's main thread has spent runnable but waiting for a CPU (/proc/PID/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0
