"""Widget benchmark: what ``RunView`` sends for big runs, and how fast Chromium draws it.

    python bench/widget.py                      # full run: 3 renders of each case, about 75 s
    python bench/widget.py --quick              # one render of each case, fewer extra cases: about 25 s
    python bench/widget.py --screenshots DIR    # also save what each rendered case looks like

Everything is measured in one process and one run:

1. Run files of exactly 10,000 and 100,000 events. Each comes from a simulated run (pace 0) of a
   scenario with long thinking and text (``bench/engine.py``'s ``write_scenario``, 5 phases),
   whose deltas are then split or merged (their text unchanged) so the run has exactly n
   events; the file is checked with ``contract_violations`` (ids 1..n, one terminal event last,
   deltas adding up to their steps). While the simulated run streams, a ``RunView`` watches it
   live, which shows the rate limit at work under a continuous stream.
2. Replay: ``wb.load(file).replay(speed=0)`` into a ``RunView`` with no kernel: ``RunView.send``
   is wrapped to keep each message with its time. Figures: messages and bytes (JSON, UTF-8) sent
   to the front end, wall time from ``replay()`` to the message carrying the terminal event,
   the most messages in any 1-second window (target ≤ 20), and events versus items sent (deltas
   of a step are merged into one item).
3. Render: the captured messages are fed to the real ``run_view.js`` in headless Chromium (a
   harness page with a stand-in for the widget model, as ``export.py`` builds), each delivered
   as JSON text and parsed on delivery, at its captured time relative to the first message.
   Time is measured from the first message to the moment the DOM shows the run complete with
   every phase done and the result shown (a MutationObserver watches for it). Meanwhile a 10 ms
   ``setInterval`` heartbeat and a ``requestAnimationFrame`` loop record the longest stall of the
   page's main thread and the longest gap between frames (target for 10,000 events: done in
   < 3 s, longest stall ≤ 100 ms, the usual budget for answering input). Two extra cases
   without targets: the live run's messages at their live times, and the worst case of no
   merging at all (every event its own item, 2,000 items a message, all at once); ``--quick``
   renders these for 10,000 events only.

This is a benchmark, not a test: it prints figures, says plainly when a target is missed,
and exits 0 either way (1 only if something misbehaved, e.g. a message was lost).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import report
from engine import isolate_environment, write_scenario  # bench/engine.py
from engine import machine as engine_machine
from report import print_summary, verdict

# --- targets ---------------------------------------------------------------------------------

TARGET_MSGS_PER_S = 20
TARGET_RENDER_S = 3.0  # the 10,000-event run, first message to complete on screen
TARGET_STALL_MS = 100.0  # longest main-thread stall while rendering the 10,000-event run
SIZES = (10_000, 100_000)
PHASES = 5
RENDER_TIMEOUT_S = 120.0

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ORIGIN = "http://bench.invalid"  # served by Playwright's router: nothing leaves the machine


@dataclass(frozen=True)
class Mode:
    name: str
    render_reps: int
    live_sizes: tuple[int, ...]
    """Sizes whose live messages are also rendered at their live times (as long as the run took)."""
    unmerged_sizes: tuple[int, ...]
    """Sizes also rendered with no merging at all (the worst case)."""


FULL = Mode("full", render_reps=3, live_sizes=SIZES, unmerged_sizes=SIZES)
QUICK = Mode("quick", render_reps=1, live_sizes=SIZES[:1], unmerged_sizes=SIZES[:1])


# --- 1. run files of exactly n events -----------------------------------------------------------


@dataclass
class Captured:
    """The messages one view sent, each with the ``perf_counter`` time it went out."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    terminal_id: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def add(self, content: dict[str, Any]) -> None:
        now = time.perf_counter()
        with self.lock:
            self.messages.append((now, content))
        if self.terminal_id is not None and content.get("kind") == "events" and any(
                item["id"] == self.terminal_id for item in content["events"]):
            self.done.set()


_sinks: dict[int, Captured] = {}


def install_capture() -> None:
    """Replace ``RunView.send`` (no kernel here) by keeping each message for the view that sent it."""
    from workbench.notebook.widget import RunView

    def send(self: Any, content: dict[str, Any], buffers: Any = None) -> None:
        _sinks[id(self)].add(content)

    RunView.send = send  # type: ignore[method-assign]


