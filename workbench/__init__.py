"""Agent Workbench: watch and study LLM agents, with every step of a run in an event log.

    import workbench as wb
    run = wb.run("Write a short guide to tide pools")   # offline simulator without a key
    state = await run                                    # or run.wait() outside async code
    run.save("tide-pools.jsonl")

    wb.connect()                                         # from now on, runs go to a server
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Sequence

from workbench.core import events
from workbench.remote.client import attach, connect, disconnect, runs
from workbench.errors import LimitExceeded, RunFailed, RunFileError, ToolError, UserError, WorkbenchError
from workbench.agent.launch import start_run
from workbench.agent.recorder import Recorder, record
from workbench.core.reducer import RunState, fold, reduce
from workbench.core.handle import Presenter, Run, register_presenter
from workbench.agent.tools import Tool, ToolContext, current_context, tool

__all__ = [
    "run",
    "load",
    "connect",
    "disconnect",
    "attach",
    "runs",
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
    "events",
    "WorkbenchError",
    "UserError",
    "RunFailed",
    "RunFileError",
    "LimitExceeded",
    "ToolError",
]

__version__ = "0.1.0"

# `workbench.events` is public (it is in __all__): keep `from workbench.events import TextDelta`
# working now that the module lives in the core layer.
sys.modules[f"{__name__}.events"] = events


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
    from workbench.remote.client import current, start_remote

    connection = current()
    if connection is not None:
        return start_remote(connection, task, model=model, strategy=strategy, tools=tools, options=options)
    return start_run(task, model=model, strategy=strategy, tools=tools, options=options)


def load(path: str | os.PathLike[str]) -> Run:
    """Open a run file written by :meth:`Run.save` (or downloaded from a server)."""
    return Run.from_file(path)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext workbench``: adds the ``%%agent`` cell magic."""
    from workbench.notebook.magics import load_ipython_extension as load_magics

    load_magics(ipython)


def _notebook_presenter() -> Presenter:
    from workbench.notebook.presenter import NotebookPresenter

    return NotebookPresenter()


# The root wires the layers: runs display themselves through the notebook layer, which the
# core does not import (see workbench.core.handle.register_presenter).
register_presenter(_notebook_presenter)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The Jupyter server extension (``jpserver_extensions: {"workbench": true}``)."""
    from workbench_server_ext import _jupyter_server_extension_points as points

    return points()
