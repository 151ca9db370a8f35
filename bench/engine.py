"""Engine benchmark: pipeline throughput, its overhead over the bare SDK, and folding a big run file.

    python bench/engine.py            # full run, about 1 to 2 minutes
    python bench/engine.py --quick    # smoke test, well under 30 s
    python bench/engine.py --profile  # also cProfile one pipeline run and show where the time goes

Every figure and its baseline are measured in the same process and the same run:

1. Pipeline: the offline simulator → the ``anthropic`` SDK → the orchestrator → the run log, at
   pace 0, with 10 subscribers (``async for e in run.subscribe()``) on the run's own event loop.
   Throughput is our events (``len(run.events)``) over the wall time from ``start_run`` to the
   terminal event being appended.
2. Bare SDK: the very requests the pipeline sent (recorded at ``Simulator.handle``) replayed
   through a bare ``anthropic.AsyncAnthropic`` on the same in-process ``SimulatorTransport``:
   iterate each ``messages.stream(...)`` and call ``get_final_message()``; no orchestrator, no log.
   Ratio = pipeline time / bare SDK time.
3. Fold: a valid run file of ≥ 100,000 events (saved from a large pipeline run), folded streaming
   (``iter_run_file`` + ``fold``) in a fresh subprocess: wall time, ru_maxrss growth, and in a
   separate subprocess the tracemalloc peak.

This is a benchmark, not a test: it prints figures, says plainly when a target is missed, and
exits 0 either way (1 only if a run misbehaved, e.g. a subscriber lost events).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import report  # bench/report.py
from report import own_time_by_group, print_summary, verdict

# --- targets ---------------------------------------------------------------------------------

TARGET_EVENTS_PER_S = 20_000
TARGET_OVERHEAD = 0.20  # pipeline time at most 1.2 × the bare SDK's
TARGET_FOLD_S = 1.0
TARGET_FOLD_MB = 200.0
FOLD_MIN_EVENTS = 100_000

SUBSCRIBERS = 10
TASK = "Benchmark the engine with a long, talkative run"


@dataclass(frozen=True)
class Mode:
    name: str
    words: int
    """Words per thinking/text block of the throughput scenario."""
    reps: int
    fold_words: int | None
    """Words per block of the large run saved as the fold file (None: reuse a throughput run)."""
    fold_reps: int


FULL = Mode("full", words=3_700, reps=5, fold_words=7_000, fold_reps=3)
QUICK = Mode("quick", words=700, reps=3, fold_words=None, fold_reps=3)


# --- environment -----------------------------------------------------------------------------


def isolate_environment(tmp: Path) -> None:
    """A private workbench home and no credentials, so the simulator is used and nothing leaks."""
    os.environ["WORKBENCH_HOME"] = str(tmp / "home")
    os.environ["ANTHROPIC_CONFIG_DIR"] = str(tmp / "anthropic-config")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "WORKBENCH_MODEL",
                 "ANTHROPIC_PROFILE"):
        os.environ.pop(name, None)


def machine() -> str:
    return report.machine(("anthropic", "httpx2", "pydantic", "pydantic_core")) + "; asyncio default event loop"


# --- scenario --------------------------------------------------------------------------------


def write_scenario(path: Path, words: int, *, phases: int = 3, seed: int = 7) -> dict[str, Any]:
    """A plan run with long thinking and text: 3 phases of 2 turns (one tool call each phase) and a final.

    15 blocks of about ``words`` words each, streamed one word per delta, so a run gives
    about ``15 × words`` events.
    """
    rng = random.Random(seed)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(1, 10))) for _ in range(5_000)]
    vocab += [",", ".", "the", "a", "of", "and", "to", "in"] * 200

    def block() -> str:
        n = max(1, int(words * rng.uniform(0.8, 1.2)))
        return " ".join(rng.choices(vocab, k=n))

    body = {
        "format": "workbench-scenario",
        "version": 1,
        "plan": {
            "goal": "Exercise the whole pipeline with a long, talkative run.",
            "phases": [{"name": f"Phase {i + 1}", "description": f"Part {i + 1} of the work"} for i in range(phases)],
            "thinking": block(),
        },
        "phases": [
            [
                {"thinking": block(), "text": block(),
                 "toolCalls": [{"name": "write_file", "input": {"path": f"notes-{i + 1}.md", "content": block()[:4000]}}]},
                {"thinking": block(), "text": block()},
            ]
            for i in range(phases)
        ],
        "final": {"thinking": block(), "text": block()},
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    return body


# --- recording what the pipeline asked the simulator ------------------------------------------

_recorder: list[tuple[str, str, bytes]] | None = None


def install_recorder() -> None:
    """Wrap ``Simulator.handle`` (in this process only) so each request's method, path and body are kept."""
    from workbench.simulator import Simulator

    original = Simulator.handle

    async def handle(self: Any, method: str, path: str, headers: Any, body: bytes) -> Any:
        if _recorder is not None:
            _recorder.append((method, path, bytes(body)))
        return await original(self, method, path, headers, body)

    Simulator.handle = handle  # type: ignore[method-assign]


