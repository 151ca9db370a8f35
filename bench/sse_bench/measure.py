"""What the SSE bench's parent measures with its children: memory per idle subscriber, one load case
(latency, delivery, CPU and its waits, GC and loop stalls), the real simulated run, a profiled case,
and the servers' logs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sse_bench.children import Child, free_port
from sse_bench.common import (
    IDLE_BACKLOG,
    LABEL,
    RATE,
    REAL_PACE,
    SERVER_CPU,
    WORKBENCH,
    Mode,
    cpu_seconds,
    rss_kb,
    run_delay,
)


@dataclass
class Server:
    kind: str
    child: Child
    port: int
    token: str
    label: str
    log_errors: list[str] = field(default_factory=list)
    feeder: Child | None = None
    """The process that creates and feeds the runs: None for the server itself (on its own loop), or the
    Redis path's feeder, which writes them to Redis as a worker does."""
    spread: list[tuple[Child, int]] = field(default_factory=list)
    """More replicas (process, port) serving the same runs: subscribers go round robin over this server and them."""
    others: dict[str, int] = field(default_factory=dict)
    """More server-side processes whose CPU a case measures, by name (redis-server)."""

    def path(self, sid: str) -> str:
        if self.kind == "ext":
            return f"/workbench/api/runs/{sid}/events"
        return f"/api/runs/{sid}/events" if self.kind in BEARER else f"/events/{sid}"

    @property
    def authorization(self) -> str:
        return f"{'Bearer' if self.kind in BEARER else 'token'} {self.token}"

    @property
    def children(self) -> list[Child]:
        """The processes serving the subscribers."""
        return [self.child, *(child for child, _ in self.spread)]

    @property
    def ports(self) -> list[int]:
        return [self.port, *(port for _, port in self.spread)]

    @property
    def feeds(self) -> Child:
        """The process to create and feed runs in."""
        return self.feeder or self.child

    def server_side(self) -> dict[str, int]:
        """The server-side processes besides ``child`` whose CPU a case measures, by name."""
        out = {f"replica {i}": child.pid for i, child in enumerate(self.children[1:], 2)}
        if self.feeder is not None:
            out["feeder"] = self.feeder.pid
        return {**out, **self.others}


BEARER = ("standalone", "replica")
"""The servers whose clients send ``Authorization: Bearer`` (``workbench serve``'s)."""
CLEANS_UP = (*WORKBENCH, "replica")
"""The servers that notice at once that a client went away (the baselines notice at their next write)."""


@dataclass
class Load:
    kind: str
    subscribers: int
    events: int
    append_rate: float
    """Events appended per second, measured (first to last append)."""
    feeder_lag_p99_ms: float
    """How late the feeder appended, against each event's due time (the loop was busy)."""
    delivered: int
    expected: int
    delivered_rate: float
    offered_rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    p99_from_due_ms: float
    """The same p99 measured from each event's due time instead of its append time."""
    catch_up_s: float
    """Last receipt − last append."""
    cpu: dict[str, float]
    """CPU seconds per wall second over the case: server, client, and other processes on each core."""
    gc: dict[str, float]
    """The server's garbage collections during the case: count, full (gen 2), total and longest pause in ms."""
    frames_per_read: float
    bytes_per_subscriber: tuple[int, int]
    problems: list[str]
    client_lag_p99_ms: float
    """p99 of (time.time() after a read − the kernel's receive time): what the subscribers' own delays would add."""
    kernel_stamped: float
    """Share of reads that had a kernel receive time."""
    source: str = "feeder"
    rep: int = 1

    @property
    def disturbed(self) -> float:
        """Seconds per second the server was ready to run but waited for its CPU (other work had it)."""
        return self.cpu.get("server_wait", 0.0)


@dataclass
class Idle:
    kind: str
    subscribers: int
    rss_before_kb: int
    rss_with_kb: int
    rss_after_kb: int
    streams_open: int
    streams_after_close: int | None
    waiters_after_close: int | None
    seconds_to_cleanup: float | None

    @property
    def per_subscriber_kb(self) -> float:
        return (self.rss_with_kb - self.rss_before_kb) / self.subscribers


def start_server(kind: str, feed: Path, tmp: Path, token: str | None = None, name: str | None = None) -> Server:
    """A server child (``token``: the one it accepts, shared by a cluster's replicas; ``name``: its log's, when
    there are several of a kind)."""
    port = free_port()
    token = token or os.urandom(16).hex()
    name = name or kind
    child = Child(["--serve", kind, str(feed), str(port), token, str(tmp)], tmp / f"server-{name}.log", f"{name} server")
    msg = child.message(timeout=60)
    if "ready" not in msg:
        raise RuntimeError(f"{kind} server did not start: {msg}")
    return Server(kind, child, port, token, msg["server"])


