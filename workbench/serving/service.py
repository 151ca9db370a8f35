"""The runs a server hosts: creation, ownership, listing, cancel, persistence, shutdown.

Both HTTP servers (the Jupyter server extension and ``workbench serve``) are thin layers
over one :class:`RunService`: they authenticate, turn the request into a call here, and
encode the answer. Every refusal is an :class:`Refusal` whose status and message are
what the client gets; a run belonging to someone else looks exactly like an unknown one.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Iterator, Literal, Sequence

from workbench.agent.options import CLIENT_OPTIONS
from workbench.agent.tools import BUILTIN_TOOL_NAMES
from workbench.core import events as ev
from workbench.core import otel as otel_export
from workbench.core.handle import Run, new_run_id
from workbench.core.loop import leave_collection_to_host
from workbench.core.redact import get_logger, redact
from workbench.core.runfile import header_line
from workbench.core.store import DEFAULT_PAGE, MAX_PAGE, RunStore, StoreUnavailable
from workbench.errors import NotWaiting, UnknownToolCall, UserError
from workbench.serving import sse
from workbench.serving.metrics import StreamMeter
from workbench.serving.remote_controls import ControlChannel, Ticket, take_ticket
from workbench.serving.run_stores import Dispatcher, Store, TooManyRuns

if TYPE_CHECKING:
    from workbench.serving.exposition import Metrics

__all__ = ["Refusal", "Principal", "RunService", "MAX_BODY_BYTES", "CLIENT_OPTIONS", "parse_body", "safe_segment", "too_large"]

log = get_logger("workbench.server")

FINISHED_CACHE_SIZE = 32
"""Finished runs kept in memory after being read back from the store, at most."""

FINISHED_CACHE_BYTES = 8 * 2**20
"""And at most this many bytes of their events as JSON (in memory, as objects, they take about ten
times that: some 80 MB), so a few huge runs cannot fill the memory."""

RUN_FILE_BATCH = 1000
"""Event lines of a run file written together: a download is a few writes, not one per event."""

MARKDOWN_SPAN = 10_000
"""Most event ids one request for a run's Markdown may span (the web view asks per batch it shows)."""

REMOTE_ANSWER_WAIT = 5.0
"""Seconds a control's answer waits, at most, for the worker running the run to apply it (through Redis)."""

ANSWER_WAIT = 2.0
"""Seconds a control's answer waits, at most, for the store to write the event the control caused."""

MAX_BODY_BYTES = 1_000_000
"""The largest request body accepted."""

_RUN_ID = re.compile(r"^r_[0-9a-f]{16}$")

Role = Literal["user", "instructor", "participant"]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user name and, in workshop mode, a role."""

    name: str
    role: Role = "user"
    forks_shared: bool = False
    """A workshop participant whom the workshop file lets fork a shared run into a run of their own."""

    @property
    def may_start(self) -> bool:
        return self.role != "participant"

    @property
    def may_fork(self) -> bool:
        return self.may_start or self.forks_shared


class Refusal(Exception):
    """A refusal with its HTTP status, error type and a message a person can act on."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = redact(message)

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.error_type, "message": self.message}}

    def json(self) -> str:
        return json.dumps(self.body())


