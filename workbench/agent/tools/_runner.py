"""Running one tool call: validation, a thread for sync tools, a timeout, and an outcome.

Whatever happens inside the tool (bad arguments, an exception, a timeout) ends as a
:class:`ToolOutcome` with ``is_error=True`` and a short message the model can act on,
never a traceback. Only cancellation of the awaiting task passes through, at once.

Sync tools run in a daemon thread of their own rather than in the event loop's default
executor (``asyncio.to_thread``): a Python thread cannot be killed, and a tool thread
still running after a timeout or a cancellation would otherwise hold an executor slot and
make ``asyncio.run()`` (which waits for the default executor on exit) hang until the tool
returns. The thread starts with a copy of the caller's contextvars, as ``to_thread`` does,
so :func:`~workbench.agent.tools.current_context` works in sync tools. Its late result is dropped.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anthropic
import pydantic
import pydantic_core
from anthropic.lib.tools import BetaAsyncFunctionTool

from workbench.agent.tools._context import _CURRENT, ToolContext
from workbench.agent.tools._decorator import Tool
from workbench.agent.tools._output import (
    describe_exception,
    describe_validation_error,
    format_seconds,
    relative_to_workspace,
    to_result,
    truncate,
    valid_text,
)
from workbench.core.redact import get_logger
from workbench.errors import UserError

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "DEFAULT_TIMEOUT", "ToolOutcome", "call_tool"]

log = get_logger("workbench.tools")

DEFAULT_TIMEOUT = 60.0
"""Seconds a tool call may take when neither the tool nor the caller says otherwise."""
DEFAULT_MAX_OUTPUT_CHARS = 20_000
"""Characters of a tool's output kept for the model and the log."""

T = TypeVar("T")

# Frames from these packages are the validation machinery, not the tool's own code.
_MACHINERY_DIRS = tuple(
    os.path.dirname(module.__file__) + os.sep
    for module in (pydantic, pydantic_core, anthropic)
    if module.__file__
)


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call produced: the data for ``tool:complete`` and the model's tool_result."""

    result: Any
    """For the ``tool:complete`` event: the return value as JSON data (``str()`` of it when it
    has none), or the error message when the call failed. Truncated like ``content``."""
    content: str
    """The text sent back to the model as the ``tool_result`` content."""
    is_error: bool
    """True when the call failed: bad arguments, an exception, or a timeout."""
    duration_ms: float
    """How long the call took, in milliseconds."""
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    """The exception behind a failure, for the host's logs; never shown to the model."""

    @classmethod
    def failure(
        cls,
        message: str,
        *,
        duration_ms: float = 0.0,
        exception: BaseException | None = None,
    ) -> ToolOutcome:
        """An error outcome built by the host, e.g. for a call to an unknown tool."""
        message = valid_text(message)  # It may quote what the tool or the model gave.
        return cls(
            result=message,
            content=message,
            is_error=True,
            duration_ms=duration_ms,
            exception=exception,
        )


class _InvalidArguments(Exception):
    """The model's arguments did not fit the tool's schema; the message lists why."""


