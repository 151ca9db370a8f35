"""The SSE bench's parent: its course from starting the servers to the summary, and the verdicts."""

from __future__ import annotations

import os
import time
from pathlib import Path

from report import finish_listing, print_summary, verdict  # bench/report.py

from sse_bench.common import (
    CLIENT_CPU,
    DISTURBED,
    IDLE_BACKLOG,
    IDLE_KINDS,
    IDLE_SUBSCRIBERS,
    KINDS,
    LABEL,
    PRIORITY,
    RATE,
    REAL_PACE,
    SERVER_CPU,
    SUBSCRIBERS,
    TARGET_DELIVERY_RATIO,
    TARGET_IDLE_KB,
    TARGET_P99_MS,
    WORKBENCH,
    Mode,
    raise_nofile,
    rss_kb,
)
from sse_bench.feed import build_feed
from sse_bench.figures import case_line, machine, print_idle_trace, print_load_table, print_profile
from sse_bench.measure import (
    Idle,
    Load,
    Server,
    measure_idle,
    measure_load,
    measure_real_run,
    profile_ext,
    report_log,
    start_server,
)


def isolate(tmp: Path) -> None:
    from engine import isolate_environment

    isolate_environment(tmp)
    for name, sub in (("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")):
        os.environ[name] = str(tmp / sub)
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    os.environ.pop("JUPYTER_PATH", None)


WHAT_IFS = (
    ("undurable", "streams send events as they are appended, not once the store has them (what waiting for the "
                  "store costs)"),
    ("young700", ("young_collection_threshold back to Python's 700 (young collections every 700 new objects, so "
                  "the streams' waits move to older generations, and full collections come every second or two)")),
    ("unfreeze", "freeze_startup_objects off (gc.unfreeze(): full collections walk the server's start-up objects again)"),
)
"""What-if changes made inside the extension's server process (never in the package), cumulative."""


def print_idle(server: Server, idle: Idle, bad: list[str]) -> None:
    kind = server.kind
    cleanup = ""
    if idle.streams_after_close is not None:
        cleanup = (f"; once the clients left: {idle.streams_after_close} streams, {idle.waiters_after_close} log "
                   "waiters " + (f"(all gone {idle.seconds_to_cleanup * 1000:.0f} ms after the close)"
                                 if idle.seconds_to_cleanup is not None else "(NOT cleaned up within 3 s)"))
        if idle.streams_after_close or idle.waiters_after_close:
            bad.append(f"{kind}: streams left behind after idle clients went away")
    probe = server.child.call({"cmd": "gc_probe"})
    try:
        nice = f"nice {os.getpriority(os.PRIO_PROCESS, server.child.pid)}"
    except OSError:
        nice = "nice ?"
    print(f"   {LABEL[kind]:<21} ({server.label}; pid {server.child.pid}, {nice}): RSS "
          f"{idle.rss_before_kb / 1024:.1f} → {idle.rss_with_kb / 1024:.1f} MB with {idle.streams_open:,} idle "
          f"streams = {idle.per_subscriber_kb:.1f} KB per subscriber (RSS {idle.rss_after_kb / 1024:.1f} MB after "
          f"they closed){cleanup}; one full garbage collection: {probe['ms']:.0f} ms over "
          f"{probe['objects']:,} objects" + (f" ({probe['frozen']:,} more left out of it by gc.freeze())"
                                             if probe["frozen"] else ""))


def trace_idle(mode: Mode, tmp: Path) -> int:
    """``--trace-idle``: memory per idle subscriber of each server, and where the workbench servers' goes
    (tracemalloc, from before the subscribers connect until all are idle)."""
    isolate(tmp)
    raise_nofile()
    print("Agent Workbench SSE benchmark: where an idle subscriber's memory goes")
    print(f"machine: {machine()}")
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})
    except (AttributeError, OSError):
        pass
    feed_path = tmp / "feed.jsonl"
    build_feed(feed_path, int(RATE * mode.duration))
    bad: list[str] = []
    for kind in IDLE_KINDS:
        server = start_server(kind, feed_path, tmp)
        try:
            measure_load(server, 20, 200, mode, tmp, tag="warm")
            idle = measure_idle(server, IDLE_SUBSCRIBERS, tmp)  # untraced: tracemalloc's own memory is in RSS
            print_idle(server, idle, bad)
            if kind in WORKBENCH:
                before, with_streams = tmp / f"trace-{kind}-0", tmp / f"trace-{kind}-1"
                measure_idle(server, IDLE_SUBSCRIBERS, tmp, trace=(before, with_streams))
                print_idle_trace(before, with_streams, IDLE_SUBSCRIBERS)
        finally:
            server.child.stop()
        report_log(server, bad)
    for line in bad:
        print(f"  - {line}")
    return 1 if bad else 0