def too_large() -> Refusal:
    """The refusal of a request body over :data:`MAX_BODY_BYTES` (both servers send this one)."""
    return Refusal(413, "too_large", f"the request body is larger than {MAX_BODY_BYTES:,} bytes, the limit here")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes, *, optional: bool = False, example: str = '{"task": "Write a haiku"}') -> Any:
    """A request body as JSON, or the :class:`Refusal` both servers answer for it.

    Strict JSON: ``NaN`` and ``Infinity`` are refused, and so is nesting too deep to parse
    (a 400, never a 500). ``optional``: an empty body is None (a control route's body, which
    the service checks), not a refusal. ``example``: a body the refusals suggest.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    if not raw.strip():
        if optional:
            return None
        raise Refusal(400, "invalid_request", f"the body must be a JSON object such as {example}")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = str(exc).splitlines()[0][:120] if not isinstance(exc, RecursionError) else "nested too deeply"
        raise Refusal(400, "invalid_json", f"the body is not valid JSON ({detail}); send an object such as "
                                            f"{example}") from None


def _not_found(run_id: str) -> Refusal:
    return Refusal(404, "not_found", f"no run {run_id[:40]!r} here; list yours with GET /runs")


class RunService:
    """Runs for many users, on one event loop, persisted in SQLite."""

    def __init__(
        self,
        *,
        store_path: str | Path | None = None,
        workspace_root: str | Path,
        store: Store | None = None,
        dispatcher: Dispatcher | None = None,
        default_model: str | None = None,
        max_runs_per_user: int = 4,
        allowed_tools: list[str] | None = None,
        share_instructor_runs: bool = True,
        otel: bool = False,
    ) -> None:
        leave_collection_to_host()  # the server freezes its start-up objects itself, if it is set to
        if otel:  # every run this server starts goes out as a trace once it ends (see workbench.core.otel)
            otel_export.enable()
        self.allowed_tools = list(BUILTIN_TOOL_NAMES) if allowed_tools is None else list(allowed_tools)
        unknown = [t for t in self.allowed_tools if t not in BUILTIN_TOOL_NAMES]
        if unknown:
            raise UserError(f"unknown tools in allowed_tools: {unknown}; built-in tools are {sorted(BUILTIN_TOOL_NAMES)}")
        self.workspace_root = Path(workspace_root)
        self.default_model = default_model or None
        self.max_runs_per_user = max_runs_per_user
        self.share_instructor_runs = share_instructor_runs
        self._live: dict[str, Run] = {}
        """Runs going, and ended runs whose events are not all stored yet (the store may be refusing writes)."""
        # Finished runs read back from the store, newest use last: a stream, a detail and a
        # download of one run should not each parse it from SQLite on the event loop.
        self._finished: OrderedDict[str, Run] = OrderedDict()
        self._finished_bytes = 0
        self._loading: dict[str, asyncio.Future[Run | None]] = {}
        """Runs being read from the store right now: later requests for one wait for that read."""
        self._closing = False
        self.meter = StreamMeter()
        """What this service's event streams did: :mod:`.metrics` reads it at a scrape."""
        self._ended_events = 0
        self._ended_retries = 0
        """Events and model retries of this service's runs that have left the live table."""
        self._metrics: Metrics | None = None
        """Made at the first scrape (:meth:`scrape_metrics`), and ``prometheus_client`` imported with it."""
        if store is None and store_path is None:
            raise UserError("a RunService needs a store_path (SQLite) or a store")
        self.store: Store = store if store is not None else RunStore(store_path)  # type: ignore[arg-type]
        self.dispatcher = dispatcher
        """Where new runs go to be executed (workers, through Redis); None: they execute in this process."""
        try:
            interrupted = self.store.recover()
        except BaseException:
            self.store.close()
            raise
        for run in interrupted:  # held until their last events are stored, which a full disk may delay
            self._live[run.id] = run
        self._recovered = {run.id for run in interrupted}
        """Runs of an earlier process: their events are not this server's to count."""
        self.store.flush(timeout=2.0)  # so the first requests already see them ended
        if interrupted:
            log.info("marked %d runs interrupted by the last stop: %s", len(interrupted),
                     ", ".join(run.id for run in interrupted))

    # --- commands ------------------------------------------------------------------------

    def create(self, who: Principal, body: Any) -> Run:
        """Start a run from a request body ``{task, model?, strategy?, tools?, options?}``."""
        if self._closing:
            raise Refusal(503, "unavailable", "the server is shutting down; try again when it is back")
        self._retire_finished()
        self.check_may_start(who)
        self._check_store_writes()
        if not isinstance(body, dict):
            raise Refusal(400, "invalid_request", "the body must be a JSON object such as {\"task\": \"…\"}")
        unknown = sorted(set(body) - {"task", "model", "strategy", "tools", "options"})
        if unknown:
            raise Refusal(400, "invalid_request", f"unknown fields {unknown}; use task, model, strategy, tools, options")
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
                raise Refusal(400, "invalid_request", "tools must be a list of built-in tool names")
            refused = [t for t in tools if t not in self.allowed_tools]
            if refused:
                raise Refusal(400, "invalid_request", f"tools {refused} are not available here; available: {self.allowed_tools}")
        else:
            tools = self.allowed_tools
        options = self._client_options(body.get("options"))
        self._check_running_limit(who)
        model = body.get("model", self.default_model)
        if model is not None and not isinstance(model, str):
            raise Refusal(400, "invalid_request", "model must be a string")
        strategy = body.get("strategy", "plan")
        if not isinstance(strategy, str):
            raise Refusal(400, "invalid_request", "strategy must be a string")
        run_id = new_run_id()
        workspace = self._workspace(who, run_id)
        shared = self._shares(who)
        if self.dispatcher is not None:
            return self._dispatch(who, run_id, body.get("task"), model=model, strategy=strategy, tools=tools,
                                  options=options, shared=shared)
        # The agent, with the anthropic SDK, loads with the first run, not with the server (see load_agent).
        from workbench.agent.launch import start_run

        return self._started("a new run", lambda: start_run(
            body.get("task"),  # type: ignore[arg-type]  # start_run refuses a task that is not a string
            model=model,
            strategy=strategy,
            tools=tools,
            options={**options, "workspace": str(workspace)},
            loop=asyncio.get_running_loop(),
            owner=who.name,
            run_id=run_id,
            # Stored before it starts: a run the store could not record would go on unseen.
            before_start=lambda run: self.store.add(run, shared=shared),
        ))

    def _dispatch(self, who: Principal, run_id: str, task: Any, *, model: str | None, strategy: str, tools: list[str],
                  options: dict[str, Any], shared: bool) -> Run:
        """A new run handed to the workers: checked here as :func:`~workbench.agent.launch.start_run` checks
        it, so a bad request is refused at once, then queued; what clients read of it until its first event."""
        assert self.dispatcher is not None
        from workbench.agent.launch import check_request
        from workbench.agent.options import SERVER_PATHS

        try:
            task, model, _, run_options = check_request(task, model=model, strategy=strategy, tools=tools, options=options)
        except UserError as exc:
            raise Refusal(400, "invalid_request", str(exc)) from None
        run = Run(run_id=run_id, task=task, model=model, strategy=strategy, created_at=ev.utc_timestamp(), owner=who.name,
                  options=run_options.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude=set(SERVER_PATHS)),
                  tools=tools)
        request = {"task": task, "model": model, "strategy": strategy, "tools": tools, "options": options}
        return self._submit(run, request, shared)

    def _submit(self, run: Run, request: dict[str, Any], shared: bool) -> Run:
        """Hand ``run`` to the dispatcher, which counts its owner's runs going on every replica."""
        assert self.dispatcher is not None
        try:
            return self.dispatcher.submit(run, request, shared=shared, limit=self.max_runs_per_user)
        except TooManyRuns as exc:
            raise _too_many_runs(exc.going) from None

    def fork(self, who: Principal, run_id: str, body: Any) -> Run:
        """``POST /runs/{id}/fork`` (contract section 7). Body ``{at, model?, options?, edits?}``, ``edits``
        being ``{toolResult?: {toolUseId, result}, message?}``: a new run of ``who``'s own."""
        if self._closing:
            raise Refusal(503, "unavailable", "the server is shutting down; try again when it is back")
        parent = self.get(who, run_id)  # 404 unless who may read it
        if not who.may_fork:
            raise Refusal(403, "forbidden", "participants watch runs here; this workshop does not let participants "
                                             "fork them (an instructor can allow it: participants_may_fork = true)")
        self._retire_finished()
        self._check_store_writes()
        if not isinstance(body, dict):
            raise Refusal(400, "invalid_request", 'the body must be a JSON object such as {"at": 12}')
        unknown = sorted(set(body) - {"at", "model", "options", "edits"})
        if unknown:
            raise Refusal(400, "invalid_request", f"unknown fields {unknown}; use at, model, options, edits")
        at = body.get("at")
        if isinstance(at, bool) or not isinstance(at, int):
            raise Refusal(400, "invalid_request", f"at must be the id of an event of the run (1 to {parent.log.published})")
        edits = body.get("edits") or {}
        if not isinstance(edits, dict) or set(edits) - {"toolResult", "message"}:
            raise Refusal(400, "invalid_request", 'edits must be an object such as {"toolResult": {"toolUseId": "…", '
                                                   '"result": "…"}, "message": "…"}')
        options = self._client_options(body.get("options"))
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise Refusal(400, "invalid_request", "model must be a string")
        self._check_running_limit(who)
        new_id = new_run_id()
        if self.dispatcher is not None:
            return self._dispatch_fork(who, parent, at, new_id, model=model, options=options, edits=edits)
        from workbench.agent.launch import start_fork  # loaded with the first run, as in create()

        return self._started("a fork", lambda: start_fork(
            parent, at, model=model, options={**options, "workspace": str(self._workspace(who, new_id))},
            tool_result=edits.get("toolResult"), message=edits.get("message"),
            tools=parent.tools if parent.tools is not None else self.allowed_tools, by=who.name,
            loop=asyncio.get_running_loop(), owner=who.name, run_id=new_id,
            before_start=lambda run: self.store.add(run, shared=self._shares(who)),
        ))

    def _started(self, what: str, start: Callable[[], Run]) -> Run:
        """The run ``start()`` starts, held as live; its refusals as the contract's errors."""
        try:
            run = start()
        except StoreUnavailable as exc:
            log.error("refused %s: %s", what, exc)
            raise self._store_refusal() from None
        except UserError as exc:
            raise Refusal(400, "invalid_request", str(exc)) from None
        self._live[run.id] = run
        return run

    def _dispatch_fork(self, who: Principal, parent: Run, at: int, run_id: str, *, model: str | None,
                       options: dict[str, Any], edits: dict[str, Any]) -> Run:
        """A fork handed to the workers: checked here as :func:`~workbench.agent.launch.start_fork` checks it,
        then queued with what the worker needs to start it (and, should it stop, to resume it)."""
        assert self.dispatcher is not None
        from workbench.agent.launch import NOT_INHERITED, check_request, fork_edits
        from workbench.agent.options import SERVER_PATHS
        from workbench.core.forking import plan_fork

        tools = parent.tools if parent.tools is not None else self.allowed_tools
        merged = {**{k: v for k, v in parent.options.items() if k not in NOT_INHERITED}, **options}
        try:
            plan = plan_fork(list(parent.events[: parent.log.published]), at)
            fork_edits(plan.calls, plan.at, model=model, options=options, tool_result=edits.get("toolResult"),
                       message=edits.get("message"))
            task, model_name, _, run_options = check_request(parent.task, model=model or parent.model,
                                                             strategy=parent.strategy or "plan", tools=tools,
                                                             options=merged)
        except UserError as exc:
            raise Refusal(400, "invalid_request", str(exc)) from None
        run = Run(run_id=run_id, task=task, model=model_name, strategy=parent.strategy or "plan",
                  created_at=ev.utc_timestamp(), owner=who.name, tools=tools, parent_id=parent.id, forked_at=plan.at,
                  options=run_options.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude=set(SERVER_PATHS)))
        request = {"task": task, "model": model_name, "strategy": run.strategy, "tools": tools, "options": merged,
                   "fork": {"parent": parent.id, "at": at, "model": model, "options": options,
                            "toolResult": edits.get("toolResult"), "message": edits.get("message"), "by": who.name}}
        return self._submit(run, request, self._shares(who))

    def _client_options(self, options: Any) -> dict[str, Any]:
        """A request's ``options``, refused (400) when not an object or naming what HTTP may not set."""
        if options is None:
            return {}
        if not isinstance(options, dict):
            raise Refusal(400, "invalid_request", "options must be a JSON object")
        refused = sorted(set(options) - CLIENT_OPTIONS)
        if refused:
            raise Refusal(400, "invalid_request", f"options {refused} cannot be set over HTTP; allowed: {sorted(CLIENT_OPTIONS)}")
        return options

    def _check_running_limit(self, who: Principal) -> None:
        """Refuse (429) a run over ``who``'s limit of runs going here; with a dispatcher, which knows the runs of
        every replica, it refuses at :meth:`_submit`."""
        running = sum(1 for r in self._live.values() if r.owner == who.name and not r.done)
        if running >= self.max_runs_per_user:
            raise _too_many_runs(running)

    def _workspace(self, who: Principal, run_id: str) -> Path:
        return self.workspace_root / safe_segment(who.name) / run_id

    def _shares(self, who: Principal) -> bool:
        """Whether ``who``'s new runs are shared with a workshop's participants: an instructor's are."""
        return self.share_instructor_runs and who.role == "instructor"

    def _check_store_writes(self) -> None:
        if self.store.problem is not None:
            raise self._store_refusal()

    def _store_refusal(self) -> Refusal:
        return Refusal(503, "store_unavailable",
                        f"the server cannot store new runs right now ({self.store.problem or 'its run store refused a write'}); "
                        "runs already going keep streaming. Try again once its disk has space")

    @staticmethod
    def check_may_start(who: Principal) -> None:
        """Refuse (403) whoever may not start runs: a workshop's participants. Servers ask before reading the body."""
        if not who.may_start:
            raise Refusal(403, "forbidden", "participants watch runs; only an instructor starts them. "
                                             "The instructors' runs are listed by GET /runs (wb.runs() in Python)")

    def cancel(self, who: Principal, run_id: str) -> Run:
        run = self.get(who, run_id)  # 404 unless who may read it
        if run.owner != who.name:  # a participant watching a shared run
            raise Refusal(403, "forbidden",
                           f"participants watch runs; only {run.owner}, who started this run, can cancel it")
        if run.done or not run.cancel(f"cancelled by {who.name}"):
            raise Refusal(409, "already_finished", f"run {run_id} has already ended ({run.state.status})")
        return run

    # --- a person's hand on a running run: pause, resume, decisions, messages (contract v2) ----

    def pause(self, who: Principal, run_id: str, body: bytes) -> Run:
        """``POST /runs/{id}/pause``: hold the run at its next turn boundary. Body: none, or ``{}``.

        The control routes take the request's raw body: it is read only for a caller who may
        control the run (a participant gets the 403 whatever they send)."""
        run = self._controlled(who, run_id, "pause it")
        _fields(body, "pause", {})
        return _control(run, lambda: run.pause())

    def resume(self, who: Principal, run_id: str, body: bytes) -> Run:
        """``POST /runs/{id}/resume``: go on. Body ``{step?}``: ``true`` pauses again at the next boundary."""
        run = self._controlled(who, run_id, "resume it")
        step = _fields(body, "resume", {"step": "true"}).get("step", False)
        if not isinstance(step, bool):
            raise Refusal(400, "invalid_request", f"step must be true or false, not {json.dumps(step)[:40]}")
        return _control(run, lambda: run.resume(step, by=who.name))

    def decide(self, who: Principal, run_id: str, tool_use_id: str, body: bytes) -> Run:
        """``POST /runs/{id}/tools/{toolUseId}/decision``. Body ``{decision, params?, note?}``."""
        run = self._controlled(who, run_id, "decide on its tool calls")
        fields = _fields(body, "decision", {"decision": '"edit"', "params": "{…}", "note": '"…"'}, required=True)
        if "decision" not in fields:
            raise Refusal(400, "invalid_request", 'the body needs a decision: {"decision": "approve"}, '
                                                   '{"decision": "edit", "params": {…}} or {"decision": "deny", "note": "…"}')
        return _control(run, lambda: run.decide(tool_use_id, fields["decision"], fields.get("params"),
                                                fields.get("note"), by=who.name))

    def say(self, who: Principal, run_id: str, body: bytes) -> Run:
        """``POST /runs/{id}/messages``: a message the model reads at its next turn. Body ``{text}``."""
        run = self._controlled(who, run_id, "send it messages")
        text: Any = _fields(body, "message", {"text": '"…"'}, required=True).get("text")
        return _control(run, lambda: run.say(text, by=who.name))  # say() refuses a missing, empty or non-string text

    async def answer(self, run: Run, timeout: float = ANSWER_WAIT) -> dict[str, Any]:
        """The summary a control's ``202`` carries: once clients may see every event the run has
        now (the store has written the control's own event), so it shows what the control did.
        A store that cannot write does not hold the answer up past ``timeout`` (then the summary
        says ``notStored``)."""
        remote = take_ticket()
        if remote is not None:  # a control sent to the worker that runs the run: its answer says what came of it
            return await self._remote_answer(run, *remote, timeout=REMOTE_ANSWER_WAIT)
        target = len(run.log)
        try:
            async with asyncio.timeout(timeout):
                while run.log.published < target and await run.log.wait_beyond(run.log.published, published=True):
                    pass
        except TimeoutError:
            pass
        return self.summary(run)

    async def _remote_answer(self, run: Run, channel: ControlChannel, ticket: Ticket, *,
                             timeout: float) -> dict[str, Any]:
        reply = await channel.wait_reply(ticket, timeout)
        if reply is None:  # no worker has the run right now: the control waits on its stream for the next one
            return self.summary(run)
        if reply.status != 202:
            raise Refusal(reply.status, reply.error_type or "invalid_request", reply.message or "refused")
        try:
            async with asyncio.timeout(timeout):
                while len(run.log) < reply.events and await run.log.wait_beyond(len(run.log)):
                    pass
        except TimeoutError:
            pass
        return self.summary(run)

    def _controlled(self, who: Principal, run_id: str, what: str) -> Run:
        """A run ``who`` may control, as :meth:`cancel` decides: 404 unless they may read it, 403
        unless they started it (a participant watching a shared run)."""
        run = self.get(who, run_id)
        if run.owner != who.name:
            raise Refusal(403, "forbidden", f"participants watch runs; only {run.owner}, who started this run, can {what}")
        return run

    # --- queries -------------------------------------------------------------------------

    def list(self, who: Principal, *, limit: int | str | None = None, before: str | None = None) -> dict[str, Any]:
        """``GET /runs``: a page of the runs ``who`` may see, newest first, as contract summaries.

        ``{"runs": [...], "next": id or None}``: pass ``next`` as ``before`` for the following page.
        ``limit`` (default :data:`~workbench.core.store.DEFAULT_PAGE`) may be the query string's text.
        """
        limit = _page_size(limit)
        include_shared = who.role == "participant"
        if before is not None:
            known = self.store.owner_of(before) if isinstance(before, str) and _RUN_ID.match(before) else None
            if known is None or not (known[0] == who.name or (include_shared and known[1])):
                raise Refusal(400, "invalid_request", f"before must be the id of a run in your list (the 'next' of the "
                                                       f"previous page), not {str(before)[:40]!r}")
        rows = self.store.summaries(who.name, include_shared=include_shared, limit=limit + 1, before=before)
        page = rows[:limit]
        out = []
        for row in page:
            held = self._live.get(row["id"]) or self._finished.get(row["id"])
            item = self.summary(held) if held is not None else _contract_summary(row)
            if row["owner"] != who.name:
                item["owner"] = row["owner"]
            out.append(item)
        return {"runs": out, "next": page[-1]["id"] if len(rows) > limit else None}

    @staticmethod
    def whoami(who: Principal) -> dict[str, Any]:
        """``GET /me``: who is asking and what they may do, for a client (the web view) to show only that."""
        return {"user": who.name, "role": who.role, "canStart": who.may_start, "canFork": who.may_fork,
                "canReadMetrics": who.role != "participant"}

    def summary(self, run: Run) -> dict[str, Any]:
        """The run's contract summary, as clients see it: ``eventCount`` counts the events they can
        read, and ``notStored`` says how many are only in memory while the store cannot write."""
        summary = run.summary()
        unstored = self.store.unstored(run.id, len(run.log))
        if unstored and self.store.problem is not None:
            summary["notStored"] = {"events": unstored, "reason": self.store.problem}
        return summary

    def get(self, who: Principal, run_id: str) -> Run:
        """A run ``who`` may read; 404 for unknown ids and other people's runs alike."""
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise _not_found(run_id)
        run = self._live.get(run_id) or self._finished.get(run_id)
        if run is None:
            run = self.store.load(run_id)
            if run is None:
                raise _not_found(run_id)
            self._remember_finished(run)
        if run.owner != who.name and not (who.role == "participant" and self.store.is_shared(run_id)):
            raise _not_found(run_id)
        if self.dispatcher is not None:  # a run another process executes: as far as Redis has it now
            self.dispatcher.catch_up(run)
        return run

    async def prefetch(self, run_id: str) -> None:
        """Read a run the service does not hold from the store in a worker thread, so that the
        :meth:`get` (or :meth:`detail`, :meth:`cancel`, :meth:`run_file`) that follows finds it in
        memory: parsing a long run on the event loop would hold up every stream of the server."""
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or run_id in self._live or run_id in self._finished:
            return
        if self._closing:
            raise Refusal(503, "unavailable", "the server is shutting down; try again when it is back")
        loading = self._loading.get(run_id)
        if loading is None:  # the first to ask reads it; the others wait for that read
            loading = self._loading[run_id] = asyncio.ensure_future(asyncio.to_thread(self.store.load, run_id))
            loading.add_done_callback(lambda _: self._loading.pop(run_id, None))
        run = await asyncio.shield(loading)  # one request going away does not cancel the others' read
        if run is not None and run_id not in self._live and run_id not in self._finished:
            self._remember_finished(run)

    def run_file(self, who: Principal, run_id: str) -> Iterator[bytes]:
        """The run as a run file, in chunks for a server to write and flush one at a time: the
        header line first (a refusal is raised by the first ``next()``, before anything is sent),
        then at most :data:`RUN_FILE_BATCH` event lines to a chunk."""
        run = self.get(who, run_id)
        yield (header_line(run.header()) + "\n").encode()
        events = run.log.events[: run.log.published]
        for start in range(0, len(events), RUN_FILE_BATCH):
            yield "".join(e.to_json() + "\n" for e in events[start : start + RUN_FILE_BATCH]).encode()

    def events_between(self, who: Principal, run_id: str, first: str | None, last: str | None) -> Sequence[ev.Event]:
        """The run's stored events with ids ``first`` to ``last`` (query-string text), at most
        :data:`MARKDOWN_SPAN` of them: what the web view asks the Markdown of."""
        run = self.get(who, run_id)
        try:
            a, b = int(first or ""), int(last or "")
        except ValueError:
            a = b = 0
        if not (1 <= a <= b and b - a < MARKDOWN_SPAN):
            raise Refusal(400, "invalid_request", f"from and to must be event ids, from <= to, at most {MARKDOWN_SPAN:,} "
                                                   f"apart, such as ?from=1&to=40; got {str(first)[:12]!r} and {str(last)[:12]!r}")
        return run.log.events[a - 1 : min(b, run.log.published)]

    def detail(self, who: Principal, run_id: str) -> dict[str, Any]:
        """``GET /runs/{id}``: the summary and the folded state."""
        run = self.get(who, run_id)
        summary = self.summary(run)
        if run.owner != who.name:  # a shared run: say whose it is, as GET /runs does
            summary["owner"] = run.owner
        return {**summary, "state": run.state.to_dict()}

    def _retire_finished(self) -> None:
        """Move ended runs whose events are all stored out of the live table into the bounded
        cache, so a long-lived server does not keep every run it ever hosted in memory."""
        for run_id, run in list(self._live.items()):
            if run.done and not self.store.unstored(run_id, len(run.log)):
                del self._live[run_id]
                if run_id in self._recovered:
                    self._recovered.discard(run_id)
                else:
                    self._ended_events += len(run.log)
                    self._ended_retries += len(run.state.retries)
                self._remember_finished(run)

    def _remember_finished(self, run: Run) -> None:
        if run.id in self._finished:
            self._finished.move_to_end(run.id)
            return
        self._finished[run.id] = run
        self._finished_bytes += self.store.size(run.id)
        while len(self._finished) > 1 and (len(self._finished) > FINISHED_CACHE_SIZE
                                           or self._finished_bytes > FINISHED_CACHE_BYTES):
            evicted, _ = self._finished.popitem(last=False)
            self._finished_bytes -= self.store.size(evicted)
            self.store.forget_size(evicted)

    def event_stream(self, run: Run, last_event_id: str | None, after: str | None, profile: str | None = None, *,
                     heartbeat: float) -> AsyncGenerator[bytes, None] | None:
        """``GET /runs/{id}/events`` for a run the caller may read: the stream's chunks for the
        server to write (and ``aclose``), or None for ``204 No Content`` (nothing after the end).
        ``profile`` names the stream's profile (``reference``; None: the contract's envelopes)."""
        try:
            resume = sse.parse_resume(last_event_id, after)
            encode = sse.parse_profile(profile)
            if resume > 0:
                self.meter.resumes += 1
            if not sse.check_resume(run.log, resume):
                return None  # a browser's EventSource stops reconnecting
        except sse.ResumeError as exc:
            raise Refusal(400, "invalid_request", str(exc)) from None
        return sse.run_stream(run.log, after=resume, heartbeat=heartbeat, meter=self.meter, encode=encode)

    # --- figures for GET /metrics (read at a scrape, never counted on the hot path) ----------

    def scrape_metrics(self) -> tuple[bytes, str]:
        """``GET /metrics``: the figures in the Prometheus text format, and its ``Content-Type``."""
        # Imported here, at the first scrape: prometheus_client would add some 15 ms to every
        # server's start, scraped or not.
        from workbench.serving.exposition import Metrics

        if self._metrics is None:
            self._metrics = Metrics(self)
        return self._metrics.scrape()

    def events_appended(self) -> int:
        return self._ended_events + sum(len(r.log) for r in self._live.values() if r.id not in self._recovered)

    def model_retries(self) -> int:
        return self._ended_retries + sum(len(r.state.retries) for r in self._live.values() if r.id not in self._recovered)

    def is_running(self, run_id: str) -> bool:
        # A replica's runs going (executed by workers) are in its cache of runs read, not its live table.
        run = self._live.get(run_id) or self._finished.get(run_id)
        return run is not None and not run.done

    def runs_by_status(self) -> dict[str, int]:
        return self.store.status_counts()

    # --- lifecycle -------------------------------------------------------------------------

    @staticmethod
    async def load_agent() -> None:
        """Import the agent, and with it the ``anthropic`` SDK, in a worker thread (once).

        The service itself imports neither, so that a server starts fast; :meth:`create` would
        then import them on the event loop, holding up every stream for as long (about 2 s). A
        server calls this once it is serving, and awaits it before :meth:`create`: a run asked
        for meanwhile waits for the import without stopping the loop.
        """
        if not _agent_loaded.is_set():
            await asyncio.to_thread(_load_agent)


    async def close(self, reason: str = "the server stopped while this run was going", timeout: float = 5.0) -> None:
        """Interrupt live runs (each gets its terminal event), write everything and close the store."""
        self._closing = True
        going = [run for run in self._live.values() if not run.done]
        for run in going:
            run.interrupt(reason)
        if going:
            try:
                await asyncio.wait_for(asyncio.gather(*(r.wait_async() for r in going)), timeout)
            except TimeoutError:
                log.warning("%d runs did not end within %.0f s of shutdown", sum(not r.done for r in going), timeout)
        if self._loading:  # reads of the store under way: let them finish before it closes
            await asyncio.wait(list(self._loading.values()))
        self.store.flush()
        self.store.close()
        if otel_export.switched_on():  # the traces of the runs just ended, before the process goes
            await asyncio.to_thread(otel_export.flush, timeout)
        aclose = getattr(self.store, "aclose", None)
        if aclose is not None:  # a Redis store's reading loops and their connections
            await aclose()


