"""The event stream every server of the SSE bench sends: events of simulated runs, written once as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def build_feed(path: Path, count: int) -> dict[str, Any]:
    """``count`` event envelopes (JSON lines) from simulated runs of the generic scenario.

    Runs with seeds 0, 1, 2, … are concatenated (their own terminal events dropped) until there
    are ``count - 1`` events; the last run's ``execution:complete`` ends the stream. Ids are
    renumbered 1..count under one run id.
    """
    import workbench as wb
    from workbench.core import events as ev
    from workbench.core.handle import new_run_id

    datas: list[Any] = []
    terminal = None
    seed = 0
    while len(datas) < count - 1:
        run = wb.run("Plan a picnic for twelve people", model="simulated", options={"pace": 0, "seed": seed})
        state = run.wait()
        if state.status != "complete":
            raise SystemExit(f"the simulated run for the feed ended {state.status}")
        events = list(run.events)
        if seed == 0:
            first_run_events = len(events)
        terminal = events[-1]
        body = events[:-1] if not datas else [e for e in events[:-1] if e.type != "execution:started"]
        datas.extend(e.data for e in body)
        seed += 1
    assert terminal is not None
    datas = datas[: count - 1] + [terminal.data]
    run_id = new_run_id()
    ts = ev.utc_timestamp()
    lines = [ev.make_event(d, id=i, run_id=run_id, ts=ts).to_json() for i, d in enumerate(datas, 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frames = sum(len(b"id: %d\nevent: %s\ndata: %s\n\n" % (i, json.loads(x)["type"].encode(), x.encode()))
                 for i, x in enumerate(lines, 1))
    return {"events": len(lines), "frame_bytes": frames, "runs": seed, "first_run_events": first_run_events}


def load_feed(path: str) -> list[tuple[str, str]]:
    """(type, envelope JSON) of each event of the feed."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        out.append((json.loads(line)["type"], line))
    return out
