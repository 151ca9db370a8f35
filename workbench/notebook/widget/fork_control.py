"""The view's "Fork from here", kernel side: ``{kind: "fork", at, message?, toolResult?}`` from the browser.

The kernel calls ``run.fork(at=…)`` (contract section 7) and answers ``{kind: "fork", requestId,
ok, error, runId}``; ``error`` is the message of a refusal (a :class:`~workbench.errors.UserError`:
an event out of range, a tool call that is not in the copied part, a run whose log cannot be
forked, a server's refusal), for the view to show by the form. The view then shows the fork
(view.py re-targets itself to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.core.redact import redact
from workbench.errors import UserError

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["FORKABLE_STRATEGIES", "fork_from_view", "forkable"]

FORKABLE_STRATEGIES = frozenset({"plan", "react"})
"""The orchestrator's strategies (``agent.orchestrator.STRATEGIES``, not imported: it brings the SDK into
kernels whose runs go to a server). A recorded run (``wb.record``, strategy ``custom``) has no agent
the workbench could run on from the fork point."""


def forkable(run: Run) -> bool:
    """Whether the view offers "Fork from here" for ``run``: a run of the workbench's agent, or a loaded one
    whose header names no strategy (an older run file). Its log and the fork itself decide the rest."""
    return not run.strategy or run.strategy in FORKABLE_STRATEGIES


def fork_from_view(run: Run, content: dict[str, Any]) -> tuple[Run | None, dict[str, Any]]:
    """Fork ``run`` as ``content`` asks: the fork (None when refused) and the answer for the view."""
    fork: Run | None = None
    error: str | None = None
    try:
        fork = run.fork(**_fork_arguments(run, content))
    except UserError as exc:
        error = redact(str(exc))  # it may quote the message or the result: never a credential
    except Exception as exc:  # noqa: BLE001 - a comm handler's exception reaches no one: the view says it instead
        error = redact(f"the fork failed: {type(exc).__name__}: {exc}")
    reply = {"kind": "fork", "requestId": content.get("requestId"), "ok": fork is not None, "error": error,
             "runId": fork.id if fork is not None else None}
    return fork, reply


def _fork_arguments(run: Run, content: dict[str, Any]) -> dict[str, Any]:
    at = content.get("at")
    if isinstance(at, bool) or not isinstance(at, int):
        raise UserError(f"a fork needs the id of the event to fork at, not {str(at)[:40]!r}")
    arguments: dict[str, Any] = {"at": at}
    message = content.get("message")
    if message is not None:
        if not isinstance(message, str):
            raise UserError("the message to the agent must be text")
        if message.strip():
            arguments["message"] = message
    tool_result = content.get("toolResult")
    if tool_result is not None:
        if not isinstance(tool_result, dict):
            raise UserError('the edited tool result must be {"toolUseId": "toolu_…", "result": …}')
        arguments["tool_result"] = tool_result  # checked by the fork: the call must be in the copied part
    return arguments