def replayable(records: list[tuple[str, str, bytes]]) -> list[tuple[str, Any]]:
    """The recorded requests as SDK calls: ``("messages", params)`` or ``("model", model_id)``."""
    calls: list[tuple[str, Any]] = []
    for method, path, body in records:
        route = path.split("?", 1)[0]
        if method == "POST" and route == "/v1/messages":
            params = json.loads(body)
            params.pop("stream", None)
            calls.append(("messages", params))
        elif method == "GET" and route.startswith("/v1/models/"):
            calls.append(("model", route.removeprefix("/v1/models/")))
        else:
            raise RuntimeError(f"unexpected request in the pipeline run: {method} {path}")
    return calls


# --- 1. pipeline -----------------------------------------------------------------------------


@dataclass
class PipelineResult:
    events: int
    seconds: float
    """start_run → terminal event appended."""
    seconds_all_subscribers: float
    """start_run → the last subscriber has received the terminal event."""
    subscriber_counts: list[int]
    subscribers_in_order: bool
    status: str
    deltas: int
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    run: Any = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def pipeline_once(scenario: Path, workspace: Path, *, keep_run: bool = False) -> PipelineResult:
    global _recorder
    from workbench.agent.launch import start_run
    from workbench.core import events as ev

    loop = asyncio.get_running_loop()
    terminal_at: list[float] = []

    def mark_terminal(event: Any) -> None:
        if event.type in ev.TERMINAL_TYPES:
            terminal_at.append(time.perf_counter())

    async def subscriber(run: Any) -> tuple[int, bool]:
        count = 0
        last = 0
        in_order = True
        async for event in run.subscribe():
            count += 1
            in_order = in_order and event.id == last + 1
            last = event.id
        return count, in_order

    recorded: list[tuple[str, str, bytes]] = []
    gc.collect()
    _recorder = recorded
    t0 = time.perf_counter()
    run = start_run(
        TASK,
        model="simulated",
        options={"scenario": str(scenario), "workspace": str(workspace), "pace": 0},
        loop=loop,
    )
    # start_run only schedules the run, so nothing is appended before the listener and the
    # subscribers are in place.
    run.log.add_listener(mark_terminal)
    subscribers = [loop.create_task(subscriber(run)) for _ in range(SUBSCRIBERS)]
    results = await asyncio.gather(*subscribers)
    t_all = time.perf_counter()
    _recorder = None
    task = run._task  # bench only: let the orchestrator finish closing its client before the next rep
    if isinstance(task, asyncio.Future):
        await task
    n = len(run.events)
    deltas = sum(1 for e in run.events if e.type in ("thinking:delta", "text:delta"))
    return PipelineResult(
        events=n,
        seconds=terminal_at[0] - t0,
        seconds_all_subscribers=t_all - t0,
        subscriber_counts=[c for c, _ in results],
        subscribers_in_order=all(ok for _, ok in results),
        status=run.state.status,
        deltas=deltas,
        requests=recorded,
        run=run if keep_run else None,
    )


# --- 2. bare SDK ------------------------------------------------------------------------------


@dataclass
class BareResult:
    seconds: float
    sdk_events: int
    wire_frames: int
    """Raw API events the SDK parsed (its stream minus the events it synthesizes; pings excluded)."""
    deltas: int
    requests: list[tuple[str, str, bytes]]

    @property
    def rate(self) -> float:
        return self.sdk_events / self.seconds


_SDK_SYNTHESIZED = frozenset({"text", "thinking", "signature", "input_json", "citation"})
"""Events the SDK's MessageStream adds next to each raw API event (the rest are the API's own)."""


