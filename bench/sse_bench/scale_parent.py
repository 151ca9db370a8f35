"""The course of ``bench/scale.py``: one run at 200 events/s to many subscribers through one in-process
server and through replicas on Redis, the figures of each case, what one more replica adds, and how many
subscribers a core would hold on each path."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from report import finish_listing, machine, print_summary  # bench/report.py

from sse_bench.children import free_port
from sse_bench.common import CLIENT_CPU, DISTURBED, PRIORITY, RATE, SERVER_CPU, Mode, become_child, raise_nofile
from sse_bench.feed import build_feed
from sse_bench.measure import Idle, Load, Server, measure_idle, measure_load, report_log, start_server

REDIS_SERVER = "/usr/bin/redis-server"
READ_SIZE = 16384
"""Bytes per read of the subscribers (the SSE bench's: 4 KB): 3,000 subscribers at 200 events/s are 600,000
frames/s for one process, which 4 KB reads cannot take; a subscriber that keeps up reads less anyway."""
CLIENT_BOUND = 0.9
"""The subscribers' process busy this share of CPU 1 or more: the figures may be the clients' limit, not the servers'."""
SATURATED = 0.85
"""CPU 0 busy this share of the time or more (the bench's processes and others): the serving side was saturated."""


@dataclass(frozen=True)
class ScaleMode:
    load: Mode
    sizes: tuple[int, int]
    """Subscribers of the smaller and the larger cases."""
    idle: int
    """Idle subscribers of the memory measurement."""


FULL = ScaleMode(Mode("full", duration=10.0, grace=20.0, whatif_duration=0.0, real_seconds=None, reruns=0),
                 (1000, 3000), 1000)
QUICK = ScaleMode(Mode("quick", duration=2.0, grace=10.0, whatif_duration=0.0, real_seconds=None, reruns=0),
                  (300, 900), 300)


@dataclass
class Case:
    path: str
    """'in-process', 'redis ×2' or 'redis ×1'."""
    replicas: int
    load: Load

    @property
    def subscriber_events(self) -> int:
        return self.load.delivered

    def seconds(self, name: str) -> float:
        """CPU seconds of one measured process over the case."""
        return self.load.cpu.get(name, 0.0) * self.load.cpu["wall"]

    @property
    def serving_cpu(self) -> float:
        """CPU seconds of the processes serving the subscribers: the one server, or the replicas."""
        return self.seconds("server") + sum(self.seconds(f"replica {i}") for i in range(2, self.replicas + 1))

    @property
    def per_subscriber_event_us(self) -> float:
        return self.serving_cpu / self.subscriber_events * 1e6 if self.subscriber_events else float("nan")

    @property
    def per_core(self) -> float:
        """Subscribers one core of serving would hold at this rate: 1 / (CPU s per subscriber-event × rate)."""
        return 1e6 / (self.per_subscriber_event_us * RATE)

    @property
    def saturated(self) -> bool:
        """Whether CPU 0 was all but full: the serving processes then write more events at a time to keep up, which
        lowers their cost per subscriber-event, so the per-core figure is what that core held at least."""
        cpu = self.load.cpu
        side = sum(v for k, v in cpu.items() if k in ("server", "feeder", "redis") or k.startswith("replica ")
                   and not k.endswith("_wait"))
        return side + cpu["others_server_core"] >= SATURATED

    @property
    def client_bound(self) -> bool:
        """Whether the subscribers' process used all but all of CPU 1: it may then have held the servers back."""
        return self.load.cpu["client"] >= CLIENT_BOUND

    def per_event_us(self, name: str, per: int = 1) -> float:
        """CPU µs of one process per event appended (``per``: divided among that many replicas)."""
        return self.seconds(name) / self.load.events / per * 1e6


class RedisProcess:
    """A real ``redis-server`` on a free loopback port, no persistence, in its own folder, pinned to the servers'
    CPU and niced as the bench's children are; it dies with the bench."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = open(folder / "redis.log", "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--protected-mode", "no"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=lambda: become_child(SERVER_CPU))  # noqa: PLW1509
        self.pid = self.proc.pid
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                self.version = str(client.info("server")["redis_version"])
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


def print_idle(name: str, idle: Idle, processes: int) -> None:
    print(f"   {name:<26} RSS {idle.rss_before_kb / 1024:.1f} → {idle.rss_with_kb / 1024:.1f} MB "
          f"({'summed over ' + str(processes) + ' replicas, ' if processes > 1 else ''}{idle.streams_open:,} idle "
          f"streams) = {idle.per_subscriber_kb:.1f} KB per subscriber")


def case_row(case: Case) -> str:
    x = case.load
    cpu = x.cpu
    if case.path == "in-process":
        server = f"server {cpu['server']:4.0%}"
        wait = f"{cpu['server_wait']:3.0%}"
    else:
        replicas = [cpu["server"], *(cpu[f"replica {i}"] for i in range(2, case.replicas + 1))]
        waits = [cpu["server_wait"], *(cpu[f"replica {i}_wait"] for i in range(2, case.replicas + 1))]
        server = (f"replicas {'+'.join(f'{r:.0%}' for r in replicas)}, feeder {cpu['feeder']:.0%}, "
                  f"redis {cpu['redis']:.1%}")
        wait = "/".join(f"{w:.0%}" for w in waits)
    state = "all events, in order, once each" if not x.problems else "PROBLEMS: " + "; ".join(x.problems)
    if case.client_bound:
        state += "; CLIENT-BOUND: the subscribers' process had all of CPU 1, so these figures may be its limit"
    return (f"delivered {x.delivered_rate:>9,.0f} ev/s (offered {x.offered_rate:>7,.0f}), latency p50 {x.p50_ms:6.1f} ms, "
            f"p99 {x.p99_ms:7.1f} ms, max {x.max_ms:5.0f} ms; CPU: {server}, clients {cpu['client']:.0%}; "
            f"serving waited for its CPU {wait}; {case.per_subscriber_event_us:.2f} µs serving CPU per "
            f"subscriber-event; {x.frames_per_read:.1f} ev/read; {state}")


def print_table(cases: list[Case]) -> None:
    print(f"   {'path':<10} {'subs':>5} {'delivered':>11} {'offered':>11} {'p50':>8} {'p99':>9} {'max':>7} "
          f"{'serving CPU':>13} {'µs/sub-ev':>9} {'feeder':>6} {'redis':>6} {'redis µs/ev/repl':>16} {'clients':>7} "
          f"{'s.wait':>6} {'c.wait':>6} {'others':>6} {'subs/core':>10}")
    for case in cases:
        x, cpu = case.load, case.load.cpu
        redis = case.path != "in-process"
        wait = max([cpu["server_wait"], *(cpu.get(f"replica {i}_wait", 0.0) for i in range(2, case.replicas + 1))])
        print(f"   {case.path:<10} {x.subscribers:>5} {x.delivered_rate:>9,.0f}/s {x.offered_rate:>9,.0f}/s "
              f"{x.p50_ms:>6.1f}ms {x.p99_ms:>7.1f}ms {x.max_ms:>5.0f}ms {case.serving_cpu / cpu['wall']:>12.0%} "
              f"{case.per_subscriber_event_us:>9.2f} "
              f"{cpu['feeder'] if redis else float('nan'):>6.0%} {cpu['redis'] if redis else float('nan'):>6.1%} "
              f"{case.per_event_us('redis', case.replicas) if redis else float('nan'):>16.1f} {cpu['client']:>7.0%} "
              f"{wait:>6.0%} {cpu['client_wait']:>6.0%} {cpu['others_server_core']:>6.0%} "
              f"{('≥ ' if case.saturated else '') + f'{case.per_core:,.0f}':>10}")


def bench(mode: ScaleMode, tmp: Path) -> int:
    started = time.perf_counter()
    from sse_bench.parent import isolate

    isolate(tmp)
    limit = raise_nofile()
    os.environ["SSE_BENCH_READ_SIZE"] = str(READ_SIZE)  # for the client child
    small, big = mode.sizes
    load_mode = mode.load
    count = int(RATE * load_mode.duration)
    print(f"Agent Workbench scale benchmark ({load_mode.name} mode)")
    print(f"machine: {machine(('aiohttp', 'redis'), load=True)}")
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})  # this parent sleeps while measuring; keep it off the servers' CPU
    except (AttributeError, OSError):
        pass
    feed_path = tmp / "feed.jsonl"
    feed = build_feed(feed_path, count)
    print(f"load: one run, {count:,} events appended at {RATE:g} events/s ({load_mode.duration:g} s) per case, "
          f"{feed['frame_bytes'] / count:.0f} bytes per SSE frame on average; {small:,} and {big:,} subscribers")
    print(f"processes: every server-side process (the in-process server; the replicas, the feeder and redis-server) "
          f"pinned to CPU {SERVER_CPU}, so they share one core; the subscribers (raw sockets, one epoll loop, one "
          f"process, spread round robin over the replicas) and this parent pinned to CPU {CLIENT_CPU}; nice "
          f"{PRIORITY} where allowed; loopback; open-files limit {limit:,}. Latency = the client kernel's receive "
          "time (SO_TIMESTAMPNS) − the feeder's time.time() right before the append, same clock.")
    bad: list[str] = []
    cases: list[Case] = []
    idles: dict[str, Idle] = {}

    def run_case(path: str, server: Server, replicas: int, n: int) -> Case:
        case = Case(path, replicas, measure_load(server, n, count, load_mode, tmp, tag=f"{path}-{n}"))
        cases.append(case)
        print(f"   {path:<10} {n:>5} subs: {case_row(case)}")
        if case.load.problems:
            bad.append(f"{path} at {n}: {'; '.join(case.load.problems)}")
        return case

    def warm_up_and_idle(path: str, server: Server, replicas: int, *, tag: str) -> None:
        """A short load to warm the path up, then the memory of its idle subscribers."""
        warm = measure_load(server, 20, min(200, count), load_mode, tmp, tag=tag)
        if warm.problems:
            bad.append(f"{path} warm-up: {warm.problems}")
        idles[path] = measure_idle(server, mode.idle, tmp)
        print_idle("memory per idle subscriber", idles[path], replicas)

    print("\n1. In-process: `workbench serve`'s application, one process, the run fed on its own loop (today's path)")
    local = start_server("standalone", feed_path, tmp)
    try:
        print(f"   ({local.label}; pid {local.child.pid})")
        warm_up_and_idle("in-process", local, 1, tag="warm")
        for n in mode.sizes:
            run_case("in-process", local, 1, n)
    finally:
        local.child.stop()
    report_log(local, bad)

    redis = RedisProcess(tmp / "redis")
    os.environ["WORKBENCH_REDIS_URL"] = redis.url  # the replicas and the feeder find it there, as the real ones do
    servers: list[Server] = []
    try:
        token = os.urandom(16).hex()
        feeder = start_server("feeder", feed_path, tmp, token=token)
        servers.append(feeder)
        replicas = [start_server("replica", feed_path, tmp, token=token, name=f"replica-{i}") for i in (1, 2)]
        servers.extend(replicas)
        a, b = replicas
        print(f"\n2. On Redis: redis-server {redis.version} (pid {redis.pid}, no persistence), a feeder process "
              f"playing the worker ({feeder.label}: the run's row as RedisRunStore.add writes it, its events "
              f"through the real EventWriter), and two replicas ({a.label}; pids {a.child.pid}, {b.child.pid}), "
              "each following the run with one blocking XREAD loop")
        two = Server("replica", a.child, a.port, token, a.label, feeder=feeder.child, spread=[(b.child, b.port)],
                     others={"redis": redis.pid})
        one = Server("replica", a.child, a.port, token, a.label, feeder=feeder.child,
                     others={"replica 2 (idle)": b.child.pid, "redis": redis.pid})
        warm_up_and_idle("redis", two, 2, tag="warm-redis")
        for n in mode.sizes:
            run_case("redis ×2", two, 2, n)
        run_case("redis ×1", one, 1, big)
    finally:
        for server in servers:
            server.child.stop()
        redis.stop()
    for server in servers:
        report_log(server, bad)

    by = {(c.path, c.load.subscribers): c for c in cases}
    print("\n3. Every case (serving CPU = CPU seconds per second of the in-process server, or of the replicas together; "
          "µs/sub-ev = serving CPU per event delivered to one subscriber; feeder/redis = their CPU seconds per second; "
          "redis µs/ev/repl = redis-server's CPU per event appended, per replica following the run; s.wait = the "
          "longest a serving process waited for its CPU, seconds per second (behind the other server-side processes, "
          "and other work); others = CPU 0's time taken by processes outside the bench; subs/core = 1 / (µs/sub-ev × "
          f"{RATE:g} ev/s): the subscribers one core of serving would hold at this rate and this batching, '≥' where "
          f"CPU 0 was {SATURATED:.0%} busy or more, as the servers then batch more events per write to keep up)")
    print_table(cases)
    disturbed = [f"{c.path} at {c.load.subscribers:,} (others {c.load.cpu['others_server_core']:.0%} of CPU 0, "
                 f"subscribers waited {c.load.cpu['client_wait']:.0%})" for c in cases
                 if c.load.cpu["others_server_core"] >= DISTURBED or c.load.cpu["client_wait"] >= 2 * DISTURBED]
    if disturbed:
        print(f"   disturbed by other work on the machine: {', '.join(disturbed)}; their latencies are pessimistic")
    bound = [f"{c.path} at {c.load.subscribers:,}" for c in cases if c.client_bound]
    if bound:
        print(f"   client-bound ({CLIENT_BOUND:.0%} of CPU 1 or more for the subscribers): {', '.join(bound)}; their "
              "latency and delivery may be the subscribers' limit, not the servers'")

    ref, more = by[("redis ×1", big)], by[("redis ×2", big)]
    print(f"\n4. What one more replica adds, at {big:,} subscribers (2 replicas ÷ 1, measured in this run; the replicas "
          "share one core here, so this is the cost of spreading, not the capacity of a second machine):")
    print(f"   delivered events/s {more.load.delivered_rate / ref.load.delivered_rate:.2f}× "
          f"({more.load.delivered_rate:,.0f} / {ref.load.delivered_rate:,.0f}); p99 "
          f"{more.load.p99_ms / ref.load.p99_ms:.2f}× ({more.load.p99_ms:,.1f} / {ref.load.p99_ms:,.1f} ms); replica "
          f"CPU per subscriber-event {more.per_subscriber_event_us / ref.per_subscriber_event_us:.2f}× "
          f"({more.per_subscriber_event_us:.2f} / {ref.per_subscriber_event_us:.2f} µs); redis-server CPU "
          f"{more.seconds('redis') / ref.seconds('redis'):.2f}× ({more.load.cpu['redis']:.1%} / "
          f"{ref.load.cpu['redis']:.1%} of a core)")
    inproc = by[("in-process", big)]
    print(f"   against the in-process path at {big:,}: delivered {more.load.delivered_rate / inproc.load.delivered_rate:.2f}×, "
          f"p99 {more.load.p99_ms / inproc.load.p99_ms:.2f}×, serving CPU per subscriber-event "
          f"{more.per_subscriber_event_us / inproc.per_subscriber_event_us:.2f}×")

    print(f"\n5. Subscribers per core at {RATE:g} events/s, from the figures above (1 / (serving CPU per "
          f"subscriber-event × {RATE:g})); on a larger machine each replica process takes a core, and the per-run costs "
          "(the feeder, i.e. the worker, and redis-server) come on top:")
    for path in ("in-process", "redis ×2", "redis ×1"):
        sized = [c for c in cases if c.path == path]
        print(f"   {path:<10} " + "; ".join(
            f"{'at least ' if c.saturated else ''}{c.per_core:,.0f} per core (measured at {c.load.subscribers:,}: "
            f"{c.per_subscriber_event_us:.2f} µs per subscriber-event, {c.load.frames_per_read:.1f} events per read, "
            f"p99 {c.load.p99_ms:,.0f} ms)" for c in sized))
    print("   ('at least' where CPU 0 was saturated: a server behind writes more events at a time, so its cost per "
          "subscriber-event falls as load grows, at the price of latency; the smallest case shows the cost at light "
          "batching)")
    print(f"   per run, not per subscriber: the feeder (worker side: EventWriter) {ref.per_event_us('feeder'):.0f} µs "
          f"per event; redis-server {ref.per_event_us('redis'):.0f} µs per event with 1 replica following, "
          f"{more.per_event_us('redis', 2):.0f} µs per event per replica with 2 ({more.per_event_us('redis'):.0f} µs in "
          "all): it grows with replicas and runs, not subscribers")

    rows = [
        (f"delivered ev/s, {big:,} subscribers",
         (f"in-process {inproc.load.delivered_rate:,.0f}; redis ×2 {more.load.delivered_rate:,.0f}; "
         f"redis ×1 {ref.load.delivered_rate:,.0f}"), "(no target)", ""),
        (f"p99 append → receipt, {big:,} subscribers",
         f"in-process {inproc.load.p99_ms:,.1f} ms; redis ×2 {more.load.p99_ms:,.1f}; redis ×1 {ref.load.p99_ms:,.1f}",
         "(no target)", ""),
        ("memory per idle subscriber", (f"in-process {idles['in-process'].per_subscriber_kb:.1f} KB; replicas "
                                       f"{idles['redis'].per_subscriber_kb:.1f} KB"), "(no target)", ""),
        ("one more replica (×2 ÷ ×1)", (f"delivered {more.load.delivered_rate / ref.load.delivered_rate:.2f}×, p99 "
                                       f"{more.load.p99_ms / ref.load.p99_ms:.2f}×, CPU per subscriber-event "
                                       f"{more.per_subscriber_event_us / ref.per_subscriber_event_us:.2f}×"),
         "(no target)", ""),
        ("subscribers per core", f"in-process {inproc.per_core:,.0f}; redis replicas {more.per_core:,.0f}", "(no target)",
         ""),
    ]
    print_summary(f"{RATE:g} events/s for {load_mode.duration:g} s per case, all in this run", rows)
    return finish_listing(started, bad)

