"""Every exception the workbench raises on purpose.

Misuse (a bad argument, a file that is not a run file, a model without a key) is a
:class:`UserError`: its message says what to do. A run that fails is not an exception
in the caller's code; it ends with an ``execution:error`` event, and awaiting it raises
:class:`RunFailed` only when asked to.
"""

from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "UserError",
    "NotWaiting",
    "UnknownToolCall",
    "RunFileError",
    "ServerError",
    "ServerNotWaiting",
    "ServerUnknownToolCall",
    "RunFailed",
    "LimitExceeded",
    "ToolError",
]


class WorkbenchError(Exception):
    """Base of the workbench's own exceptions."""


class UserError(WorkbenchError, ValueError):
    """The caller asked for something that cannot work; the message says how to fix it."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it: the message alone. The frames (often the workbench's loop and
        asyncio's) would only bury it; a real bug is another exception and keeps its traceback."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class NotWaiting(UserError):
    """A control that does not fit where the run is: resuming a run that is not paused, deciding a
    tool call that is not waiting, pausing or talking to a run that has ended (HTTP 409)."""


class UnknownToolCall(UserError):
    """A decision for a tool call the run never made (HTTP 404)."""


class RunFileError(UserError):
    """A run file that cannot be read: unknown format, newer version, or a malformed line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class ServerError(UserError):
    """A workbench server refused a request, could not be reached, or could no longer be followed.

    ``status`` is the HTTP status (None when there was no answer); ``error_type`` is the
    ``error.type`` of the server's JSON answer when it gave one.
    """

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type

    @classmethod
    def from_response(cls, status: int, body: str, *, url: str) -> "ServerError":
        """The error of an HTTP answer, with the server's own message when its body has one."""
        import json

        error_type, message = None, ""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            error = parsed.get("error")
            if isinstance(error, dict):  # the contract's {"error": {"type", "message"}}
                error_type, message = error.get("type"), str(error.get("message") or "")
            elif isinstance(parsed.get("message"), str):  # Jupyter's {"message", "reason"}
                message = parsed["message"]
        elif body.strip() and not body.lstrip().startswith("<"):
            message = body.strip().splitlines()[0][:200]
        if status == 403 and error_type not in (None, "unauthorized") and message:
            # A refusal of the request, not of the credentials (a workshop participant starting
            # a run, Jupyter's authorizer): its message says what is wrong.
            text = f"the server at {url} refused this request (HTTP 403): {message}"
        elif status in (401, 403):
            text = (f"the server at {url} refused the credentials (HTTP {status}){': ' + message if message else ''}. "
                    "Check the token (argument token=, or WORKBENCH_TOKEN)")
        else:
            text = f"{url} answered HTTP {status}{': ' + message if message else ''}"
        return cls(text, status=status, error_type=error_type)


class ServerNotWaiting(ServerError, NotWaiting):
    """A server's 409 to a control of a run it runs (``RemoteRun.pause()``, ``resume()``, ``decide()``,
    ``say()``): caught by ``except NotWaiting`` as the same call on a local run is."""


class ServerUnknownToolCall(ServerError, UnknownToolCall):
    """A server's 404 to a decision for a tool call its run never made (``except UnknownToolCall``)."""


class RunFailed(WorkbenchError):
    """A run ended with ``execution:error``; ``error_type`` is the event's ``error.type``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class LimitExceeded(WorkbenchError):
    """A run went past one of its limits (iterations, tokens, wall time)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class ToolError(WorkbenchError):
    """Raised by a tool to report a failure to the model without a traceback."""