def bench(mode: Mode, tmp: Path, quick: bool, force_profile: bool) -> int:
    started = time.perf_counter()
    isolate(tmp)
    limit = raise_nofile()
    print(f"Agent Workbench SSE benchmark ({mode.name} mode)")
    print(f"machine: {machine()}")
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})  # this parent sleeps while measuring; keep it off the server's CPU
    except (AttributeError, OSError):
        pass
    count = int(RATE * mode.duration)
    feed_path = tmp / "feed.jsonl"
    feed = build_feed(feed_path, count)
    print(f"load: {count:,} events appended at {RATE:g} events/s ({mode.duration:g} s) per case, to "
          f"{', '.join(f'{n:,}' for n in SUBSCRIBERS)} subscribers; {feed['frame_bytes'] / count:.0f} bytes per SSE "
          f"frame on average (events of {feed['runs']} simulated run{'s' if feed['runs'] > 1 else ''} of the generic "
          f"scenario); the extension's run is fed by the bench's feeder on the server's own event loop")
    print(f"processes: each server pinned to CPU {SERVER_CPU}; the subscribers (raw sockets, one epoll loop, one "
          f"process) and this parent pinned to CPU {CLIENT_CPU}; servers and subscribers at nice {PRIORITY} where "
          f"allowed; loopback; open-files limit {limit:,}. Receipt times are the client kernel's (SO_TIMESTAMPNS). A case "
          f"where the server was ready to run but not running more than {DISTURBED:.0%} of the time (run-queue delay) "
          f"is 'disturbed' and run again ({mode.reruns} more runs at most, 1,000 subscribers and the extension first); "
          f"the least disturbed run of each case is judged.")

    bad: list[str] = []
    runs: dict[tuple[str, int], list[Load]] = {}
    idles: dict[str, Idle] = {}
    servers: dict[str, Server] = {}
    real: Load | None = None

    print("\n1. Servers, warm-up, and memory per idle subscriber (1,000 idle streams of a live run that has gone quiet "
          f"after {IDLE_BACKLOG} events; RSS after gc.collect(), on a fresh server)")
    for kind in IDLE_KINDS:
        server = servers[kind] = start_server(kind, feed_path, tmp)
        warm = measure_load(server, 20, min(200, count), mode, tmp, tag="warm")
        if warm.problems:
            bad.append(f"{kind} warm-up: {warm.problems}")
        idle = idles[kind] = measure_idle(server, IDLE_SUBSCRIBERS, tmp)
        print_idle(server, idle, bad)
        if kind not in KINDS:  # measured idle only
            server.child.stop()
            report_log(server, bad)

    print(f"\n2. Load: {RATE:g} events/s for {mode.duration:g} s, the three servers one after the other at each size")
    for n in SUBSCRIBERS:
        for kind in KINDS:
            runs[(kind, n)] = [measure_load(servers[kind], n, count, mode, tmp)]
            print(f"   {LABEL[kind]:<21} {n:>5} subs: {case_line(runs[(kind, n)][0])}")
    order = sorted(runs, key=lambda key: (-key[1], KINDS[::-1].index(key[0])))  # 1,000 first; ext first

    def most_reps(key: tuple[str, int]) -> int:  # the judged cases may be run three times
        return 3 if key[1] == SUBSCRIBERS[-1] and key[0] != "aiohttp-sse" else 2

    for _ in range(mode.reruns):
        todo = [key for key in order
                if min(r.disturbed for r in runs[key]) > DISTURBED and len(runs[key]) < most_reps(key)]
        if not todo:
            break
        kind, n = min(todo, key=lambda key: (len(runs[key]), order.index(key)))
        reps = runs[(kind, n)]
        reps.append(measure_load(servers[kind], n, count, mode, tmp, rep=len(reps) + 1))
        print(f"   {LABEL[kind]:<21} {n:>5} subs, again (rep {len(reps)}): {case_line(reps[-1])}")
    for (kind, n), reps in runs.items():
        for load in reps:
            if load.problems:
                bad.append(f"{kind} at {n} (rep {load.rep}): {'; '.join(load.problems)}")
    loads = {key: min(reps, key=lambda r: r.disturbed) for key, reps in runs.items()}

    if mode.real_seconds is not None:
        real = measure_real_run(servers["ext"], SUBSCRIBERS[-1], mode.real_seconds, feed["first_run_events"] + 50,
                                mode, tmp)
        print(f"   cross-check: a real simulated run (RunService.create as POST /runs does; model simulated, pace "
              f"{REAL_PACE:g}), cancelled after {mode.real_seconds:g} s, to {real.subscribers:,} subscribers: "
              f"{real.events} events, appended at {real.append_rate:.0f} ev/s; {case_line(real)}")
        print(f"      ({real.source})")
        if real.problems:
            bad.append(f"ext real run: {real.problems}")
    for kind in KINDS[:-1]:
        servers[kind].child.stop()
        report_log(servers[kind], bad)

    # --- verdicts ------------------------------------------------------------------------------
    top = SUBSCRIBERS[-1]
    ext, aio, tor = loads[("ext", top)], loads[("aiohttp-sse", top)], loads[("tornado", top)]
    p99_ok = ext.p99_ms < TARGET_P99_MS
    delivery_ratio = ext.delivered_rate / aio.delivered_rate
    delivery_ok = delivery_ratio >= TARGET_DELIVERY_RATIO
    idle_ok = all(idles[kind].per_subscriber_kb < TARGET_IDLE_KB for kind in WORKBENCH)
    missed = not (p99_ok and delivery_ok and idle_ok)

    print("\n3. Every run (latency = client receipt − server append over every (subscriber, event) pair; 'p99 due' from "
          "the feeder's schedule instead, so it adds the feeder's own lag behind a busy loop; catch-up = last receipt − "
          "last append; server/client = CPU seconds per second of that process; s.wait/c.wait = seconds per second "
          "it was ready to run but not running (run-queue delay: other work on the machine, or this VM waking an idle "
          "CPU); c.lag = p99 of how much later than the kernel's receive time "
          "the subscribers read their data, which is not counted; GC = the server's collections: count/full/longest "
          "pause; stalls = turns of the server's event loop that ran 30 ms or more late: count/longest)")
    unstamped = [x for reps in runs.values() for x in reps if x.kernel_stamped < 0.99]
    if unstamped:
        print(f"   (the kernel gave no receive time for some reads in {len(unstamped)} runs: those reads count from "
              "time.time() after the read)")
    print_load_table([r for n in SUBSCRIBERS for k in KINDS for r in runs[(k, n)]] + ([real] if real else []))
    print("\n4. Ratios to the baselines (the least disturbed run of each; same subscribers, stream and rate)")
    for n in SUBSCRIBERS:
        e, a, t = loads[("ext", n)], loads[("aiohttp-sse", n)], loads[("tornado", n)]
        print(f"   {n:>5} subscribers: delivery ext/aiohttp-sse {e.delivered_rate / a.delivered_rate:5.2f}×, "
              f"ext/tornado {e.delivered_rate / t.delivered_rate:5.2f}×; p99 ext/aiohttp-sse "
              f"{e.p99_ms / a.p99_ms:6.2f}×, ext/tornado {e.p99_ms / t.p99_ms:6.2f}×   "
              f"(p99 {e.p99_ms:.1f} / {a.p99_ms:.1f} / {t.p99_ms:.1f} ms; server CPU {e.cpu['server']:.0%} / "
              f"{a.cpu['server']:.0%} / {t.cpu['server']:.0%})")
    for kind in WORKBENCH:
        print(f"   idle memory per subscriber: {kind} {idles[kind].per_subscriber_kb:.1f} KB = "
              f"{idles[kind].per_subscriber_kb / idles['aiohttp-sse'].per_subscriber_kb:.2f}× aiohttp-sse "
              f"({idles['aiohttp-sse'].per_subscriber_kb:.1f} KB), "
              f"{idles[kind].per_subscriber_kb / idles['tornado'].per_subscriber_kb:.2f}× tornado "
              f"({idles['tornado'].per_subscriber_kb:.1f} KB)")
    held = servers["ext"].child.call({"cmd": "live_runs"})
    print(f"   the extension's server after all this: RSS {rss_kb(servers['ext'].child.pid) / 1024:.1f} MB; "
          f"RunService._live holds {held['runs']} runs ({held['finished']} finished) with {held['events']:,} events "
          f"(it was {idles['ext'].rss_before_kb / 1024:.1f} MB before the first stream)")

    if (missed and not quick) or force_profile:
        whatif_count = int(RATE * mode.whatif_duration)
        print(f"\n5. Profile: {'a target was missed, so ' if missed else ''}the extension again at {top:,} "
              f"subscribers, {whatif_count:,} events at {RATE:g}/s, with cProfile on in its server process")
        load, path = profile_ext(servers["ext"], top, whatif_count, mode, tmp)
        print_profile(path, load)
        print(f"\n6. What-if: changes made inside the extension's server process only (the package is "
              f"not changed), each then measured at {top:,} subscribers, {whatif_count:,} events at {RATE:g}/s")
        before = measure_load(servers["ext"], top, whatif_count, mode, tmp, tag="what-if-none")
        print(f"   as shipped (same size, for comparison): {case_line(before)}")
        print(f"     (GC in the run: {before.gc['count']:.0f} collections, {before.gc['full']:.0f} full, longest "
              f"{before.gc['max_ms']:.0f} ms; feeder p99 lag {before.feeder_lag_p99_ms:.0f} ms)")
        for what, text in WHAT_IFS:
            servers["ext"].child.call({"cmd": "experiment", "what": what})
            probe = servers["ext"].child.call({"cmd": "gc_probe"})
            x = measure_load(servers["ext"], top, whatif_count, mode, tmp, tag=f"what-if-{what}")
            print(f"   {text}: {case_line(x)}")
            print(f"     (a full collection now takes {probe['ms']:.0f} ms; GC in the run: {x.gc['count']:.0f} "
                  f"collections, {x.gc['full']:.0f} full, longest {x.gc['max_ms']:.0f} ms; feeder p99 lag "
                  f"{x.feeder_lag_p99_ms:.0f} ms)")
            if x.problems:
                bad.append(f"what-if {what}: {'; '.join(x.problems)}")
    servers["ext"].child.stop()
    report_log(servers["ext"], bad)

    # --- summary -------------------------------------------------------------------------------
    rows = [
        (f"p99 latency, {top:,} subscribers, {RATE:g} ev/s",
         f"{ext.p99_ms:,.1f} ms (aiohttp-sse {aio.p99_ms:,.1f}, tornado {tor.p99_ms:,.1f})",
         f"< {TARGET_P99_MS:g} ms", verdict(p99_ok, quick)),
        (f"aggregate delivery, {top:,} subscribers",
         f"{ext.delivered_rate:,.0f} ev/s = {delivery_ratio:.2f}× aiohttp-sse ({aio.delivered_rate:,.0f})",
         "≥ 1× aiohttp-sse", verdict(delivery_ok, quick)),
        ("server memory per idle subscriber",
         (f"ext {idles['ext'].per_subscriber_kb:.1f} KB, workbench serve {idles['standalone'].per_subscriber_kb:.1f} "
          f"(aiohttp-sse {idles['aiohttp-sse'].per_subscriber_kb:.1f}, tornado {idles['tornado'].per_subscriber_kb:.1f})"),
         f"< {TARGET_IDLE_KB:g} KB", verdict(idle_ok, quick)),
    ]
    for n in SUBSCRIBERS[:-1]:
        e, a, t = loads[("ext", n)], loads[("aiohttp-sse", n)], loads[("tornado", n)]
        rows.append((f"p99 latency, {n:,} subscribers",
                     f"{e.p99_ms:,.1f} ms (aiohttp-sse {a.p99_ms:,.1f}, tornado {t.p99_ms:,.1f})", "(no target)", ""))
    print_summary(f"the extension against baselines measured in this same run; {RATE:g} events/s for "
                  f"{mode.duration:g} s; least disturbed run of each case", rows,
                  missed_hint=" (profile and what-ifs above)" if (not quick or force_profile) else
                  " (the full run profiles the extension)")
    disturbed = [f"{LABEL[k]} at {n:,} ({x.disturbed:.0%})" for (k, n), x in loads.items() if x.disturbed > DISTURBED]
    if disturbed:
        print(f"  note: other work on this machine kept the server waiting for its CPU more than "
              f"{DISTURBED:.0%} of the time even in the judged run of: {', '.join(disturbed)}; those latencies are "
              "pessimistic")
    return finish_listing(started, bad)
