"""The view's controls, kernel side: Pause / Resume / Step, tool decisions and messages from the browser.

Each arrives as a custom message, ``{kind: "pause"}``, ``{kind: "resume", step}``,
``{kind: "decide", toolUseId, decision, params, note}`` or ``{kind: "say", text}``, each with a
``requestId``, and is answered ``{kind: "control", requestId, ok, error}``. ``error`` is the message
of a refusal (a :class:`~workbench.errors.UserError`: a run that is not paused, a call that is not
waiting, params that do not fit the tool's schema, a run loaded rather than started here), for the
view to show by the control that was refused. What a control does shows in the run's own events,
which every view of the run receives.
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any

from workbench.core.redact import redact
from workbench.errors import UserError

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["CONTROL_KINDS", "control"]

CONTROL_KINDS = frozenset({"pause", "resume", "decide", "say"})


def control(run: "Run", content: dict[str, Any]) -> dict[str, Any]:
    """Do to ``run`` what ``content`` asks; the answer for the view."""
    error: str | None = None
    try:
        _act(run, content)
    except UserError as exc:
        error = redact(str(exc))  # it may quote the params or the message: never a credential
    except concurrent.futures.TimeoutError:
        error = "the run did not take the control in time; try again"
    return {"kind": "control", "requestId": content.get("requestId"), "ok": error is None, "error": error}


def _act(run: "Run", content: dict[str, Any]) -> None:
    kind = content.get("kind")
    if kind == "pause":
        run.pause()
    elif kind == "resume":
        step = content.get("step", False)
        if not isinstance(step, bool):
            raise UserError("step must be true or false")
        run.resume(step=step)
    elif kind == "decide":
        tool_use_id = content.get("toolUseId")
        if not isinstance(tool_use_id, str) or not tool_use_id:
            raise UserError("a decision needs the toolUseId of the waiting tool call")
        decision: Any = content.get("decision")  # decision, params and note are checked by the run's controls
        run.decide(tool_use_id, decision, content.get("params"), content.get("note"))
    elif kind == "say":
        text: Any = content.get("text")  # checked by the run's controls: a non-empty string, not too long
        run.say(text)
    else:
        raise UserError(f"no control {kind!r}; the controls are {', '.join(sorted(CONTROL_KINDS))}")
