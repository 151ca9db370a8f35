"""A person's controls of a run another process executes (a worker, over Redis).

The replica that gets ``POST /runs/{id}/pause`` (or resume, a decision, a message, a cancel)
puts the control on the run's control stream; the worker running the run applies it, as
:class:`~workbench.agent.controls.RunControls` would here, and answers with what came of it:
the refusal a local run would have raised, or how many events the run had once the control's
own event was in. The replica's ``202`` waits for that answer
(:meth:`~workbench.serving.service.RunService.answer`), so it shows what the control did.

The control call and the answer are two steps of one request (the servers call the service's
control, then await its answer): the ticket between them is kept in a context variable, which
is the request's own.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ControlChannel", "RemoteControls", "Reply", "Ticket", "take_ticket"]


@dataclass(frozen=True)
class Ticket:
    """One control sent to a worker, whose answer a replica waits for."""

    value: str


@dataclass(frozen=True)
class Reply:
    """A worker's answer to a control: ``status`` 202 and the run's event count, or a refusal."""

    events: int
    status: int = 202
    error_type: str | None = None
    message: str | None = None


class ControlChannel(Protocol):
    """Carries controls to the worker running a run, and its answers back (the Redis store does)."""

    def send_control(self, run_id: str, op: str, args: dict[str, Any]) -> Ticket: ...

    async def wait_reply(self, ticket: Ticket, timeout: float) -> Reply | None: ...


_pending: contextvars.ContextVar[tuple[ControlChannel, Ticket] | None] = contextvars.ContextVar(
    "workbench_remote_control", default=None)


def take_ticket() -> tuple[ControlChannel, Ticket] | None:
    """The control this request sent to a worker, if any (and forget it)."""
    pending = _pending.get()
    _pending.set(None)
    return pending


class RemoteControls:
    """The :class:`~workbench.core.handle.Controller` of a run a worker executes: each control goes to it."""

    def __init__(self, store: ControlChannel, run_id: str) -> None:
        self._store = store
        self._run_id = run_id

    def _send(self, op: str, **args: Any) -> None:
        _pending.set((self._store, self._store.send_control(self._run_id, op, args)))

    def pause(self) -> None:
        self._send("pause")

    def resume(self, *, step: bool = False, by: str | None = None) -> None:
        self._send("resume", step=step, by=by)

    def decide(self, tool_use_id: str, decision: Any, params: Any = None, note: Any = None, *,
               by: str | None = None) -> None:
        self._send("decide", tool_use_id=tool_use_id, decision=decision, params=params, note=note, by=by)

    def say(self, text: Any, *, by: str | None = None) -> None:
        self._send("say", text=text, by=by)