async def bare_sdk_once(scenario: Path, calls: list[tuple[str, Any]]) -> BareResult:
    """The same requests through a bare AsyncAnthropic on the in-process simulator transport.

    Set up as ``make_client`` does (scenario loaded, simulator, transport, client), but with
    no retry middleware, no orchestrator and no log.
    """
    global _recorder
    import anthropic
    import httpx2

    from workbench.simulator import Simulator, SimulatorTransport, load_scenario

    url = "http://simulator.invalid"
    recorded: list[tuple[str, str, bytes]] = []
    sdk_events = wire_frames = deltas = 0
    gc.collect()
    _recorder = recorded
    t0 = time.perf_counter()
    simulator = Simulator(scenario=load_scenario(scenario), seed=0, pace=0.0)
    http = httpx2.AsyncClient(transport=SimulatorTransport(simulator), base_url=url)
    client = anthropic.AsyncAnthropic(api_key="simulated-no-key", base_url=url, http_client=http, max_retries=2)
    for kind, payload in calls:
        if kind == "model":
            await client.models.retrieve(payload)
            continue
        async with client.messages.stream(**payload) as stream:
            async for event in stream:
                sdk_events += 1
                kind = event.type
                if kind == "content_block_delta":
                    if event.delta.type in ("thinking_delta", "text_delta"):  # type: ignore[union-attr]
                        deltas += 1
                elif kind in _SDK_SYNTHESIZED:
                    continue
                wire_frames += 1
            await stream.get_final_message()
    await client.close()
    t1 = time.perf_counter()
    _recorder = None
    return BareResult(t1 - t0, sdk_events, wire_frames, deltas, recorded)


# --- 3. fold ----------------------------------------------------------------------------------


