"""Starting runs: validate everything up front, then hand the work to an event loop.

Bad input is refused here, before a run exists, with a :class:`UserError` that says what
to change; nothing half-made is left behind.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from workbench.agent.controls import check_message
from workbench.agent.conversation import model_requests_of
from workbench.agent.models import check_credentials, default_model, make_client, validate_model
from workbench.agent.options import SERVER_PATHS, RunOptions, ToolBreakpoint, parse_options
from workbench.agent.orchestrator import STRATEGIES, Orchestrator, RunConfig
from workbench.agent.replaying import Replay
from workbench.agent.tools import Tool, resolve_tools
from workbench.core import events as ev
from workbench.core import otel
from workbench.core.forking import plan_fork
from workbench.core.home import workbench_home
from workbench.core.handle import Run, new_run_id
from workbench.core.log import RunLog
from workbench.core.loop import background_loop, freezes_startup_objects_first, running_loop
from workbench.core.takeover import closing_events, resume_plan, steps_used, was_paused
from workbench.errors import UserError

__all__ = ["MAX_TASK_CHARS", "NOT_INHERITED", "check_request", "fork_edits", "resume_run", "start_fork", "start_run", "validate_task",
           "workbench_home"]

MAX_TASK_CHARS = 50_000

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def validate_task(task: Any) -> str:
    if not isinstance(task, str) or not task.strip():
        raise UserError("the task must be a non-empty string, e.g. wb.run('Write a haiku about tides')")
    if len(task) > MAX_TASK_CHARS:
        raise UserError(f"the task is {len(task):,} characters long; the limit is {MAX_TASK_CHARS:,}")
    surrogate = _LONE_SURROGATE.search(task)
    if surrogate is not None:
        # Refused, not replaced: the text was garbled before it got here (often a JSON "\\udXXX"
        # escape of half a character), and a task quietly changed is worse than a clear error.
        raise UserError(f"the task has a lone surrogate {surrogate.group()!a} at character {surrogate.start()}, which "
                        "is not text; send the task as UTF-8 (in JSON, escape characters outside the BMP as a pair)")
    return task.strip()


@freezes_startup_objects_first
def start_run(
    task: str,
    *,
    model: str | None = None,
    strategy: str = "plan",
    tools: Sequence[Tool[..., Any] | str | Callable[..., Any]] | None = None,
    options: dict[str, Any] | RunOptions | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    owner: str | None = None,
    run_log: RunLog | None = None,
    run_id: str | None = None,
    before_start: Callable[[Run], None] | None = None,
    fork: tuple[Run, Replay] | None = None,
    resume: Replay | None = None,
) -> Run:
    """Validate a run's request and start it on ``loop`` (default: the workbench's background loop).

    Returns at once; the run goes on in the background. ``before_start(run)`` is called once
    the run is built and before it starts: if it raises, the run never starts (a server
    stores the run there, so that no run goes on that it could not record).

    The first run in a process first freezes the objects alive then out of garbage collection
    (see :func:`workbench._runtime.freeze_startup_objects`).

    ``fork``: the parent and the replay of a fork (made by :func:`start_fork`): the new run's
    log starts with the parent's copied events, and its orchestrator walks through them.
    ``resume``: the replay of a run taken over from a stopped worker (:func:`resume_run`), whose
    ``run_log`` holds its events already.
    """
    task, model, resolved_tools, run_options = check_request(task, model=model, strategy=strategy, tools=tools,
                                                             options=options)
    run_id = run_id or new_run_id()
    workspace = run_options.workspace_path(run_id, workbench_home())

    orchestrator_ref: list[Orchestrator] = []
    client = make_client(model, run_options, on_retry=lambda *a: orchestrator_ref[0].on_sdk_retry(*a))
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the workspace folder {workspace}: {exc.strerror}") from None
    run = Run(
        run_id=run_id,
        task=task,
        model=model,
        strategy=strategy,
        created_at=ev.utc_timestamp(),
        log=run_log if run_log is not None else RunLog(run_id),
        workspace=workspace,
        owner=owner,
        options=run_options.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude=set(SERVER_PATHS)),
        tools=[t.name for t in resolved_tools],
        parent_id=fork[0].id if fork else None,
        forked_at=fork[1].plan.at if fork else None,
    )
    run._tool_objects = resolved_tools
    # `strategy` is one of STRATEGIES (checked above), which a plain `in` does not narrow to the Literal.
    config = RunConfig(task, model, strategy, resolved_tools, run_options, workspace)  # type: ignore[arg-type]
    orchestrator = Orchestrator(config, run.log, client, replay=fork[1] if fork else resume)
    orchestrator_ref.append(orchestrator)
    if before_start is not None:
        try:
            before_start(run)
        except BaseException:
            _remove_if_empty(workspace)
            raise
    if fork is not None:  # after before_start: a store following the log gets the copy too
        parent, replay = fork
        run._parent = parent
        run.log.extend(e.model_copy(update={"run_id": run.id}) for e in parent.events[: replay.plan.at])
    _schedule(run, orchestrator, loop or background_loop())
    return run


def check_request(
    task: Any,
    *,
    model: str | None = None,
    strategy: str = "plan",
    tools: Sequence[Tool[..., Any] | str | Callable[..., Any]] | None = None,
    options: dict[str, Any] | RunOptions | None = None,
) -> tuple[str, str, list[Tool[..., Any]], RunOptions]:
    """A run's request checked as :func:`start_run` checks it (a :class:`UserError` says what to change):
    the task, model, tools and options it would run with. A server that hands runs to workers
    refuses a bad request with this before queueing it."""
    task = validate_task(task)
    model = validate_model(model or default_model())
    check_credentials(model)
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    resolved_tools = list(resolve_tools(tools))
    run_options = parse_options(options)
    _check_tool_names(run_options, resolved_tools)
    return task, model, resolved_tools, run_options


def resume_run(run_log: RunLog, *, attempt: int, worker: str, task: str, **start: Any) -> Run:
    """Go on with a run another worker stopped executing (see :mod:`workbench.core.takeover`).

    ``run_log`` holds the run's events 1..n as the stopped worker left them. This closes the tool
    calls it left open, replays the run up to its last fully ended turn m with the recorded answers
    (the model is asked nothing for them) and goes on live from there, after ``run:resumed``.
    The rest (``model``, ``strategy``, ``tools``, ``options``, ``loop``, ``owner``, ``run_id``)
    goes to :func:`start_run`, as the run was first started.
    """
    events = list(run_log.events)
    plan = resume_plan(events)
    paused = was_paused(events)
    for closing in closing_events(events):
        run_log.append(closing)
    resumed = ev.RunResumedData(attempt=attempt, at=plan.at, worker=worker)
    replay = Replay(plan, parent_id=run_log.run_id, edits=ev.ForkEdits(), resumed=resumed, steps_used=steps_used(events),
                    pause_again=paused, logged=events[plan.at:])
    return start_run(task, run_log=run_log, run_id=run_log.run_id, resume=replay, **start)


def start_fork(
    parent: Run,
    at: int,
    *,
    model: str | None = None,
    options: dict[str, Any] | None = None,
    tool_result: dict[str, Any] | None = None,
    message: str | None = None,
    tools: Sequence[Tool[..., Any] | str | Callable[..., Any]] | None = None,
    by: str | None = None,
    **start: Any,
) -> Run:
    """Fork ``parent`` at event ``at`` (contract section 7): a new run that starts with a copy of
    the parent's events up to the last model turn fully ended at or before ``at``, then
    ``run:forked``, then goes on live, asking the model nothing for the copied part.

    ``model`` and ``options`` (merged over the parent's) apply from the fork point on;
    ``tool_result`` (``{"toolUseId": …, "result": …}``) replaces what the model saw of one
    tool call of the copied part; ``message`` is a person's message added at the fork point.
    ``tools`` default to the parent's. The rest (``loop``, ``owner``, ``before_start``, …)
    goes to :func:`start_run`.
    """
    if parent.strategy and parent.strategy not in STRATEGIES:  # e.g. "custom": made with wb.record
        raise UserError(f"run {parent.id} was recorded from an agent of its own (strategy {parent.strategy!r}); "
                        "the workbench cannot run that agent, so it cannot fork the run")
    events = list(parent.events[: parent.log.published])
    plan = plan_fork(events, at)
    if options is not None and not isinstance(options, dict):
        raise UserError(f"options must be a dict, not {type(options).__name__}")
    # The edits are an event: the options a server adds (its paths) are not for clients to see.
    shown = {k: v for k, v in (options or {}).items() if k not in SERVER_PATHS}
    edits = fork_edits(plan.calls, plan.at, model=model, options=shown, tool_result=tool_result, message=message)
    inherited = {k: v for k, v in parent.options.items() if k not in NOT_INHERITED}
    if tools is None:
        tools = parent._tool_objects if parent._tool_objects is not None else parent.tools
    replay = Replay(plan, parent_id=parent.id, edits=edits, by=by)
    return start_run(parent.task, model=model or parent.model, strategy=parent.strategy or "plan", tools=tools,
                     options={**inherited, **(options or {})}, fork=(parent, replay), **start)


NOT_INHERITED = frozenset({"faults"})
"""Options a fork does not take from its parent: the simulator's faults name requests by number,
and a fork's requests are numbered from 1 again."""


def fork_edits(
    calls: Sequence[Any],
    at: int,
    *,
    model: str | None,
    options: dict[str, Any] | None,
    tool_result: dict[str, Any] | None,
    message: str | None,
) -> ev.ForkEdits:
    """A fork's edits, checked: a :class:`UserError` says what does not fit."""
    edited: ev.ToolResultEdit | None = None
    if tool_result is not None:
        if not isinstance(tool_result, dict) or set(tool_result) - {"toolUseId", "tool_use_id", "result"} \
                or "result" not in tool_result:
            raise UserError('tool_result must be {"toolUseId": "toolu_…", "result": …}')
        tool_use_id = tool_result.get("toolUseId", tool_result.get("tool_use_id"))
        known = [i for call in calls for i in call.tool_results]
        if tool_use_id not in known:
            raise UserError(f"tool call {str(tool_use_id)[:64]!r} is not in the part of the run a fork at this event copies "
                            f"(events 1 to {at}); its tool calls are {', '.join(known) or 'none'}")
        edited = ev.ToolResultEdit(tool_use_id=str(tool_use_id), result=tool_result["result"])
    if message is not None:
        message = check_message(message, "message")
    return ev.ForkEdits(tool_result=edited, message=message, model=model, options=options or None)


def _check_tool_names(options: RunOptions, tools: Sequence[Tool[..., Any]]) -> None:
    """The tools that ``approve`` and ``breakpoints`` name must be tools of the run."""
    named = [] if options.approve == "all" else list(options.approve)
    named += [b.tool for b in options.breakpoints if isinstance(b, ToolBreakpoint)]
    known = {t.name for t in tools}
    unknown = sorted(set(named) - known)
    if unknown:
        raise UserError(f"options name tools this run does not have: {', '.join(unknown)}; "
                        f"its tools are {', '.join(sorted(known)) or 'none'}")


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty, or already gone: leave it
        pass


def _schedule(run: Run, orchestrator: Orchestrator, loop: asyncio.AbstractEventLoop) -> None:
    run._loop = loop
    run._canceller = lambda reason, interrupted=False: loop.call_soon_threadsafe(
        lambda: orchestrator.request_cancel(reason, interrupted=interrupted)
    )
    run._controller = orchestrator.controls

    async def execute() -> None:
        try:
            await orchestrator.execute()
        finally:
            # A finished run keeps nothing but its log: the orchestrator holds the model client
            # and, for the simulator, its whole generated scenario (megabytes).
            run._canceller = None
            run._controller = None
            run._task = None
            # Sent as a trace when switched on (WORKBENCH_OTEL=1), with each call's input if content is captured.
            otel.run_ended(run.log.events, requests=lambda: model_requests_of(run))

    if running_loop() is loop:
        run._task = loop.create_task(execute(), name=f"workbench-run-{run.id}")
    else:
        # The task handle is kept so the loop does not garbage-collect a running task.
        future = asyncio.run_coroutine_threadsafe(execute(), loop)
        run._task = future