def start_client(server: Server, sid: str, n: int, last_id: int, tmp: Path, tag: str) -> tuple[Child, Path]:
    out = tmp / f"times-{server.kind}-{tag}.bin"
    child = Child(["--client", ",".join(str(port) for port in server.ports), server.path(sid), server.authorization, str(n), str(last_id), str(out)],
                  tmp / f"client-{server.kind}-{tag}.log", f"client {tag}")
    return child, out


def wait_connected(client: Child, n: int, timeout: float) -> dict[str, Any]:
    msg = client.message(timeout)
    if msg.get("connected") != n:
        raise RuntimeError(f"{client.name}: only {msg.get('connected')} of {n} subscribers connected: {msg}")
    return msg


def until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def measure_idle(server: Server, n: int, tmp: Path, trace: tuple[Path, Path] | None = None) -> Idle:
    """``n`` idle streams of a live run that has gone quiet; with ``trace``, tracemalloc snapshots of the
    server taken before the streams open and once they are idle, dumped to those two files."""
    child, servers = server.child, server.children
    sid = server.feeds.call({"cmd": "create"})["id"]
    server.feeds.call({"cmd": "append", "id": sid, "indices": list(range(IDLE_BACKLOG))})
    if trace is not None:
        child.call({"cmd": "trace"})
        child.call({"cmd": "trace", "path": str(trace[0])}, timeout=120)

    def collect() -> None:
        for each in servers:
            each.call({"cmd": "gc"})

    def count(what: str) -> int:  # over every process serving the subscribers
        return sum(each.call({"cmd": "counts"})[what] for each in servers)

    def rss() -> int:
        return sum(rss_kb(each.pid) for each in servers)

    collect()
    time.sleep(0.3)
    before = rss()
    client, _ = start_client(server, sid, n, 0, tmp, f"idle{n}")
    try:
        wait_connected(client, n, timeout=60)
        until(lambda: count("streams") >= n, timeout=5)
        time.sleep(0.5)
        collect()
        time.sleep(0.3)
        with_streams = rss()
        open_streams = count("streams")
        if trace is not None:
            child.call({"cmd": "trace", "path": str(trace[1])}, timeout=120)
        client.send({"close": True})
        summary = client.message(timeout=30)
        closed_at = time.monotonic()
        cleanup: float | None = None
        streams_after = waiters_after = None
        if server.kind in CLEANS_UP:
            ok = until(lambda: count("streams") == 0, timeout=3)
            cleanup = time.monotonic() - closed_at if ok else None
            streams_after, waiters_after = count("streams"), count("waiters")
        if summary.get("failed"):
            raise RuntimeError(f"idle subscribers failed: {summary['problems']}")
    finally:
        client.stop()
    server.feeds.call({"cmd": "append", "id": sid, "indices": [-1]})  # end the idle run
    time.sleep(0.2)
    collect()
    after = rss()
    return Idle(server.kind, n, before, with_streams, after, open_streams, streams_after, waiters_after, cleanup)