def fold_child(path: str, warm_path: str, mode: str) -> None:
    """In a fresh subprocess: fold ``path`` streaming and print the figures as one JSON line.

    Linux carries a process's ``ru_maxrss`` over ``fork`` + ``exec``, so a child started by this
    (large) bench process would report the bench's peak, hiding the fold's. The child therefore
    forks once more before importing anything of ours: the grandchild's ``ru_maxrss`` starts
    from the small, fresh interpreter, and it does the work. Right before folding, the peak is
    also reset to the current RSS (``/proc/self/clear_refs``) where the kernel allows it, so the
    growth is measured from the memory actually in use.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        with os.fdopen(read_end) as answer:
            text = answer.read()
        _, status = os.waitpid(pid, 0)
        print(text.strip())
        sys.exit(os.waitstatus_to_exitcode(status))
    os.close(read_end)
    try:
        figures = _fold_measure(path, warm_path, mode)
        os.write(write_end, json.dumps(figures).encode())
        code = 0
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        os.write(write_end, json.dumps({"error": repr(exc)}).encode())
        code = 1
    os._exit(code)


def _fold_measure(path: str, warm_path: str, mode: str) -> dict[str, Any]:
    import resource
    import tracemalloc

    from workbench.core.reducer import fold
    from workbench.core.runfile import iter_run_file

    _, warm = iter_run_file(warm_path)  # warm-up: imports, lazy schema building, code paths
    fold(warm)
    gc.collect()
    peak_reset = False
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak RSS to the current RSS
        peak_reset = True
    except OSError:
        pass
    if mode == "tracemalloc":
        tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    _, events = iter_run_file(path)
    state = fold(events)
    seconds = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = tracemalloc.get_traced_memory()[1] if mode == "tracemalloc" else None
    return {
        "seconds": seconds,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "peak_reset": peak_reset,
        "tracemalloc_peak": peak,
        "events": state.event_count,
        "last_id": state.last_event_id,
        "status": state.status,
        "steps": len(state.steps),
    }


def run_fold_child(path: Path, warm: Path, mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--fold-child", str(path), str(warm), mode],
        check=False, capture_output=True, text=True, env=os.environ.copy(),
    )
    if not out.stdout.strip():
        raise RuntimeError(f"the fold subprocess failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if "error" in figures:
        raise RuntimeError(f"the fold subprocess failed: {figures['error']}")
    return figures


# --- reporting helpers ------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    return f"{x:,.0f} ev/s"


def profile_pipeline(scenario: Path, workspace: Path, top: int = 20) -> None:
    """cProfile one pipeline run: time by package, then our own hot spots."""
    profiler = cProfile.Profile()

    async def once() -> PipelineResult:
        return await pipeline_once(scenario, workspace)

    profiler.enable()
    result = asyncio.run(once())
    profiler.disable()
    stats = pstats.Stats(profiler)
    total, groups = own_time_by_group(stats.stats, _group)  # type: ignore[attr-defined]
    print(f"\nProfile of one pipeline run ({result.events:,} events, {result.seconds:.2f} s under cProfile; "
          f"profiling slows it, read shares not seconds)")
    print("  own time by where the code lives:")
    for name, secs in sorted(groups.items(), key=lambda kv: -kv[1]):
        if secs / total >= 0.005:
            print(f"    {name:<34} {secs:7.2f} s  {secs / total:6.1%}")
    ours = [(k, v) for k, v in stats.stats.items() if "/workbench/" in k[0]]  # type: ignore[attr-defined]
    print(f"  workbench functions by cumulative time (top {top}):")
    for (filename, line, name), (_, nc, tt, ct, _) in sorted(ours, key=lambda kv: -kv[1][3])[:top]:
        short = filename.split("/workbench/", 1)[1]
        print(f"    {ct:7.2f} s cum {tt:6.2f} s own {nc:>9,} calls  workbench/{short}:{line} {name}")


def _group(filename: str) -> str:
    if "/workbench/simulator/" in filename:
        return "workbench.simulator (model side)"
    if "/workbench/" in filename:
        return "workbench (orchestrator, log, events)"
    for name in ("anthropic", "httpx2", "pydantic_core", "pydantic", "typing_extensions", "anyio", "h11"):
        if f"/site-packages/{name}/" in filename or f"/site-packages/{name}." in filename:
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C: json, pydantic-core, …)"
    if "/asyncio/" in filename:
        return "asyncio"
    return "stdlib (typing, inspect, json, …)"


# --- main -------------------------------------------------------------------------------------


async def measure_pipeline_and_sdk(
    mode: Mode, tmp: Path, scenario: Path
) -> tuple[list[PipelineResult], list[BareResult], PipelineResult]:
    from workbench.core.contract import contract_violations

    # Warm-up: one pipeline run (checked against the contract) and one bare replay.
    warm = await pipeline_once(scenario, tmp / "ws-warm", keep_run=True)
    problems = contract_violations(list(warm.run.events))
    if problems:
        raise SystemExit(f"the warm-up run breaks the contract: {problems[:3]}")
    warm.run = None  # a live 50,000-event log would make every later collection of the GC slower
    calls = replayable(warm.requests)
    warm_bare = await bare_sdk_once(scenario, calls)
    same = [json.loads(a[2] or b"null") == json.loads(b[2] or b"null") and a[:2] == b[:2]
            for a, b in zip(warm.requests, warm_bare.requests, strict=False)]
    if len(warm.requests) != len(warm_bare.requests) or not all(same):
        raise SystemExit("the bare SDK replay did not send the same requests as the pipeline")
    if warm_bare.deltas != warm.deltas:
        raise SystemExit(f"the bare SDK saw {warm_bare.deltas} thinking/text deltas, the pipeline emitted {warm.deltas}")

    pipeline: list[PipelineResult] = []
    bare: list[BareResult] = []
    # Interleave the two, so drift in the machine's speed hits both alike.
    for rep in range(mode.reps):
        pipeline.append(await pipeline_once(scenario, tmp / f"ws-{rep}"))
        bare.append(await bare_sdk_once(scenario, replayable(pipeline[-1].requests)))
    return pipeline, bare, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing (well under 30 s)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one pipeline run")
    parser.add_argument("--fold-child", nargs=3, metavar=("FILE", "WARM", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fold_child:
        fold_child(*args.fold_child)
        return 0

    mode = QUICK if args.quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    try:
        return bench(mode, tmp, args.quick, args.profile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(mode: Mode, tmp: Path, quick: bool, profile: bool) -> int:
    started = time.perf_counter()
    isolate_environment(tmp)
    install_recorder()
    from workbench.core.contract import contract_violations
    from workbench.core.runfile import read_run_file, write_run_file

    print(f"Agent Workbench engine benchmark ({mode.name} mode)")
    print(f"machine: {machine()}")
    scenario = tmp / "scenario.json"
    write_scenario(scenario, mode.words)

    # --- 1 and 2 -----------------------------------------------------------------------------
    pipeline, bare, warm = asyncio.run(measure_pipeline_and_sdk(mode, tmp, scenario))
    bad = False
    n_events = pipeline[0].events
    n_requests = sum(1 for m, _, _ in pipeline[0].requests if m == "POST")
    print(f"\n1. Pipeline: simulator → SDK → orchestrator → log, pace 0, {SUBSCRIBERS} subscribers on the run's loop")
    print(f"   scenario: plan + 3 phases × 2 turns + final, ~{mode.words:,} words per thinking/text block; "
          f"{n_events:,} events per run, {n_requests} model requests; 1 warm-up + {mode.reps} reps")
    for i, p in enumerate(pipeline, 1):
        subs_ok = all(c == p.events for c in p.subscriber_counts) and p.subscribers_in_order
        bad |= not subs_ok or p.status != "complete" or p.events != n_events
        delivered = (f"each got all {p.events:,} events in order" if subs_ok
                     else f"LOST OR REORDERED EVENTS: {p.subscriber_counts}")
        print(f"   rep {i}: {p.seconds:6.3f} s to terminal event  {fmt_rate(p.rate):>14}   "
              f"all {SUBSCRIBERS} subscribers done at {p.seconds_all_subscribers:6.3f} s   "
              f"status {p.status}, subscribers {delivered}")
    p_sec = statistics.median(p.seconds for p in pipeline)
    p_rate = n_events / p_sec
    print(f"   median: {p_sec:.3f} s, {fmt_rate(p_rate)}   (target ≥ {TARGET_EVENTS_PER_S:,} ev/s: "
          f"{verdict(p_rate >= TARGET_EVENTS_PER_S, quick)})")

    b_sec = statistics.median(x.seconds for x in bare)
    b = bare[0]
    ratio = p_sec / b_sec
    overhead = ratio - 1
    per_event_us = (p_sec - b_sec) / n_events * 1e6
    print("\n2. Bare SDK baseline: the same recorded requests, AsyncAnthropic.messages.stream on the same "
          "in-process SimulatorTransport")
    print(f"   per replay: {b.sdk_events:,} SDK stream events ({b.wire_frames:,} raw API events, "
          f"{b.deltas:,} thinking/text deltas = the pipeline's {warm.deltas:,} delta events); "
          f"{mode.reps} reps after 1 warm-up")
    for i, x in enumerate(bare, 1):
        print(f"   rep {i}: {x.seconds:6.3f} s  {fmt_rate(x.rate):>14}  ({x.wire_frames / x.seconds:,.0f} raw API events/s)")
    print(f"   median: {b_sec:.3f} s, {fmt_rate(b.sdk_events / b_sec)} SDK stream events, "
          f"{b.wire_frames / b_sec:,.0f} raw API events/s")
    print(f"   pipeline / bare SDK = {p_sec:.3f} s / {b_sec:.3f} s = {ratio:.2f}×: the orchestrator and log add "
          f"{overhead:.0%} to the bare SDK's cost ({per_event_us:.1f} µs per event of ours)   "
          f"(target ≤ {TARGET_OVERHEAD:.0%}: {verdict(overhead <= TARGET_OVERHEAD, quick)})")
    ceiling = n_events / b_sec
    print(f"   ceiling: with no overhead at all the pipeline would run at {fmt_rate(ceiling)} here (the bare SDK's time); "
          f"{TARGET_EVENTS_PER_S:,} ev/s would need an overhead ≤ {n_events / TARGET_EVENTS_PER_S / b_sec - 1:.0%}")

    # --- 3 -----------------------------------------------------------------------------------
    print("\n3. Fold: a run file folded streaming (iter_run_file + fold) in a fresh subprocess")
    if mode.fold_words is not None:
        big_scenario = tmp / "scenario-big.json"
        write_scenario(big_scenario, mode.fold_words, seed=11)

        async def big_run() -> PipelineResult:
            return await pipeline_once(big_scenario, tmp / "ws-big", keep_run=True)

        source = asyncio.run(big_run())
        how = (f"saved from one large pipeline run (~{mode.fold_words:,} words per block; "
               f"that run: {source.events:,} events at {fmt_rate(source.rate)})")
    else:
        async def small_run() -> PipelineResult:
            return await pipeline_once(scenario, tmp / "ws-fold", keep_run=True)

        source = asyncio.run(small_run())
        how = "saved from a throughput-sized pipeline run (quick mode: fewer than 100,000 events)"
    run_file = tmp / "fold.jsonl"
    t0 = time.perf_counter()
    source.run.save(run_file)
    save_s = time.perf_counter() - t0
    warm_file = write_run_file(tmp / "warm.jsonl", source.run.header(), list(source.run.events)[:1_000])
    del source  # free the big run before measuring anything else
    gc.collect()

    t0 = time.perf_counter()
    _, file_events = read_run_file(run_file)
    problems = contract_violations(file_events)
    check_s = time.perf_counter() - t0
    n_fold = len(file_events)
    terminal_last = file_events[-1].type if file_events else "?"
    del file_events
    gc.collect()
    size_mb = run_file.stat().st_size / 1e6
    print(f"   file: {n_fold:,} events, {size_mb:.1f} MB, {how}; written in {save_s:.2f} s")
    validity = (f"OK, ids 1..n, one terminal event ({terminal_last}) last" if not problems
                else "PROBLEMS: " + "; ".join(problems[:3]))
    print(f"   validity: read back and checked with contract_violations (whole file, {check_s:.1f} s): {validity}")
    bad |= bool(problems)

    timed = [run_fold_child(run_file, warm_file, "time") for _ in range(mode.fold_reps)]
    traced = run_fold_child(run_file, warm_file, "tracemalloc")
    for child in (*timed, traced):
        if child["events"] != n_fold or child["status"] != "complete":
            bad = True
            print(f"   FOLD WENT WRONG: folded {child['events']} events, status {child['status']}")
    for i, c in enumerate(timed, 1):
        growth = (c["rss_after_kb"] - c["rss_before_kb"]) / 1024
        print(f"   rep {i} (fresh process): {c['seconds']:.3f} s, {n_fold / c['seconds']:,.0f} ev/s, "
              f"ru_maxrss {c['rss_before_kb'] / 1024:.0f} → {c['rss_after_kb'] / 1024:.0f} MB (+{growth:.1f} MB)")
    f_sec = statistics.median(c["seconds"] for c in timed)
    f_rss = statistics.median((c["rss_after_kb"] - c["rss_before_kb"]) / 1024 for c in timed)
    f_peak = traced["tracemalloc_peak"] / 2**20
    reset = "peak reset to current RSS (clear_refs) right before folding" if timed[0]["peak_reset"] \
        else "peak not resettable here: growth is over the import/warm-up peak"
    print(f"   (ru_maxrss of a grandchild forked from a fresh interpreter, as Linux carries ru_maxrss over "
          f"fork+exec; {reset})")
    print(f"   median: {f_sec:.3f} s ({n_fold / f_sec:,.0f} ev/s), ru_maxrss growth {f_rss:.1f} MB; "
          f"tracemalloc peak (separate process) {f_peak:.1f} MB (that pass took {traced['seconds']:.2f} s under tracemalloc)")
    quick_fold = quick or n_fold < FOLD_MIN_EVENTS
    print(f"   (targets: < {TARGET_FOLD_S:g} s: {verdict(f_sec < TARGET_FOLD_S, quick_fold)}; "
          f"< {TARGET_FOLD_MB:g} MB: {verdict(max(f_rss, f_peak) < TARGET_FOLD_MB, quick_fold)})")

    if profile:
        profile_pipeline(scenario, tmp / "ws-profile")

    # --- summary -----------------------------------------------------------------------------
    rows = [
        ("pipeline throughput (10 subs)", fmt_rate(p_rate), f"≥ {TARGET_EVENTS_PER_S:,} ev/s",
         verdict(p_rate >= TARGET_EVENTS_PER_S, quick)),
        ("bare SDK stream events", fmt_rate(b.sdk_events / b_sec), "(baseline)", ""),
        ("pipeline ceiling (0 % overhead)", fmt_rate(ceiling), "(bare SDK time)", ""),
        ("pipeline / bare SDK time", f"{ratio:.2f}× (+{overhead:.0%})", f"≤ +{TARGET_OVERHEAD:.0%}",
         verdict(overhead <= TARGET_OVERHEAD, quick)),
        (f"fold {n_fold:,} events, time", f"{f_sec:.3f} s", f"< {TARGET_FOLD_S:g} s", verdict(f_sec < TARGET_FOLD_S, quick_fold)),
        ("fold, ru_maxrss growth", f"{f_rss:.1f} MB", f"< {TARGET_FOLD_MB:g} MB", verdict(f_rss < TARGET_FOLD_MB, quick_fold)),
        ("fold, tracemalloc peak", f"{f_peak:.1f} MB", f"< {TARGET_FOLD_MB:g} MB", verdict(f_peak < TARGET_FOLD_MB, quick_fold)),
    ]
    print_summary("medians; baseline measured in this same run", rows,
                  missed_hint="" if profile else " (run with --profile to see where the time goes)")
    return report.finish(started, machine(), bad)


if __name__ == "__main__":
    sys.exit(main())
