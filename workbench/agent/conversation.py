"""What each model call of a run was asked, rebuilt from its log alone (contract section 7).

The orchestrator walks the run's course again with a :class:`~workbench.agent.replaying.Replay`
of every recorded call, as a fork of the whole run would, and notes the params of each call
(system prompt, messages, tools) instead of sending them. Nothing is asked of any model and
nothing is logged; the built-in writes of the replay go to a scratch folder.
"""

from __future__ import annotations

import asyncio
import copy
import tempfile
import threading
from pathlib import Path
from typing import Any, Coroutine, Sequence

from workbench.agent.models import ModelClient
from workbench.agent.options import parse_options
from workbench.agent.orchestrator import STRATEGIES, Orchestrator, RunConfig
from workbench.agent.replaying import Replay
from workbench.agent.tools import Tool, resolve_tools
from workbench.core import events as ev
from workbench.core.forking import ForkPlan, recorded_calls
from workbench.core.handle import Run
from workbench.core.log import RunLog
from workbench.errors import UserError

__all__ = ["model_requests", "model_requests_of"]


class _WalkEnded(Exception):
    """The walk has passed the log's last answer: what the run would ask next is not in it."""


class _NoModel:
    """Stands in for the SDK client: the walk ends before any call would reach it."""

    async def aclose(self) -> None:
        pass


def model_requests(events: Sequence[ev.Event], *, strategy: str, options: dict[str, Any] | None = None,
                   tools: Sequence[Tool[..., Any]] = ()) -> list[dict[str, Any]]:
    """The params of each model call of the run whose log is ``events``, in order (one per
    ``model:response``). ``options`` and ``tools`` are the run's: the walk needs its limits and,
    for each request's ``tools``, their definitions."""
    started = events[0].data if events else None
    if not isinstance(started, ev.ExecutionStartedData) or strategy not in STRATEGIES:
        return []
    calls = tuple(recorded_calls(events))
    # A person's breakpoints and approvals would hold the walk; thinking "off" asks no Models API.
    settings = parse_options({**(options or {}), "approve": [], "breakpoints": [], "thinking": "off"})
    requests: list[dict[str, Any]] = []

    def note(params: dict[str, Any]) -> None:
        if len(requests) == len(calls):  # the first call past the log: the walk is over
            raise _WalkEnded()
        requests.append(copy.deepcopy(params))  # the orchestrator goes on growing its messages

    with tempfile.TemporaryDirectory(prefix="workbench-walk-") as scratch:
        config = RunConfig(started.task, started.model, strategy, list(tools), settings, Path(scratch))  # type: ignore[arg-type]
        client = ModelClient(_NoModel(), started.model, simulated=True)  # type: ignore[arg-type]
        replay = Replay(ForkPlan(at=len(events), calls=calls), parent_id=events[0].run_id, edits=ev.ForkEdits())
        walker = Orchestrator(config, RunLog(events[0].run_id), client, replay=replay, on_request=note)
        _run_apart(walker._work())
    return requests


def _run_apart(work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` to its end on a loop of its own, in a thread of its own: the caller's thread
    may be running a loop already (a notebook's kernel, a server)."""

    def walk() -> None:
        try:
            asyncio.run(work)
        except Exception:  # noqa: BLE001  # past the last answer, or a log it cannot follow: what it noted stands
            pass

    thread = threading.Thread(target=walk, name="workbench-walk")
    thread.start()
    thread.join()


def model_requests_of(run: Run) -> list[dict[str, Any]]:
    """:func:`model_requests` for a run, with its own settings (a fork's or a run file's too)."""
    try:
        tools = run._tool_objects if run._tool_objects is not None else resolve_tools(run.tools)
    except UserError:  # tools of one's own, not known by name here: the requests go without their definitions
        tools = []
    options = run.options
    try:
        parse_options(options)
    except UserError:  # options of a newer workbench: the walk goes by the defaults
        options = {}
    return model_requests(list(run.events), strategy=run.strategy or "plan", options=options, tools=list(tools))
