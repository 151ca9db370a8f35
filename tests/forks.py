"""Runs for the diff tests: simulated ones, and a fork built by hand as ``run.fork`` makes one
(the parent's first m events with the fork's run id, then ``run:forked``, then its own events)."""

from __future__ import annotations

import workbench as wb
from workbench.core import events as ev
from workbench.core.handle import Run

TASK = "Write a short guide to tide pools"
EDITED = "Wrote 12 characters to notes/brief.md (the fork's own)"
FORK_RESULT = "A different answer: the fork wrote its own guide."


def simulated(seed: int, **options: object) -> Run:
    run = wb.run(TASK, model="simulated", options={"seed": seed, **options})
    run.wait(timeout=60)
    return run


def first_tool_complete(run: Run, n: int) -> ev.Event:
    return [e for e in run.events if e.type == "tool:complete"][n]


def hand_fork(parent: Run, at: int, *, result_of: str = "", result: str = "", final: str | None = None,
              edits: ev.ForkEdits | None = None, run_id: str = "r_fork0000000001") -> Run:
    """A fork of ``parent`` at event ``at``, with ``edits`` (default: a message): it goes on as the
    parent did, but the tool call ``result_of`` returns ``result`` and the run ends with ``final``."""
    fork = Run(run_id=run_id, task=parent.task, model=parent.model, strategy=parent.strategy,
               created_at=parent.created_at, parent_id=parent.id, forked_at=at)
    fork.log.extend([e.model_copy(update={"run_id": fork.id}) for e in parent.events[:at]])
    fork.log.append(ev.RunForkedData(parent_id=parent.id, at=at, edits=edits or ev.ForkEdits(message="try again")))
    later = []
    for e in parent.events[at:]:
        data = e.data
        if isinstance(data, ev.ToolCompleteData) and data.tool_use_id == result_of:
            data = data.model_copy(update={"result": result})
        elif isinstance(data, ev.ExecutionCompleteData) and final is not None:
            data = data.model_copy(update={"result": final})
        later.append(e.model_copy(update={"run_id": fork.id, "id": e.id + 1, "data": data}))
    fork.log.extend(later)
    fork.log.close()
    return fork
