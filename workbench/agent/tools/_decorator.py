"""The ``@tool`` decorator: a typed Python function becomes a tool the model can call.

Schema generation and argument validation are the ``anthropic`` SDK's own
(:class:`anthropic.lib.tools.BetaFunctionTool` / ``BetaAsyncFunctionTool``: pydantic
builds the input schema from the type hints, ``docstring_parser`` supplies the
descriptions, ``pydantic.validate_call`` checks each call). :class:`Tool` wraps one of
those and adds what the workbench needs: name checking, a per-tool timeout, and a plain
``__call__`` so the decorated function still works as a function.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from anthropic.lib.tools import BetaAsyncFunctionTool, BetaFunctionTool

from workbench.errors import UserError

__all__ = ["TOOL_NAME_PATTERN", "Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

TOOL_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""The Messages API's rule for tool names."""


class Tool(Generic[P, R]):
    """A function the model can call, with its name, description and input schema.

    Made by :func:`tool`. Calling a ``Tool`` calls the plain function (no validation, no
    context); runs call it through :func:`workbench.agent.tools.call_tool`.
    """

    name: str
    """The name the model calls the tool by."""
    description: str
    """What the tool does, for the model (the docstring's summary and body by default)."""
    input_schema: dict[str, Any]
    """JSON schema of the arguments, built from the type hints and the docstring."""
    timeout: float | None
    """Seconds a call may take before it fails; ``None`` uses the runner's default."""
    func: Callable[P, R]
    """The decorated function."""
    is_async: bool
    """True for ``async def`` tools (awaited on the event loop); sync ones run in a thread."""
    approve: bool
    """True: every call waits for a person's decision before it runs (``tool:approval``)."""

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        approve: bool = False,
    ) -> None:
        _check_function(func)
        if not isinstance(approve, bool):
            raise UserError(f"approve must be True or False, got {approve!r}")
        self.approve = approve
        tool_name = name if name is not None else getattr(func, "__name__", "")
        _check_name(tool_name, func)
        self.timeout = _check_timeout(tool_name, timeout)
        self.func = func
        self.is_async = inspect.iscoroutinefunction(func)
        sdk_class = BetaAsyncFunctionTool if self.is_async else BetaFunctionTool
        try:
            self._sdk: BetaFunctionTool[Any] | BetaAsyncFunctionTool[Any] = sdk_class(
                func,
                name=tool_name,
                description=description,
            )
        except (
            Exception
        ) as exc:  # pydantic cannot type a parameter, a forward ref is missing, …
            message = (
                f"Cannot build the input schema of tool {tool_name!r}: {exc}. "
                "Give every parameter a type pydantic understands (str, int, float, bool, "
                "list[...], dict[...], Literal[...], a pydantic model, …)."
            )
            raise UserError(message) from exc
        self.name = self._sdk.name
        self.description = self._sdk.description
        self.input_schema = dict(self._sdk.input_schema)
        # Look like the function in notebooks, help() and inspect.signature().
        functools.update_wrapper(self, func)

    @property
    def sdk_tool(self) -> BetaFunctionTool[Any] | BetaAsyncFunctionTool[Any]:
        """The underlying SDK tool, e.g. for ``client.beta.messages.tool_runner(tools=[...])``."""
        return self._sdk

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    def to_api(self) -> dict[str, Any]:
        """The tool's definition for the Messages API: ``{name, description, input_schema}``.

        ``description`` is left out when the function has no docstring and none was given.
        """
        definition: dict[str, Any] = {"name": self.name}
        if self.description:
            definition["description"] = self.description
        definition["input_schema"] = self.input_schema
        return definition

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        return f"<Tool {self.name!r} ({kind})>"


@overload
def tool(func: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    func: Callable[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    approve: bool | None = None,
) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    approve: bool | None = None,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    approve: bool | None = None,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Turn a typed function, sync or async, into a :class:`Tool`.

    Usable as ``@tool``, ``@tool()`` or ``@tool(name=..., description=..., timeout=..., approve=...)``.
    The input schema comes from the type hints; the description from the docstring's
    summary and body; each parameter's description from its docstring's ``Args:``
    section (Google, numpy and reST styles all work).

    Args:
        func: The function (when used as ``@tool`` without parentheses).
        name: The name the model sees; the function's name by default. Must match
            ``^[a-zA-Z0-9_-]{1,64}$``.
        description: Replaces the docstring's text as the tool's description.
        timeout: Seconds a call may take; overrides the runner's default.
        approve: True: every call waits for a person to approve, edit or deny it
            (``run.decide``) before it runs.

    Raises:
        UserError: for a bad name, a bad timeout, or a function whose parameters cannot be
            described as JSON.
    """

    def make(fn: Callable[P, R]) -> Tool[P, R]:
        if isinstance(fn, Tool):
            if name is None and description is None and timeout is None and approve is None:
                return fn
            # Re-decorating: keep what was set before unless overridden.
            return Tool(
                fn.func,
                name=name if name is not None else fn.name,
                description=description if description is not None else fn.description,
                timeout=timeout if timeout is not None else fn.timeout,
                approve=approve if approve is not None else fn.approve,
            )
        return Tool(fn, name=name, description=description, timeout=timeout, approve=False if approve is None else approve)

    if func is not None:
        return make(func)
    return make


def _check_function(func: object) -> None:
    if not callable(func) or isinstance(func, type):
        raise UserError(f"@tool expects a function, got {func!r}")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise UserError(
            f"@tool cannot wrap the generator function {getattr(func, '__name__', func)!r}: "
            "a tool must return its whole result (return a list or a string instead of yielding)"
        )
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return  # No signature to check; the SDK will complain if it cannot build a schema.
    for parameter in parameters:
        # The model passes arguments by name only.
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.VAR_POSITIONAL):
            raise UserError(
                f"@tool cannot wrap {getattr(func, '__name__', func)!r}: parameter "
                f"{parameter.name!r} cannot be passed by keyword, and the model passes "
                "every argument by name"
            )


def _check_name(name: str, func: object) -> None:
    if not isinstance(name, str) or not TOOL_NAME_PATTERN.match(name):
        raise UserError(
            f"Invalid tool name {name!r} (for {func!r}): a tool name must be 1 to 64 characters "
            "of letters, digits, '_' or '-'. Pass a valid one with @tool(name=...)."
        )


def _check_timeout(name: str, timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or math.isnan(timeout)
        or timeout <= 0
    ):
        raise UserError(
            f"Tool {name!r}: timeout must be a positive number of seconds, got {timeout!r}"
        )
    return float(timeout)
