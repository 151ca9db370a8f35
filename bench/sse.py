"""SSE benchmark: one run streamed to 10, 100 and 1,000 subscribers through the Jupyter server extension.

    python bench/sse.py            # full run: 10 s of events per case, about 4 minutes
    python bench/sse.py --quick    # smoke test: 2 s per case, well under a minute
    python bench/sse.py --profile  # also profile the extension and try the what-ifs (the full run does
                                   # that anyway when a target is missed)
    python bench/sse.py --trace-idle  # only the memory per idle subscriber, and where the workbench
                                      # servers' goes (tracemalloc), about a minute

Three servers, each in a subprocess of its own pinned to CPU 0, serve the same event stream; the
subscribers live in another subprocess pinned to CPU 1, so the clients' cost never shares the
server's CPU budget (2 cores: one for the server, one for the subscribers and this parent, which
sleeps while measuring):

1. ``ext``: a real ``jupyter_server`` ``ServerApp`` with the workbench extension (and no other),
   on 127.0.0.1 with a token; subscribers ``GET /workbench/api/runs/{id}/events`` with
   ``Authorization: token …``. The stream takes the extension's whole path: Jupyter's
   authentication and authorization, ``RunService.get``, ``EventsHandler`` and
   ``workbench.serving.sse.run_stream`` over the run's ``RunLog``; the store follows the log as it does
   for every run. The run is fed by a deterministic feeder in the server process, on the
   server's event loop (where a real run's orchestrator would be): a ``Run`` owned by the
   server's user is registered with the service as ``RunService.create`` does (``_live`` and
   ``store.add``; there is no public way to feed a run at a set rate without an orchestrator),
   and the feeder calls ``run.log.append(data)``. As a cross-check, a real simulated run started
   through ``RunService.create`` with ``options={"pace": 200}`` streams to 1,000 subscribers for
   8 s and is then cancelled; its actual rate is measured and reported.
2. ``tornado``: a minimal Tornado SSE handler (a plain ``tornado.web.Application``): an in-memory
   list of frames, encoded once at append; each handler writes what it has not sent yet as one
   chunk and flushes, then waits on a future the feeder resolves at the next append.
3. ``aiohttp-sse``: a minimal ``aiohttp`` + ``aiohttp-sse`` handler over the same list, sending
   with ``EventSourceResponse.send(data, id=…, event=…)`` one event at a time (``sep="\\n"``).

The stream: events of simulated runs of the generic scenario (mostly one-word ``thinking:delta``
and ``text:delta``; ~200 bytes a frame), cut to ``rate × duration`` events, the last one
``execution:complete``. The baselines send the frames of those very events, so the bytes per
event are the same (the bench checks the bytes each subscriber got). The feeder appends at 200
events/s: event i is due at ``start + i / 200``; when the loop was busy, all that is due goes at once.

Figures per server and subscriber count:
- delivered events/s: events received by all subscribers together, over the time from the first
  append to the last receipt; 'offered' is subscribers × the measured append rate;
- latency from append to receipt, p50/p99/max over every (subscriber, event) pair: the server
  records ``time.time()`` right before each append, by id; the client records, by id, when the
  data that completed each frame reached its kernel (``SO_TIMESTAMPNS``, the same clock as
  ``time.time()``), so the subscribers' own delays do not count; joined after the run.
  'p99 due' measures from each event's due time instead, which adds the feeder's own lag;
- server memory per idle subscriber: (RSS with 1,000 idle streams of a live run that has gone
  quiet − RSS with none) / 1,000, after ``gc.collect()``, on a fresh, warmed-up server; measured
  for a fourth server too, ``standalone``: ``workbench serve``'s application and runner, with a
  token, fed as the extension's run is (``--trace-idle`` measures only this, and shows where the
  two workbench servers' memory goes, from tracemalloc snapshots taken before the subscribers
  connect and once they are idle).
- CPU of the server and the subscribers, and how long each waited for its CPU (run-queue delay
  from /proc/PID/schedstat): the machine may be shared, and such waits show up as latency. A
  disturbed case is run again (within a budget) and the least disturbed run is the one judged.
- the server's garbage collections (count, full ones, longest pause), from ``gc.callbacks``, and
  the stalls of its event loop (turns that kept a 5 ms sleeper waiting 30 ms more or longer).

When a target is missed (or with ``--profile``), the extension is run again under cProfile, then
with what-if changes made inside its server process only, cumulative: streams that send each
event as it is appended instead of once the store has committed it (what durable streaming
costs), then Python's own young-generation threshold (700), as if
``WorkbenchApp.young_collection_threshold`` were not raised, then ``gc.unfreeze()``, as if
``WorkbenchApp.freeze_startup_objects`` were off, to show what those defaults are worth.

This is a benchmark, not a test: it prints figures, says plainly when a target is missed, and
exits 0 either way (1 only if something misbehaved: a lost, repeated or reordered event, a stream
left behind, an error in a server's log).

The parts live in ``bench/sse_bench/``: ``server_child`` (the three servers and the feeder),
``client_child`` (the subscribers), ``children`` (how the parent starts and talks to both: this
script again, with ``--serve`` or ``--client``), ``measure`` (one case's figures), ``parent``
(the bench's course and verdicts) and ``figures`` (the tables); ``common`` and ``feed`` are
what they share.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per case, for smoke-testing (well under a minute)")
    parser.add_argument("--profile", action="store_true", help="cProfile the extension at 1,000 subscribers even if "
                                                              "every target is met")
    parser.add_argument("--trace-idle", action="store_true", help="only the memory per idle subscriber, with where "
                                                                 "the workbench servers' goes (tracemalloc)")
    parser.add_argument("--serve", nargs=5, metavar=("KIND", "FEED", "PORT", "TOKEN", "TMP"), help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=6, metavar=("PORTS", "PATH", "AUTHORIZATION", "N", "LAST", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:  # a server child (see sse_bench.children)
        from sse_bench.server_child import serve_main

        kind, feed, port, token, tmp = args.serve
        serve_main(kind, feed, int(port), token, tmp)
        return 0
    if args.client:  # a client child
        from sse_bench.client_child import client_main

        port, path, authorization, n, last, out = args.client
        client_main([int(p) for p in port.split(",")], path, authorization, int(n), int(last), out)
        return 0

    from sse_bench.children import stop_all_children
    from sse_bench.common import FULL, QUICK
    from sse_bench.parent import bench, trace_idle

    mode = QUICK if args.quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="workbench-sse-bench-"))

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if args.trace_idle:
            return trace_idle(QUICK, tmp)
        return bench(mode, tmp, args.quick, args.profile)
    finally:
        stop_all_children()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
