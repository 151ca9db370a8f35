"""Scale benchmark: one run at 200 events/s to 1,000 and 3,000 subscribers, through one server in-process
and through replicas on Redis.

    python bench/scale.py          # full run: 10 s of events per case, about a minute and a half
    python bench/scale.py --quick  # smoke test: 2 s per case at 300 and 900 subscribers, about 35 s
    python bench/scale.py --subscribers 900,3000   # other sizes (the smaller also for the idle memory)

Two paths, the same run (the SSE bench's feed: events of simulated runs of the generic scenario,
~200 bytes a frame, appended at 200 events/s; event i is due at ``start + i / 200``):

1. ``in-process`` (today's path): ``workbench serve``'s aiohttp application in one process, the run
   registered with its ``RunService`` and fed on the server's own event loop, as in ``bench/sse.py``.
2. ``redis``: a real ``redis-server`` (Debian's) on a free loopback port, no persistence, in a temp
   folder; two replica processes, each serving ``workbench serve --redis``'s application (a
   ``RunService`` over ``RedisRunStore``, as ``workbench.serving.listener.serve`` builds it; a replica
   follows a live run with one blocking ``XREAD`` loop and fans it out to its streams); and a feeder
   process playing the worker: it writes the run's row with ``RedisRunStore.add`` and appends the
   events to the run's log, which the real ``workbench.serving.redis_writer.EventWriter`` follows
   (``writer.follow(run_log)``, as ``Worker`` does) and writes to the run's stream from its thread.
   Half the subscribers go to each replica (``GET /api/runs/{id}/events`` with the token). The same
   processes serve a third case with one replica (all subscribers on the first; the second idle),
   so that what one more replica adds is a ratio measured in the same run.

Cases: in-process at 1,000 and 3,000 subscribers; Redis with 2 replicas at 1,000 and 3,000; Redis
with 1 replica at 3,000 (``--quick``: 300 and 900).

Every server-side process (the in-process server; the replicas, the feeder and redis-server) is
pinned to CPU 0, so they share one core; the subscribers, raw non-blocking sockets on one epoll loop
in one process spread round robin over the replicas, and this parent are pinned to CPU 1 (these
machines have two cores). The subscribers read 16 KB at a time (the SSE bench: 4 KB): 3,000 of them
at 200 events/s are 600,000 frames/s for one process; a case where they had 90 % of CPU 1 or more
is flagged client-bound, and one where other work took CPU 0 or kept them waiting is flagged
disturbed. Figures per case:

- delivered events/s: events received by all subscribers together, over the time from the first
  append to the last receipt; 'offered' is subscribers × the measured append rate;
- latency from append to receipt, p50/p99/max over every (subscriber, event) pair: the feeder
  records ``time.time()`` right before each append, by id; the client records when the data that
  completed each frame reached its kernel (``SO_TIMESTAMPNS``, the same clock); joined after the run;
- CPU seconds per second of each process (/proc/PID/stat): the in-process server, each replica, the
  feeder, redis-server, the subscribers; and how long each serving process waited for its CPU
  (run-queue delay, /proc/PID/schedstat), as the machine may be shared;
- serving CPU per subscriber-event (the in-process server's, or the replicas' together, over the
  events delivered), and from it the subscribers one core would hold at 200 events/s on a larger
  machine: 1 / (CPU seconds per subscriber-event × 200). Redis's own CPU per event per replica and
  the feeder's per event are shown apart: they grow with replicas and runs, not subscribers;
- memory per idle subscriber: (RSS of the serving processes with ``n`` idle streams of a live run
  that has gone quiet − RSS with none) / ``n``, after ``gc.collect()`` (the SSE bench's measure_idle);
- what one more replica adds: 2 replicas ÷ 1 at 3,000 subscribers, for delivered events/s, p99, and
  replica CPU per subscriber-event. The replicas share CPU 0 here, so this is the cost of
  spreading a run over replicas, not the capacity a second machine would bring.

This is a benchmark, not a test: it prints figures and exits 0, or 1 if something misbehaved (a
lost, repeated or reordered event, a subscriber without the last event by the deadline, an error
in a server's log).

It reuses the SSE bench's parts (``bench/sse_bench/``): its server child (kinds ``standalone``,
``replica``, ``feeder``), client child, measurements and the children's protocol, whose processes are
``bench/sse.py`` run again with ``--serve`` or ``--client``; ``scale_parent`` is this bench's course.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per case at 300 and 900 subscribers (about a minute)")
    parser.add_argument("--subscribers", metavar="SMALL,BIG", help="the two sizes instead of the mode's (e.g. 1000,3000)")
    args = parser.parse_args(argv)

    from sse_bench.children import stop_all_children
    from sse_bench.scale_parent import FULL, QUICK, bench

    tmp = Path(tempfile.mkdtemp(prefix="workbench-scale-bench-"))

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        mode = QUICK if args.quick else FULL
        if args.subscribers:
            small, big = (int(x) for x in args.subscribers.split(","))
            mode = replace(mode, sizes=(small, big), idle=small)
        return bench(mode, tmp)
    finally:
        stop_all_children()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
