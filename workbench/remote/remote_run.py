"""A run on a server (:class:`RemoteRun`): a :class:`~workbench.core.handle.Run` whose log is filled from
the server's event stream, resuming after dropped connections; cancelling it, pausing it, deciding its
tool calls and talking to it ask the server (the contract's control routes)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from typing import Any
from urllib.parse import quote

from workbench.core import events as ev
from workbench.core.handle import Run
from workbench.core.loop import background_loop, running_loop
from workbench.core.redact import get_logger
from workbench.core.reducer import RunState
from workbench.errors import ServerError, ServerNotWaiting, ServerUnknownToolCall, UserError
from workbench.remote.connection import Connection, request_json
from workbench.remote.follow import Backoff, FollowStats, follow_events

__all__ = ["RemoteRun"]

log = get_logger("workbench.client")

CATCH_UP_SECONDS = 5.0
"""How long a control waits for the stream to bring the event it caused (it normally takes milliseconds)."""


class RemoteRun(Run):
    """A run executing on a server, its log filled from the server's event stream.

    Everything a :class:`Run` offers works the same. ``cancel()`` asks the server to cancel
    it; ``pause()``, ``resume()``, ``step()``, ``decide()`` and ``say()`` send the contract's
    control routes and return once the stream has brought the event they caused, so
    ``run.status`` and ``run.waiting`` already show it. They raise what a local run's do:
    :class:`~workbench.errors.NotWaiting` for the server's 409 and
    :class:`~workbench.errors.UnknownToolCall` for its 404 to a decision (as
    :class:`~workbench.errors.ServerNotWaiting` and :class:`~workbench.errors.ServerUnknownToolCall`,
    which are :class:`ServerError` too, with the ``status``), and a :class:`ServerError` (a
    :class:`~workbench.errors.UserError`) for a 400 or a 403. The server records who did it
    (the token's user): ``by=`` is not sent. If the stream cannot be followed any more (the run is gone, or the token is
    refused), :attr:`follow_error` says why, the log is closed, and ``await run`` /
    ``run.wait()`` raise that error.
    """

    connection: Connection
    follow_error: ServerError | None
    """Why the run could not be followed to its end (None while all is well)."""
    follow_stats: FollowStats
    """Connections made, reconnects, duplicates dropped, the last error met."""
    _follower: concurrent.futures.Future[None]

    @classmethod
    def follow(cls, connection: Connection, summary: dict[str, Any], *, backoff: Backoff | None = None) -> "RemoteRun":
        try:
            run = cls(run_id=str(summary["id"]), task=str(summary.get("task", "")), model=str(summary.get("model", "")),
                      strategy=str(summary.get("strategy") or ""), created_at=str(summary.get("createdAt", "")),
                      owner=summary.get("owner"),
                      parent_id=summary["parentId"] if isinstance(summary.get("parentId"), str) else None,
                      forked_at=summary["forkedAt"] if isinstance(summary.get("forkedAt"), int) else None)
        except (KeyError, TypeError):
            raise ServerError(f"{connection.api} answered with something that is not a run summary") from None
        run.connection = connection
        run.follow_error = None
        run.follow_stats = FollowStats()
        loop = background_loop()
        run._loop = loop
        run._canceller = run._request_cancel
        run._follower = asyncio.run_coroutine_threadsafe(run._follow(backoff), loop)
        run._task = run._follower
        return run

    async def _follow(self, backoff: Backoff | None) -> None:
        def fatal(error: ServerError) -> None:
            self.follow_error = error

        try:
            await follow_events(self.connection.url(f"/runs/{quote(self.id, safe='')}/events"), self.log,
                                headers=self.connection.headers(), on_fatal=fatal, backoff=backoff,
                                stats=self.follow_stats, ssl_context=self.connection.ssl_context)
        except asyncio.CancelledError:
            if self.follow_error is None:
                self.follow_error = ServerError(f"stopped following run {self.id}")
            raise
        except Exception as exc:  # a bug or a server that breaks the contract: say so, never hang
            log.exception("following run %s failed", self.id)
            self.follow_error = ServerError(f"following run {self.id} failed: {exc}")
        finally:
            if not self.log.closed:
                self.log.close()

    def _request_cancel(self, reason: str, interrupted: bool = False) -> None:
        async def post() -> None:
            try:
                await request_json(self.connection, "POST", f"/runs/{quote(self.id, safe='')}/cancel", expect=202)
            except ServerError as exc:
                if exc.status != 409:  # 409: it had ended already
                    log.warning("could not cancel run %s: %s", self.id, exc)

        asyncio.run_coroutine_threadsafe(post(), background_loop())

    # --- controls: the contract's routes ----------------------------------------------------------

    @property
    def takes_controls(self) -> bool:
        """A run going on the server takes the view's controls unless it is someone else's (a shared
        run of a workshop's instructor: the server names its owner only then, and refuses the controls)."""
        return not self.done and self.owner is None

    def pause(self) -> None:
        self._send_control("pause", None)

    def resume(self, step: bool = False, *, by: str | None = None) -> None:
        self._send_control("resume", {"step": True} if step else None)

    def decide(self, tool_use_id: str, decision: str, params: dict[str, Any] | None = None,
               note: str | None = None, *, by: str | None = None) -> None:
        if not isinstance(tool_use_id, str) or not tool_use_id:
            raise UserError("decide() needs the toolUseId of a waiting call; run.waiting lists them")
        body: dict[str, Any] = {"decision": decision}
        if params is not None:
            body["params"] = params
        if note is not None:
            body["note"] = note
        self._send_control(f"tools/{quote(tool_use_id, safe='')}/decision", body)

    def say(self, text: str, *, by: str | None = None) -> None:
        self._send_control("messages", {"text": text})

    def _send_control(self, route: str, body: dict[str, Any] | None) -> None:
        """``POST /runs/{id}/{route}``; back once the stream has caught up with the control's event."""
        try:
            json.dumps(body)
        except (TypeError, ValueError) as exc:
            raise UserError(f"a control of a run on a server takes JSON values only: {exc}") from None
        loop = background_loop()
        if running_loop() is loop:
            raise UserError("a run on a server cannot be controlled from the workbench's own loop (e.g. inside a tool)")

        async def post() -> None:
            summary = await request_json(self.connection, "POST", f"/runs/{quote(self.id, safe='')}/{route}", body,
                                         expect=202)
            count = summary.get("eventCount") if isinstance(summary, dict) else None
            if isinstance(count, int):
                try:
                    async with asyncio.timeout(CATCH_UP_SECONDS):
                        while len(self.log) < count and await self.log.wait_beyond(len(self.log)):
                            pass
                except TimeoutError:  # a slow stream: the control is done, the view catches up later
                    pass

        try:
            asyncio.run_coroutine_threadsafe(post(), loop).result()
        except ServerError as exc:
            raise _control_error(exc) from None

    # --- forks: POST /runs/{id}/fork ---------------------------------------------------------------

    def fork(self, at: int | None = None, *, model: str | None = None, options: dict[str, Any] | None = None,
             tool_result: dict[str, Any] | None = None, message: str | None = None, tools: Any = None) -> "RemoteRun":
        """Fork the run on its server (``POST /runs/{id}/fork``) and follow the new run.

        The server forks with the parent's tools; ``tools`` cannot change them there."""
        if tools is not None:
            raise UserError("a fork on a server takes its parent's tools; leave tools out")
        body: dict[str, Any] = {"at": len(self.log) if at is None else at}
        if model is not None:
            body["model"] = model
        if options is not None:
            body["options"] = options
        edits = {k: v for k, v in (("toolResult", tool_result), ("message", message)) if v is not None}
        if edits:
            body["edits"] = edits
        summary = self._ask("POST", "fork", body, expect=201)
        fork = RemoteRun.follow(self.connection, summary)
        fork._parent = self
        return fork

    def _lookup_parent(self) -> Run | None:
        if self._parent is None and self.parent_id is not None:
            try:
                summary = RemoteRun._ask(self, "GET", "", None, expect=200, run_id=self.parent_id)
            except ServerError:  # not readable here (someone else's, or gone): the lineage stops
                return None
            self._parent = RemoteRun.follow(self.connection, summary)
        return self._parent

    def _ask(self, method: str, route: str, body: dict[str, Any] | None, *, expect: int, run_id: str | None = None) -> Any:
        """``method /runs/{id}/{route}`` on the run's server, from any thread but the workbench's loop."""
        loop = background_loop()
        if running_loop() is loop:
            raise UserError("a run on a server cannot be asked from the workbench's own loop (e.g. inside a tool)")
        path = f"/runs/{quote(run_id or self.id, safe='')}" + (f"/{route}" if route else "")
        return asyncio.run_coroutine_threadsafe(request_json(self.connection, method, path, body, expect=expect), loop).result()

    def detach(self) -> bool:
        """Stop following the run here (it goes on on the server; ``wb.attach(run.id)`` follows it again)."""
        if self.log.closed:
            return False
        self.follow_error = ServerError(f"stopped following run {self.id} (detach() was called); "
                                        f"wb.attach({self.id!r}) follows it again")
        self._follower.cancel()
        return True

    def _final(self, raise_on_error: bool) -> RunState:
        events = self.log.events
        ended = bool(events) and events[-1].type in ev.TERMINAL_TYPES
        if self.follow_error is not None and not ended:
            raise self.follow_error
        return super()._final(raise_on_error)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f" on {self.connection.api}>"


def _control_error(exc: ServerError) -> ServerError:
    """The server's refusal of a control as the exception a local run raises for it."""
    if exc.status == 409:
        return ServerNotWaiting(str(exc), status=exc.status, error_type=exc.error_type)
    if exc.status == 404 and exc.error_type == "unknown_tool_call":
        return ServerUnknownToolCall(str(exc), status=exc.status, error_type=exc.error_type)
    return exc
