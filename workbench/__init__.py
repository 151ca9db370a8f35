"""Agent Workbench: watch and study LLM agents, with every step of a run in an event log.

    import workbench as wb
    run = wb.run("Write a short guide to tide pools")   # offline simulator without a key
    state = await run                                    # or run.wait() outside async code
    run.save("tide-pools.jsonl")

    wb.connect()                                         # from now on, runs go to a server
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

from workbench.core.agent_hooks import register_conversation, register_forker
from workbench.core.presenting import Presenter, register_presenter

# Light, and needed by every caller: the errors, and the presenter registry (below).
from workbench.errors import LimitExceeded, RunFailed, RunFileError, ToolError, UserError, WorkbenchError

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from workbench.agent.recorder import Recorder, record
    from workbench.agent.tools import Tool, ToolContext, current_context, tool
    from workbench.core import events
    from workbench.core.handle import Run
    from workbench.core.pricing import set_prices
    from workbench.core.reducer import RunState, fold, reduce
    from workbench.notebook.compare import Comparison, compare
    from workbench.notebook.diff import diff
    from workbench.remote.client import attach, connect, disconnect, runs

__all__ = [
    "run",
    "load",
    "diff",
    "connect",
    "disconnect",
    "attach",
    "runs",
    "compare",
    "sweep",
    "Comparison",
    "record",
    "Recorder",
    "tool",
    "Tool",
    "ToolContext",
    "current_context",
    "Run",
    "RunState",
    "reduce",
    "fold",
    "set_prices",
    "events",
    "WorkbenchError",
    "UserError",
    "RunFailed",
    "RunFileError",
    "LimitExceeded",
    "ToolError",
]

__version__ = "0.1.0"

# `import workbench` stays light (no anthropic SDK, pydantic or aiohttp): every `workbench`
# command, Jupyter server start and notebook pays for it. The public names below are imported
# from their modules on first use (PEP 562); `from workbench import Run` works as before.
_LAZY: dict[str, str] = {
    "connect": "workbench.remote.client",
    "disconnect": "workbench.remote.client",
    "attach": "workbench.remote.client",
    "runs": "workbench.remote.client",
    "record": "workbench.agent.recorder",
    "Recorder": "workbench.agent.recorder",
    "tool": "workbench.agent.tools",
    "Tool": "workbench.agent.tools",
    "ToolContext": "workbench.agent.tools",
    "current_context": "workbench.agent.tools",
    "Run": "workbench.core.handle",
    "RunState": "workbench.core.reducer",
    "reduce": "workbench.core.reducer",
    "fold": "workbench.core.reducer",
    "set_prices": "workbench.core.pricing",
    "compare": "workbench.notebook.compare",
    "Comparison": "workbench.notebook.compare",
    "diff": "workbench.notebook.diff",
}


def __getattr__(name: str) -> Any:
    if name == "events":
        value: Any = importlib.import_module("workbench.core.events")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once is enough: later lookups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def run(
    task: str,
    *,
    model: str | None = None,
    strategy: str = "plan",
    tools: Sequence[Tool[..., Any] | str | Callable[..., Any]] | None = None,
    options: dict[str, Any] | None = None,
) -> Run:
    """Start an agent on ``task`` in the background and return its :class:`Run` at once.

    ``model``: ``"simulated"`` (offline; the default when no ``ANTHROPIC_API_KEY`` is set)
    or a Claude model id. ``strategy``: ``"plan"`` (plan, then phases) or ``"react"`` (one
    loop). ``tools``: built-in tool names, ``@workbench.tool`` functions, or plain typed
    functions; default: the built-in workspace file tools. ``options``: see the README.

    After :func:`connect`, the run goes to the server instead (``tools`` then names the
    server's built-in tools); :func:`disconnect` brings runs back to this process.
    """
    # Only connect() makes a connection, and it imports the remote client: without it loaded
    # there is none, and a local run need not load the client (and aiohttp) to find that out.
    client = sys.modules.get("workbench.remote.client")
    if client is not None:
        from workbench.remote.client import current, start_remote

        connection = current()
        if connection is not None:
            return start_remote(connection, task, model=model, strategy=strategy, tools=tools, options=options)
    from workbench.agent.launch import start_run

    return start_run(task, model=model, strategy=strategy, tools=tools, options=options)


def sweep(
    task: str,
    *,
    models: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    options: Sequence[dict[str, Any]] | None = None,
    strategy: str = "plan",
    tools: Sequence[Tool[..., Any] | str | Callable[..., Any]] | None = None,
    concurrency: int = 4,
) -> Comparison:
    """Run ``task`` with every combination of ``models × seeds × options``; the live comparison, at once.

    Each run is ``wb.run(task, model=m, options={**o, "seed": s})`` (here, or on the server after
    :func:`connect`), at most ``concurrency`` going at once. A server's per-user limit is waited
    for, never an error; a run that cannot start is a row saying why. ``.wait()`` waits for all.
    """
    from workbench.notebook.compare import sweep as start_sweep

    return start_sweep(run, task, models=models, seeds=seeds, options=options, strategy=strategy, tools=tools,
                       concurrency=concurrency)


def load(path: str | os.PathLike[str]) -> Run:
    """Open a run file written by :meth:`Run.save` (or downloaded from a server)."""
    from workbench.core.handle import Run

    return Run.from_file(path)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext workbench``: adds the ``%%agent`` cell magic."""
    from workbench.notebook.magics import load_ipython_extension as load_magics

    load_magics(ipython)


def _notebook_presenter() -> Presenter[Run]:
    from workbench.notebook.presenter import NotebookPresenter

    return NotebookPresenter()


# The root wires the layers: runs display themselves through the notebook layer, which the
# core does not import (see workbench.core.presenting).
register_presenter(_notebook_presenter)


def _fork(parent: "Run", at: int, **edits: Any) -> "Run":
    from workbench.agent.launch import start_fork

    return start_fork(parent, at, **edits)


register_forker(_fork)


def _model_requests(run: "Run") -> list[dict[str, Any]]:
    from workbench.agent.conversation import model_requests_of

    return model_requests_of(run)


register_conversation(_model_requests)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The Jupyter server extension (``jpserver_extensions: {"workbench": true}``)."""
    from workbench_server_ext import _jupyter_server_extension_points as points

    return points()