def pct(values: Any, q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")


def core_busy() -> dict[int, float]:
    """User + nice + system CPU seconds of each core so far (from /proc/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            user, nice, system = (int(v) for v in values[:3])
            out[int(name[3:])] = (user + nice + system) / tick
    return out


class Window:
    """CPU accounting over one case: the server, the client, and how long each waited for its CPU.

    The machine may be shared with other work: a server that is runnable but not running (its
    run-queue delay, from /proc/PID/schedstat) is the direct measure of being disturbed.
    """

    def __init__(self, server_pid: int, client_pid: int, others: dict[str, int] | None = None) -> None:
        self.server_pid, self.client_pid = server_pid, client_pid
        self.others = others or {}
        """More server-side processes (replicas, the feeder, redis-server), measured as the server is."""
        self.t0 = time.time()
        self.cores0 = core_busy()
        self.server0 = cpu_seconds(server_pid)
        self.client0 = cpu_seconds(client_pid)
        self.server_wait0 = run_delay(server_pid)
        self.client_wait0 = run_delay(client_pid)
        self.others0 = {name: (cpu_seconds(pid), run_delay(pid)) for name, pid in self.others.items()}

    def close(self, client_cpu_total: float, client_wait_total: float) -> dict[str, float]:
        wall = time.time() - self.t0
        cores = core_busy()
        server = cpu_seconds(self.server_pid) - self.server0
        client = client_cpu_total - self.client0
        busy = {c: cores[c] - self.cores0.get(c, 0.0) for c in cores}
        others = {name: (cpu_seconds(pid) - self.others0[name][0], run_delay(pid) - self.others0[name][1])
                  for name, pid in self.others.items()}
        return {
            "wall": wall,
            "server": server / wall,
            "client": client / wall,
            "server_wait": (run_delay(self.server_pid) - self.server_wait0) / wall,
            "client_wait": (client_wait_total - self.client_wait0) / wall,
            "others_server_core": max(0.0, busy.get(SERVER_CPU, 0.0) - server - sum(c for c, _ in others.values())) / wall,
            **{name: cpu / wall for name, (cpu, _) in others.items()},
            **{f"{name}_wait": wait / wall for name, (_, wait) in others.items()},
        }


def gc_summary(reply: dict[str, Any]) -> dict[str, float]:
    """The server's collections and its loop's stalls over a case."""
    pauses, stalls = reply["pauses"], reply["stalls"]
    ms = [p[1] * 1000 for p in pauses]
    worst = max(stalls, key=lambda x: x[1], default=(0.0, 0.0, 0.0))
    return {"count": len(ms), "full": sum(1 for p in pauses if p[0] == 2), "total_ms": sum(ms),
            "max_ms": max(ms, default=0.0), "stalls": len(stalls), "stall_ms": sum(x[1] for x in stalls) * 1000,
            "worst_stall_ms": worst[1] * 1000, "worst_stall_cpu": worst[2] / worst[1] if worst[1] else 0.0}


def measure_load(server: Server, n: int, count: int, mode: Mode, tmp: Path, tag: str | None = None,
                 rep: int = 1) -> Load:
    import numpy as np

    child, feeds = server.child, server.feeds
    sid = feeds.call({"cmd": "create"})["id"]
    client, out = start_client(server, sid, n, count, tmp, tag or f"load{n}-{rep}")
    try:
        wait_connected(client, n, timeout=60)
        time.sleep(0.2)
        child.call({"cmd": "gc_pauses"})  # forget the collections so far
        window = Window(child.pid, client.pid, server.server_side())
        start = time.time() + 0.2
        feed_seq = feeds.send({"cmd": "feed", "id": sid, "rate": RATE, "start_at": start,
                               "indices": [*range(count - 1), -1]})
        client.send({"deadline": start + count / RATE + mode.grace})
        fed = feeds.reply(feed_seq, timeout=count / RATE + 60)
        summary, cpu, gc_info = end_window(child, client, window, timeout=mode.grace + 60)
    finally:
        client.stop()
    appended = np.array(fed["times"])
    due = np.array(fed["due"])
    got = receipts(out, n, count)
    return summarize(server.kind, n, appended, due, got, summary, cpu, gc_info, rep=rep)


def end_window(child: Any, client: Any, window: Window, *, timeout: float) -> tuple[dict[str, Any], dict[str, float],
                                                                                dict[str, float]]:
    """Close a measured window: the subscribers' summary, then the CPU and GC figures over it."""
    summary = client.message(timeout=timeout)
    cpu = window.close(summary["cpu_total"], summary["wait_total"])
    return summary, cpu, gc_summary(child.call({"cmd": "gc_pauses"}))


def receipts(out: Path, n: int, events: int) -> Any:
    """The subscribers' receipt times (n × events; 0 for never received), read from the client's file,
    which is then removed."""
    import numpy as np

    got = np.fromfile(out, dtype=np.float64).reshape(n, events + 1)[:, 1:]
    out.unlink()
    return got


def summarize(kind: str, n: int, appended: Any, due: Any, got: Any, summary: dict[str, Any], cpu: dict[str, float],
              gc_info: dict[str, float], source: str = "feeder", timed: Any = None, rep: int = 1) -> Load:
    """Figures of one case; ``timed`` (a mask over events) limits the latency figures to those events."""
    count = len(appended)
    received = got > 0
    delivered = int(received.sum())
    in_latency = received if timed is None else received & timed[None, :]
    latency = (got - appended[None, :])[in_latency] * 1000
    from_due = (got - due[None, :])[in_latency] * 1000 if due is not None else latency
    last_receipt = float(got[received].max()) if delivered else float("nan")
    window = last_receipt - float(appended[0])
    problems = list(summary.get("problems", []))
    if summary.get("unfinished"):
        problems.append(f"{summary['unfinished']} subscribers had not got the last event by the deadline")
    if delivered != n * count:
        problems.append(f"{n * count - delivered:,} of {n * count:,} (subscriber, event) receipts missing")
    if summary.get("disorder"):
        problems.append(f"{summary['disorder']} frames out of order or repeated")
    if summary.get("frames", 0) != delivered:
        problems.append(f"{summary.get('frames', 0) - delivered:+,} frames beyond the events received (repeats?)")
    span = float(appended[-1] - appended[0])
    return Load(
        kind=kind, subscribers=n, events=count,
        append_rate=(count - 1) / span if span > 0 else float("nan"),
        feeder_lag_p99_ms=pct((appended - due) * 1000, 99) if due is not None else 0.0,
        delivered=delivered, expected=n * count,
        delivered_rate=delivered / window if window > 0 else float("nan"),
        offered_rate=n * (count - 1) / span if span > 0 else float("nan"),
        p50_ms=pct(latency, 50), p99_ms=pct(latency, 99), max_ms=float(latency.max()) if len(latency) else float("nan"),
        p99_from_due_ms=pct(from_due, 99),
        catch_up_s=last_receipt - float(appended[-1]),
        cpu=cpu, gc=gc_info,
        frames_per_read=summary["frames"] / max(summary["reads"], 1),
        bytes_per_subscriber=(summary["frame_bytes_min"], summary["frame_bytes_max"]),
        problems=problems, source=source, rep=rep,
        client_lag_p99_ms=summary.get("client_lag_p99_ms", 0.0),
        kernel_stamped=summary.get("kernel_stamps", 0) / max(summary["reads"], 1),
    )


def measure_real_run(server: Server, n: int, seconds: float, bound: int, mode: Mode, tmp: Path) -> Load:
    """The extension with a real simulated run, started through ``RunService.create`` as ``POST /runs`` does.

    The run starts when it is created, and the subscribers need its id to connect, so they
    connect while it goes (with no ``after``: each gets the backlog first). ``seconds`` after
    all have connected, the run is cancelled (``RunService.cancel``), which ends it and every
    stream. Every event counts for delivery; latency counts only the events appended after all
    subscribers were connected.
    """
    import numpy as np

    child = server.child
    seq = child.send({"cmd": "post_run", "body": {"task": "Plan a picnic for twelve people", "model": "simulated",
                                                  "options": {"pace": REAL_PACE, "seed": 0}}})
    sid = child.message(timeout=30)["posted"]
    client, out = start_client(server, sid, n, bound, tmp, f"real{n}")
    try:
        connected = wait_connected(client, n, timeout=60)
        child.call({"cmd": "gc_pauses"})
        window = Window(child.pid, client.pid)
        client.send({"deadline": time.time() + seconds + mode.grace})
        time.sleep(seconds)
        child.call({"cmd": "cancel_run", "id": sid})
        ran = child.reply(seq, timeout=60)
        summary, cpu, gc_info = end_window(child, client, window, timeout=mode.grace + 30)
    finally:
        client.stop()
    appended = np.array(ran["times"])
    count = len(appended)
    if count > bound:
        raise RuntimeError(f"the real run had {count} events, more than the {bound} expected at most")
    got = receipts(out, n, bound)[:, :count]
    timed = appended > summary["t_connected"] + 0.05
    load = summarize("ext", n, appended, None, got, summary, cpu, gc_info,
                     source=f"real run, pace {REAL_PACE:g}, {ran['status']}", timed=timed)
    load.source += (f"; latency over its last {int(timed.sum())} events, appended after all "
                    f"{connected['connected']:,} subscribers had connected")
    return load


def profile_ext(server: Server, n: int, count: int, mode: Mode, tmp: Path) -> tuple[Load, Path]:
    """One case with cProfile on in the server process (its event loop thread)."""
    path = tmp / "ext-profile.pstats"
    server.child.call({"cmd": "profile", "on": True})
    try:
        load = measure_load(server, n, count, mode, tmp, tag="profile")
    finally:
        server.child.call({"cmd": "profile", "on": False, "path": str(path)}, timeout=60)
    return load, path


def scan_log(server: Server) -> tuple[list[str], list[str]]:
    """Error and warning lines in a server's log (stderr), each with the lines that follow it."""
    lines = server.child.tail(2_000_000).splitlines()
    errors, warnings = [], []
    for i, line in enumerate(lines):
        if "Traceback" in line or " ERROR " in line or line.startswith("[E ") or "Exception" in line:
            errors.append(" | ".join(lines[i:i + 4])[:400])
        elif line.startswith("[W ") or " WARNING " in line or "Warning:" in line:
            warnings.append(line[:300])
    return errors, warnings


def report_log(server: Server, bad: list[str]) -> None:
    errors, warnings = scan_log(server)
    if errors:
        print(f"   {LABEL[server.kind]} log: {len(errors)} error lines; first: {errors[0]}")
        bad.append(f"errors in the {LABEL[server.kind]}'s log")
    if warnings:
        print(f"   {LABEL[server.kind]} log: {len(warnings)} warnings; first: {warnings[0]}")