async def call_tool(
    tool: Tool[..., Any],
    params: Mapping[str, Any],
    *,
    context: ToolContext,
    timeout: float | None = None,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> ToolOutcome:
    """Run ``tool`` with the model's ``params`` inside ``context`` and report what happened.

    Args:
        tool: The tool to run.
        params: The ``input`` of the model's ``tool_use`` block.
        context: What :func:`~workbench.agent.tools.current_context` returns during the call.
        timeout: Seconds allowed when the tool sets no ``timeout`` of its own
            (default :data:`DEFAULT_TIMEOUT`); the tool's own setting wins.
        max_output_chars: Output beyond this many characters is cut, with a marker
            saying how much was cut.

    Returns:
        A :class:`ToolOutcome`; failures of the tool are outcomes, not exceptions.

    Raises:
        asyncio.CancelledError: when the awaiting task is cancelled; raised promptly even
            while a sync tool is still running in its thread (which runs on unseen).
        UserError: for a bad ``timeout`` or ``max_output_chars``, or ``tool`` not a Tool.
    """
    if not isinstance(tool, Tool):
        raise UserError(f"call_tool() needs a Tool (made with @tool), got {tool!r}")
    if (
        isinstance(max_output_chars, bool)
        or not isinstance(max_output_chars, int)
        or max_output_chars < 1
    ):
        raise UserError(
            f"max_output_chars must be a positive integer, got {max_output_chars!r}"
        )
    limit = (
        tool.timeout
        if tool.timeout is not None
        else (DEFAULT_TIMEOUT if timeout is None else timeout)
    )
    if (
        isinstance(limit, bool)
        or not isinstance(limit, (int, float))
        or math.isnan(limit)
        or limit <= 0
    ):
        raise UserError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )

    token = _CURRENT.set(context)
    scope = asyncio.timeout(None if math.isinf(limit) else limit)
    started = time.perf_counter()
    try:
        async with scope:
            value = await _invoke(tool, params)
    except TimeoutError as exc:
        if scope.expired():
            message = f"Tool {tool.name!r} timed out after {format_seconds(limit)} s"
            if not tool.is_async:
                log.warning(
                    "%s; its thread keeps running and its result will be dropped",
                    message,
                )
        else:  # The tool raised TimeoutError itself.
            message = describe_exception(exc)
        return _failed(message, exc, started, context, max_output_chars)
    except _InvalidArguments as exc:
        return _failed(str(exc), exc.__cause__ or exc, started, context, max_output_chars)
    except (
        Exception,
        SystemExit,
    ) as exc:  # SystemExit: a tool calling sys.exit() must not end the run.
        log.debug("Tool %r failed", tool.name, exc_info=exc)
        return _failed(describe_exception(exc), exc, started, context, max_output_chars)
    finally:
        _CURRENT.reset(token)

    result, content = to_result(value)
    if len(content) > max_output_chars:
        content = truncate(content, max_output_chars)
        # A long string result is cut like the content; other values become the cut JSON text.
        result = content
    return ToolOutcome(
        result=result, content=content, is_error=False, duration_ms=_elapsed_ms(started)
    )


async def _invoke(tool: Tool[..., Any], params: Mapping[str, Any]) -> Any:
    """Validate and call; argument errors come out as :class:`_InvalidArguments`."""
    if not isinstance(params, Mapping):
        raise _InvalidArguments(
            f"Invalid arguments for tool {tool.name!r}: expected an object of named arguments, "
            f"got {type(params).__name__}"
        )
    arguments = dict(params)
    sdk = tool.sdk_tool
    try:
        if isinstance(sdk, BetaAsyncFunctionTool):  # what Tool wraps an `async def` in
            value = await sdk.call(arguments)
        else:
            value = await run_in_thread(sdk.call, arguments, name=tool.name)
        if inspect.isawaitable(value):  # A sync callable that hands back a coroutine.
            value = await value
    except ValueError as exc:
        # The SDK reports a failed validation as ValueError("Invalid arguments …") from the
        # pydantic error, also when the tool's own body raised that ValidationError.
        cause = exc.__cause__
        if type(exc) is ValueError and isinstance(cause, pydantic.ValidationError):
            if _raised_by_tool_code(cause):
                raise cause from None
            raise _InvalidArguments(
                describe_validation_error(tool.name, cause)
            ) from cause
        raise
    return value


def _raised_by_tool_code(error: BaseException) -> bool:
    """True when some frame of the traceback lies outside pydantic and the SDK."""
    tb = error.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_MACHINERY_DIRS):
            return True
        tb = tb.tb_next
    return False


async def run_in_thread(func: Callable[..., T], /, *args: Any, name: str = "tool") -> T:
    """Run ``func(*args)`` in a new daemon thread with a copy of the current contextvars.

    Cancelling the awaiting task returns at once; the thread cannot be stopped, so it
    runs to its end unseen and whatever it returns or raises is dropped.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, payload: Any) -> None:
        if future.done():  # Cancelled or timed out meanwhile.
            return
        if ok:
            future.set_result(payload)
        elif isinstance(payload, StopIteration):  # A Future refuses StopIteration.
            future.set_exception(RuntimeError(f"tool raised StopIteration: {payload}"))
        else:
            future.set_exception(payload)

    def work() -> None:
        ok: bool
        payload: object
        try:
            ok, payload = True, context.run(func, *args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, which decides.
            ok, payload = False, exc
        try:
            loop.call_soon_threadsafe(settle, ok, payload)
        except RuntimeError:
            pass  # The loop is closed: nobody is waiting any more.

    threading.Thread(target=work, name=f"workbench-tool-{name}", daemon=True).start()
    return await future


def _failed(
    message: str,
    exception: BaseException,
    started: float,
    context: ToolContext,
    max_output_chars: int,
) -> ToolOutcome:
    # The model knows the workspace as '.', and its real place is none of its business.
    message = relative_to_workspace(message, context.workspace)
    return ToolOutcome.failure(
        truncate(message, max_output_chars),
        duration_ms=_elapsed_ms(started),
        exception=exception,
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