_agent_loaded = threading.Event()
"""Set once the agent's modules are imported whole (a module in ``sys.modules`` may be half-imported)."""


def _load_agent() -> None:
    importlib.import_module("workbench.agent.launch")
    _agent_loaded.set()


def _too_many_runs(running: int) -> Refusal:
    return Refusal(429, "too_many_runs", f"you have {running} runs going, the most allowed here; wait for one to end "
                                          "or cancel one")


def _page_size(limit: int | str | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if isinstance(limit, str) and re.fullmatch(r"[0-9]{1,6}", limit.strip()):
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise Refusal(400, "invalid_request", f"limit must be a whole number from 1 to {MAX_PAGE}, such as "
                                               f"{DEFAULT_PAGE}; got {str(limit)[:20]!r}")
    return limit


def _contract_summary(row: dict[str, Any]) -> dict[str, Any]:
    """A stored run's summary. Every run going is held in memory and summed up from its state;
    one the service does not hold has ended, so nothing of it waits, unless its row says otherwise
    (a run in Redis, executed by a worker, whose row says what it waits for)."""
    keys = ("id", "task", "model", "strategy", "status", "createdAt", "endedAt", "eventCount")
    summary = {**{k: row[k] for k in keys}, "waiting": row.get("waiting", [])}
    settings = row.get("settings") or {}
    if settings.get("parentId") is not None:
        summary.update(parentId=settings["parentId"], forkedAt=settings.get("forkedAt"))
    return summary


def _fields(raw: bytes, what: str, allowed: dict[str, str], *, required: bool = False) -> dict[str, Any]:
    """A control route's body, read once the caller may control the run: a JSON object with no
    fields but ``allowed`` (name: an example value); an empty body is ``{}`` unless ``required``."""
    example = "{" + ", ".join(f'"{k}": {v}' for k, v in allowed.items()) + "}"
    body = parse_body(raw, optional=not required, example=example)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise Refusal(400, "invalid_request", f"the body of a {what} must be a JSON object such as {example}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        known = f"use {', '.join(allowed)}" if allowed else "send no body, or {}"
        raise Refusal(400, "invalid_request", f"unknown fields {unknown} in a {what}; {known}")
    return body


def _control(run: Run, act: Callable[[], None]) -> Run:
    """A control of ``run``, its refusals as HTTP ones: the run has ended (409, as for a cancel),
    the control does not fit where it is (409), no such tool call (404), a bad decision, params or
    message (400)."""
    if run.done:
        raise Refusal(409, "already_finished", f"run {run.id} has already ended ({run.state.status})")
    try:
        act()
    except NotWaiting as exc:
        raise Refusal(409, "not_waiting", str(exc)) from None
    except UnknownToolCall as exc:
        raise Refusal(404, "unknown_tool_call", str(exc)) from None
    except UserError as exc:
        raise Refusal(400, "invalid_request", str(exc)) from None
    return run


def safe_segment(name: str) -> str:
    """A user name as one safe folder name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "user"
    return cleaned[:64]