def watch(run: Any, terminal_id: int | None = None) -> tuple[Any, Captured]:
    from workbench.notebook.widget import RunView

    captured = Captured(terminal_id=terminal_id)
    view = RunView.__new__(RunView)
    _sinks[id(view)] = captured  # before __init__: the pump may send at once
    view.__init__(run)  # type: ignore[misc]
    return view, captured


def resize(events: list[Any], n: int) -> list[Any]:
    """``events`` with exactly ``n`` events: deltas split in two or adjacent deltas of a step merged.

    The text of every step is unchanged, so the deltas still add up to their whole events. Ids
    are renumbered 1..n.
    """
    from workbench.notebook.widget.messages import DELTA_TYPES

    pieces: list[list[str] | None] = [[e.data.delta] if e.type in DELTA_TYPES else None for e in events]
    change = n - len(events)
    if change > 0:  # split the longest-lived deltas, spread evenly over the run
        candidates = [i for i, p in enumerate(pieces) if p is not None and len(p[0]) >= 2]
        if change > len(candidates):
            raise SystemExit(f"cannot grow a run of {len(events):,} events to {n:,}: too few deltas to split")
        for j in range(change):
            i = candidates[j * len(candidates) // change]
            text = pieces[i][0]  # type: ignore[index]
            cut = len(text) // 2
            pieces[i] = [text[:cut], text[cut:]]
    elif change < 0:  # merge pairs of adjacent deltas of one step
        pairs = []
        i = 0
        while i + 1 < len(events):
            a, b = events[i], events[i + 1]
            if pieces[i] is not None and b.type == a.type and b.data.step_id == a.data.step_id:
                pairs.append(i)
                i += 2
            else:
                i += 1
        if -change > len(pairs):
            raise SystemExit(f"cannot shrink a run of {len(events):,} events to {n:,}: too few deltas to merge")
        for j in range(-change):
            i = pairs[j * len(pairs) // -change]
            pieces[i] = [pieces[i][0] + pieces[i + 1][0]]  # type: ignore[index]
            pieces[i + 1] = []
    out: list[Any] = []
    for event, parts in zip(events, pieces, strict=True):
        if parts is None:
            out.append(event.model_copy(update={"id": len(out) + 1}))
            continue
        for part in parts:
            out.append(event.model_copy(update={"id": len(out) + 1, "data": event.data.model_copy(update={"delta": part})}))
    assert len(out) == n, (len(out), n)
    return out


@dataclass
class Built:
    n: int
    path: Path
    natural: int
    """Events of the simulated run before resizing."""
    words: int
    seconds: float
    live: Captured
    live_wall: float
    live_view_stats: tuple[int, int]
    problems: list[str]
    size_mb: float


def build_run_file(n: int, tmp: Path) -> Built:
    """A simulated run with long texts, watched live by a RunView, resized to exactly ``n`` events."""
    import workbench as wb
    from workbench.core.contract import contract_violations
    from workbench.core.runfile import write_run_file

    # 5 phases: 1 planning block + 5 × 2 turns × (thinking + text) + a final thinking and text =
    # 23 blocks of about ``words`` one-word deltas each, plus about 60 other events.
    words = max(20, round((n - 60) / 23))
    scenario = tmp / f"scenario-{n}.json"
    write_scenario(scenario, words, phases=PHASES, seed=n)
    t0 = time.perf_counter()
    run = wb.run(f"Benchmark the widget with {n:,} events", model="simulated",
                 options={"scenario": str(scenario), "pace": 0, "workspace": str(tmp / f"ws-{n}")})
    view, live = watch(run)
    run.wait(timeout=300)
    natural = len(run.events)
    live.terminal_id = natural
    if not any(i["id"] == natural for _, m in live.messages for i in m.get("events", [])):
        live.done.wait(30)
    live_wall = (live.messages[-1][0] - t0) if live.messages else float("nan")
    stats = (view.messages_sent, view.bytes_sent)
    view.close()
    events = resize(list(run.events), n)
    seconds = time.perf_counter() - t0
    problems = contract_violations(events)
    if events[-1].type != "execution:complete":
        problems.append(f"the last event is {events[-1].type}")
    path = write_run_file(tmp / f"run-{n}.jsonl", run.header(), events)
    return Built(n=n, path=path, natural=natural, words=words, seconds=seconds, live=live, live_wall=live_wall,
                 live_view_stats=stats, problems=problems, size_mb=path.stat().st_size / 1e6)


# --- 2. replay into a RunView -------------------------------------------------------------------


@dataclass
class Sent:
    """What a view sent: figures over its ``events`` messages."""

    messages: list[tuple[float, dict[str, Any]]]
    start: float
    events: int
    """Events the messages stand for (items expanded: ``firstId``..``id``)."""
    items: int
    bytes: int
    ids_ok: bool
    """Every event 1..n exactly once, in order."""

    @property
    def count(self) -> int:
        return len(self.messages)

    @property
    def wall(self) -> float:
        return self.messages[-1][0] - self.start if self.messages else float("nan")

    @property
    def max_per_second(self) -> int:
        times = [t for t, _ in self.messages]
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best

    @property
    def ratio(self) -> float:
        return self.events / self.items if self.items else float("nan")

    def timeline(self) -> list[tuple[float, str]]:
        """Each message as compact JSON text with its offset (ms) from the first one."""
        if not self.messages:
            return []
        first = self.messages[0][0]
        return [(round((t - first) * 1000, 3), json.dumps(m, ensure_ascii=False, separators=(",", ":")))
                for t, m in self.messages]


def summarize(captured: Captured, start: float, n: int) -> Sent:
    messages = [(t, m) for t, m in captured.messages if m.get("kind") == "events"]
    ids: list[int] = []
    items = 0
    size = 0
    for _, m in messages:
        items += len(m["events"])
        size += len(json.dumps(m, ensure_ascii=False).encode())
        for item in m["events"]:
            ids.extend(range(item.get("firstId", item["id"]), item["id"] + 1))
    return Sent(messages=messages, start=start, events=len(ids), items=items, bytes=size,
                ids_ok=ids == list(range(1, n + 1)))


def replay_into_view(path: Path, n: int) -> tuple[Sent, tuple[int, int], float, Any]:
    import workbench as wb

    t_load = time.perf_counter()
    source = wb.load(path)
    load_s = time.perf_counter() - t_load
    start = time.perf_counter()
    run = source.replay(speed=0)
    view, captured = watch(run, terminal_id=n)
    if not captured.done.wait(120):
        print(f"   REPLAY OF {n:,} EVENTS DID NOT REACH ITS TERMINAL EVENT IN 120 s")
    stats = (view.messages_sent, view.bytes_sent)
    view.close()
    return summarize(captured, start, n), stats, load_s, source


def unmerged(events: Any) -> list[tuple[float, str]]:
    """The worst case for the front end: every event its own item, 2,000 a message, all at once."""
    from workbench.notebook.widget.messages import chunked

    envelopes = [e.to_dict() for e in events]
    return [(0.0, json.dumps({"kind": "events", "events": chunk}, ensure_ascii=False, separators=(",", ":")))
            for chunk in chunked(envelopes)]


# --- 3. render in Chromium ----------------------------------------------------------------------

HARNESS = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/run_view.css">
<style>body { margin: 0; padding: 8px; background: #f6f7f9; } #app { max-width: 1100px; }</style></head>
<body><div id="app"></div>
<script type="module">
import widget from "/run_view.js";
const traits = await (await fetch("/traits.json")).json();
let messages = [];
window.load = async (name) => {
  messages = await (await fetch(`/messages/${name}.json`)).json();  // [[ms after the first, JSON text], ...]
  return messages.length;
};
// The page at rest first: its longest stall and frame gap with nothing to do (headless
// Chromium does not draw every 16.7 ms when nothing changes), as a baseline.
window.idle = (ms) => new Promise((resolve) => {
  let beatAt = performance.now(), maxBeat = 0, frameAt = null, maxFrame = 0, going = true;
  const beat = setInterval(() => { const now = performance.now(); maxBeat = Math.max(maxBeat, now - beatAt); beatAt = now; }, 10);
  const frame = (now) => {
    if (frameAt !== null) maxFrame = Math.max(maxFrame, now - frameAt);
    frameAt = now;
    if (going) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  setTimeout(() => { going = false; clearInterval(beat); resolve({ stallMs: maxBeat, frameGapMs: maxFrame }); }, ms);
});
window.measure = (phases, timeoutMs) => new Promise((resolve) => {
  const el = document.getElementById("app");
  const listeners = new Set();
  const model = {
    get: (name) => traits[name], set() {}, save_changes() {},
    on(name, fn) { if (name === "msg:custom") listeners.add(fn); },
    off(name, fn) { if (fn) listeners.delete(fn); else listeners.clear(); },
    send() {},  // "ready": nothing to answer, the messages start at event 1
  };
  let start = null, doneAt = null, paintedAt = null, lastDelivered = null, delivered = 0;
  let beatAt = performance.now(), maxBeat = 0;
  const beat = setInterval(() => {
    const now = performance.now();
    if (start !== null) maxBeat = Math.max(maxBeat, now - beatAt);
    beatAt = now;
  }, 10);
  let frameAt = null, maxFrame = 0, frames = 0, frameLoop = true;
  const frame = (now) => {
    if (frameAt !== null && start !== null) { maxFrame = Math.max(maxFrame, now - frameAt); frames++; }
    frameAt = now;
    if (frameLoop) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  let longest = 0;
  const long = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (start !== null) longest = Math.max(longest, entry.duration);
  });
  try { long.observe({ type: "longtask" }); } catch (e) {}
  const cleanup = widget.render({ model, el });
  const complete = () => {
    const view = el.querySelector("[data-testid=live-view]");
    const status = view && view.querySelector("[data-testid=status]");
    return !!status && status.dataset.status === "complete"
      && view.querySelectorAll("[data-testid=phase]").length === phases
      && view.querySelectorAll("[data-testid=phase][data-state=done]").length === phases
      && !!view.querySelector("[data-testid=result]");
  };
  const finish = (ok) => {
    for (const entry of long.takeRecords()) longest = Math.max(longest, entry.duration);
    clearInterval(beat); clearTimeout(timer); observer.disconnect(); long.disconnect(); frameLoop = false;
    const view = el.querySelector("[data-testid=live-view]");
    const result = {
      ok, ms: ok ? paintedAt - start : null, domMs: ok ? doneAt - start : null, lastMessageMs: lastDelivered === null ? null : lastDelivered - start,
      delivered, maxStallMs: maxBeat, maxFrameGapMs: maxFrame, frames, longestTaskMs: longest,
      status: view ? view.querySelector("[data-testid=status]").textContent : "(no view)",
      eventCount: view ? view.querySelector("[data-testid=event-count]").textContent : "",
      phasesDone: view ? view.querySelectorAll("[data-testid=phase][data-state=done]").length : 0,
      stepsInDom: el.querySelectorAll("[data-testid=step]").length,
    };
    window.lastCleanup = cleanup;
    resolve(result);
  };
  const observer = new MutationObserver(() => {
    if (doneAt === null && start !== null && complete()) {
      doneAt = performance.now();
      observer.disconnect();
      // On screen: a task posted from the next frame's callback runs once that frame is painted.
      requestAnimationFrame(() => setTimeout(() => {
        paintedAt = performance.now();
        setTimeout(() => finish(true), 250);  // keep measuring stalls a little past the end
      }, 0));
    }
  });
  observer.observe(el, { subtree: true, childList: true, attributes: true, characterData: true });
  const timer = setTimeout(() => finish(false), timeoutMs);
  const t0 = performance.now();
  messages.forEach(([at, text], i) => setTimeout(() => {
    const now = performance.now();
    if (start === null) start = now;
    const msg = JSON.parse(text);
    for (const fn of [...listeners]) fn(msg, []);
    lastDelivered = now;
    delivered++;
  }, Math.max(0, at - (performance.now() - t0))));
});
window.harnessReady = true;
</script></body></html>"""


@dataclass
class Render:
    ok: bool
    ms: float | None
    """First message → the complete run painted."""
    dom_ms: float | None
    """First message → the DOM shows the complete run (before layout and paint)."""
    last_message_ms: float | None
    stall_ms: float
    frame_gap_ms: float
    longest_task_ms: float
    frames: int
    status: str
    steps_in_dom: int
    phases_done: int
    idle_stall_ms: float
    """The same page at rest for 300 ms just before: its longest stall (the baseline)."""
    idle_frame_gap_ms: float


def render_all(cases: dict[str, tuple[list[tuple[float, str]], int]], traits: dict[str, str], reps: int,
               screenshots: Path | None) -> tuple[dict[str, list[Render]], str]:
    """Each case ``name -> (timeline, events)`` rendered ``reps`` times, each in a fresh page."""
    from playwright.sync_api import sync_playwright

    from workbench.notebook.widget.bundle import STATIC, front_end

    files = {
        "/": ("text/html", HARNESS.encode()),
        "/run_view.js": ("text/javascript", front_end().encode()),  # the module the widget ships
        "/run_view.css": ("text/css", (STATIC / "run_view.css").read_bytes()),
        "/traits.json": ("application/json", json.dumps(traits).encode()),
    }
    for name, (timeline, _) in cases.items():
        files[f"/messages/{name}.json"] = ("application/json", json.dumps(timeline, ensure_ascii=False).encode())

    def serve(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        found = files.get(path)
        if found is None:
            route.fulfill(status=404, body="not found")
        else:
            route.fulfill(status=200, content_type=found[0], body=found[1])

    results: dict[str, list[Render]] = {name: [] for name in cases}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        version = browser.version
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.route(f"{ORIGIN}/**", serve)
            for rep in range(reps):
                for name in cases:
                    page = context.new_page()
                    errors: list[str] = []

                    def collect(error: Any, errors: list[str] = errors) -> None:
                        errors.append(str(error))

                    page.on("pageerror", collect)
                    page.goto(f"{ORIGIN}/")
                    page.wait_for_function("window.harnessReady === true")
                    page.evaluate("name => window.load(name)", name)
                    rest = page.evaluate("ms => window.idle(ms)", 300)
                    got = page.evaluate("([phases, timeout]) => window.measure(phases, timeout)",
                                        [PHASES, RENDER_TIMEOUT_S * 1000])
                    if errors:
                        print(f"   PAGE ERRORS while rendering {name}: {errors[:3]}")
                        got["ok"] = False
                    results[name].append(Render(
                        ok=got["ok"], ms=got["ms"], dom_ms=got["domMs"], last_message_ms=got["lastMessageMs"], stall_ms=got["maxStallMs"],
                        frame_gap_ms=got["maxFrameGapMs"], longest_task_ms=got["longestTaskMs"], frames=got["frames"],
                        status=got["status"], steps_in_dom=got["stepsInDom"], phases_done=got["phasesDone"],
                        idle_stall_ms=rest["stallMs"], idle_frame_gap_ms=rest["frameGapMs"]))
                    if screenshots is not None and rep == 0:
                        screenshots.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(screenshots / f"bench-widget-{name}.png"))
                    page.close()
        finally:
            browser.close()
    return results, version


# --- reporting --------------------------------------------------------------------------------


def fmt_bytes(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def machine(chromium: str) -> str:
    from importlib.metadata import version

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:  # noqa: BLE001 - only for the label
            return "?"

    return (f"{engine_machine()}\n         Chromium {chromium} (headless, {CHROMIUM}), playwright {v('playwright')}, "
            f"anywidget {v('anywidget')}, ipywidgets {v('ipywidgets')}; {platform.platform(terse=True)}")


def combine(runs: list[Render]) -> Render:
    """The median render by time, with the worst stalls and gaps of all of them."""
    done = [r for r in runs if r.ok]
    middle = sorted(done, key=lambda r: r.ms or 0)[len(done) // 2] if done else runs[0]
    return replace(middle, ok=len(done) == len(runs),
                   stall_ms=max(r.stall_ms for r in runs), frame_gap_ms=max(r.frame_gap_ms for r in runs),
                   longest_task_ms=max(r.longest_task_ms for r in runs),
                   idle_stall_ms=max(r.idle_stall_ms for r in runs),
                   idle_frame_gap_ms=max(r.idle_frame_gap_ms for r in runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one render of each case (under 30 s)")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="save a screenshot of each rendered case")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench/widget.py needs Chromium at {CHROMIUM} (Debian's chromium package)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="workbench-widget-bench-"))
    try:
        return bench(QUICK if args.quick else FULL, tmp, args.screenshots)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(mode: Mode, tmp: Path, screenshots: Path | None) -> int:
    started = time.perf_counter()
    isolate_environment(tmp)
    install_capture()
    bad = False
    print(f"Agent Workbench widget benchmark ({mode.name} mode)")
    section = time.perf_counter()

    # --- 1 ---------------------------------------------------------------------------------
    print(f"\n1. Run files: simulated runs (pace 0, {PHASES} phases, long thinking and text, one word per delta), "
          "resized to exactly n events")
    built: dict[int, Built] = {}
    for n in SIZES:
        b = built[n] = build_run_file(n, tmp)
        validity = ("OK: ids 1..n, one terminal event (execution:complete) last, deltas add up"
                    if not b.problems else "PROBLEMS: " + "; ".join(b.problems[:3]))
        bad |= bool(b.problems)
        print(f"   {n:>7,} events: simulated {b.natural:,} (~{b.words:,} words a block), resized to {n:,}; "
              f"{b.size_mb:.1f} MB; {b.seconds:.1f} s; contract: {validity}")

    print("\n   The same runs watched live by a RunView while the simulator streamed them (before resizing):")
    live: dict[int, Sent] = {}
    for n in SIZES:
        b = built[n]
        s = live[n] = summarize(b.live, b.live.messages[0][0] if b.live.messages else 0.0, b.natural)
        bad |= not s.ids_ok or b.live_view_stats[0] != s.count
        print(f"   {b.natural:>7,} events live: {s.count:,} messages, {fmt_bytes(s.bytes)}, over {s.wall:.2f} s; "
              f"at most {s.max_per_second} messages in any 1 s (target ≤ {TARGET_MSGS_PER_S}: "
              f"{verdict(s.max_per_second <= TARGET_MSGS_PER_S)}); {s.events:,} events in {s.items:,} items "
              f"({s.ratio:,.1f} events an item); every event once, in order: {'yes' if s.ids_ok else 'NO'}")

    print(f"   ({time.perf_counter() - section:.1f} s)")
    section = time.perf_counter()

    # --- 2 ---------------------------------------------------------------------------------
    print("\n2. Replay at full speed: wb.load(file).replay(speed=0) into a RunView (RunView.send captured, no kernel)")
    replays: dict[int, Sent] = {}
    loaded: dict[int, Any] = {}
    for n in SIZES:
        s, (count, size), load_s, loaded[n] = replay_into_view(built[n].path, n)
        replays[n] = s
        bad |= not s.ids_ok or count != s.count
        print(f"   {n:>7,} events: {s.count:,} message{'s' if s.count != 1 else ''}, {fmt_bytes(s.bytes)} "
              f"(the view counted {count:,} and {fmt_bytes(size)}); {s.wall * 1000:,.0f} ms from replay() to the "
              f"terminal event's message; at most {s.max_per_second} in any 1 s (target ≤ {TARGET_MSGS_PER_S}: "
              f"{verdict(s.max_per_second <= TARGET_MSGS_PER_S)}); {s.events:,} events in {s.items:,} items = "
              f"{s.ratio:,.0f} events an item; every event once, in order: {'yes' if s.ids_ok else 'NO'} "
              f"(wb.load took {load_s:.2f} s, not counted)")

    print(f"   ({time.perf_counter() - section:.1f} s)")
    section = time.perf_counter()

    # --- 3 ---------------------------------------------------------------------------------
    cases: dict[str, tuple[list[tuple[float, str]], int]] = {}
    for n in SIZES:
        cases[f"replay-{n}"] = (replays[n].timeline(), n)
    for n in mode.live_sizes:
        cases[f"live-{n}"] = (live[n].timeline(), built[n].natural)
    for n in mode.unmerged_sizes:
        cases[f"unmerged-{n}"] = (unmerged(loaded[n].events), n)
    loaded.clear()
    traits = {"run_id": "r_bench", "task": "Benchmark the widget", "model": "simulated", "strategy": "plan"}
    print(f"\n3. Render in headless Chromium: the real run_view.js fed the captured messages (JSON text, parsed on "
          f"delivery) at their captured times; {mode.render_reps} fresh page{'s' if mode.render_reps > 1 else ''} "
          "per case; time = first message → status complete, all phases done, result shown")
    renders, chromium = render_all(cases, traits, mode.render_reps, screenshots)
    rendered: dict[str, Render] = {}
    for name, runs in renders.items():
        r = rendered[name] = combine(runs)
        timeline, n = cases[name]
        bad |= not all(x.ok for x in runs)
        size = sum(len(text.encode()) for _, text in timeline)
        how = {"replay": "the replay's messages", "live": "the live run's messages, at their live times",
               "unmerged": "no merging: every event its own item, all at once"}[name.split("-")[0]]
        times = ", ".join(f"{x.ms:,.0f}" if x.ok and x.ms is not None else "DID NOT FINISH" for x in runs)
        print(f"   {name:<15} {n:>7,} events, {len(timeline):,} message{'s' if len(timeline) != 1 else ''}, "
              f"{fmt_bytes(size)} ({how})")
        if r.ok and r.ms is not None:
            lag = f", {r.ms - r.last_message_ms:,.0f} ms after the last message" if r.last_message_ms else ""
            print(f"      complete on screen (painted) after {r.ms:,.0f} ms{lag}; in the DOM after {r.dom_ms:,.0f} ms "
                  f"(each render: {times} ms)")
            task = (f"longest long task {r.longest_task_ms:,.0f} ms" if r.longest_task_ms
                    else "no single task ≥ 50 ms")
            print(f"      longest main-thread stall {r.stall_ms:,.0f} ms, longest frame gap {r.frame_gap_ms:,.0f} ms, "
                  f"{task} (worst of the renders; the page at rest: "
                  f"{r.idle_stall_ms:,.0f} ms stall, {r.idle_frame_gap_ms:,.0f} ms frame gap); "
                  f"{r.steps_in_dom:,} steps in the DOM at the end")
        else:
            print(f"      DID NOT FINISH within {RENDER_TIMEOUT_S:.0f} s: status {r.status!r}, "
                  f"{r.phases_done} phases done")

    print(f"   ({time.perf_counter() - section:.1f} s)")
    section = time.perf_counter()

    # --- summary ----------------------------------------------------------------------------
    def ms(name: str) -> str:
        r = rendered[name]
        return f"{r.ms / 1000:.2f} s" if r.ok and r.ms is not None else "did not finish"

    def behind(name: str) -> str:
        r = rendered[name]
        if not (r.ok and r.ms is not None and r.last_message_ms is not None):
            return "did not finish"
        return f"{r.ms - r.last_message_ms:,.0f} ms"

    small, big = SIZES
    r10 = rendered[f"replay-{small}"]
    rows = [
        (f"replay {small:,}: messages / bytes", f"{replays[small].count} / {fmt_bytes(replays[small].bytes)}", "", ""),
        (f"replay {small:,}: most messages in 1 s", str(replays[small].max_per_second), f"≤ {TARGET_MSGS_PER_S}",
         verdict(replays[small].max_per_second <= TARGET_MSGS_PER_S)),
        (f"replay {small:,}: events per item sent", f"{replays[small].ratio:,.0f}×", "", ""),
        (f"replay {big:,}: messages / bytes", f"{replays[big].count} / {fmt_bytes(replays[big].bytes)}", "", ""),
        (f"replay {big:,}: most messages in 1 s", str(replays[big].max_per_second), f"≤ {TARGET_MSGS_PER_S}",
         verdict(replays[big].max_per_second <= TARGET_MSGS_PER_S)),
        (f"replay {big:,}: events per item sent", f"{replays[big].ratio:,.0f}×", "", ""),
        (f"live {built[big].natural:,}: most messages in 1 s", str(live[big].max_per_second), f"≤ {TARGET_MSGS_PER_S}",
         verdict(live[big].max_per_second <= TARGET_MSGS_PER_S)),
        (f"render {small:,} (replay): to complete", ms(f"replay-{small}"), f"< {TARGET_RENDER_S:g} s",
         verdict(r10.ok and r10.ms is not None and r10.ms < TARGET_RENDER_S * 1000)),
        (f"render {small:,} (replay): longest stall", f"{r10.stall_ms:,.0f} ms", f"≤ {TARGET_STALL_MS:g} ms",
         verdict(r10.ok and r10.stall_ms <= TARGET_STALL_MS)),
        (f"render {big:,} (replay): to complete", ms(f"replay-{big}"), "(none; must finish)",
         "finished" if rendered[f"replay-{big}"].ok else "DID NOT FINISH"),
        (f"render {big:,} (replay): longest stall", f"{rendered[f'replay-{big}'].stall_ms:,.0f} ms", "", ""),
        *[(f"render live {built[n].natural:,}: behind the stream / stall",
           f"{behind(f'live-{n}')} / {rendered[f'live-{n}'].stall_ms:,.0f} ms", "(no target)", "")
          for n in mode.live_sizes],
        *[(f"render {n:,} unmerged: to complete / stall",
           f"{ms(f'unmerged-{n}')} / {rendered[f'unmerged-{n}'].stall_ms:,.0f} ms", "(no target)", "")
          for n in mode.unmerged_sizes],
    ]
    print_summary(f"render times: medians of {mode.render_reps}; stalls: the worst" if mode.render_reps > 1
                  else "one render each", rows)
    return report.finish(started, machine(chromium), bad)


if __name__ == "__main__":
    sys.exit(main())
