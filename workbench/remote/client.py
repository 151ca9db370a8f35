"""Runs on a server, from a kernel or a script: connect, run, attach, list.

    import workbench as wb
    wb.connect()                                         # the Jupyter server of this notebook's kernel
    wb.connect("http://127.0.0.1:8765", token="…")       # or a `workbench serve` server
    wb.connect("https://host:8765", token="…", cafile="ca.pem")  # over TLS, trusting a workshop's own CA
    run = wb.run("Write a haiku")                        # now runs on the server
    again = wb.attach(run.id)                            # any run you may see, from its start
    wb.runs()                                            # their summaries, newest first
    wb.disconnect()                                      # back to runs in this process

A run on a server is a :class:`~workbench.remote.remote_run.RemoteRun`, a :class:`~workbench.core.handle.Run`
whose log is filled from the server's event stream (resuming after dropped connections), so
``await run``, ``run.state``, ``run.save()``, ``run.to_pandas()`` and the notebook view work
unchanged. Where runs go and how the server is found: :mod:`~workbench.remote.connection`.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any, Coroutine, Sequence, TypeVar
from urllib.parse import quote

from workbench import tls as _tls
from workbench.agent.tools import BUILTIN_TOOL_NAMES
from workbench.core.loop import background_loop, running_loop
from workbench.errors import UserError
from workbench.remote.connection import Connection, Kind, discover, request_json, resolve
from workbench.remote.remote_run import RemoteRun
from workbench.remote.run_list import RunList

__all__ = ["connect", "disconnect", "current", "attach", "runs", "start_remote"]

T = TypeVar("T")

_lock = threading.Lock()
_current: "Connection | None" = None


def connect(url: str | None = None, token: str | None = None, *, kind: Kind | None = None,
            timeout: float = 10.0, cafile: str | os.PathLike[str] | None = None) -> Connection:
    """Send runs to a server from now on; returns the connection after checking it works.

    - ``connect()``: ``$WORKBENCH_URL`` (and ``$WORKBENCH_TOKEN``) when set, otherwise the
      Jupyter server this kernel belongs to (found through its sessions; the server needs
      the workbench extension).
    - ``connect(url, token)``: a URL ending in ``/api`` is a ``workbench serve`` API; one
      ending in ``/workbench/api`` is the extension's API; a server's root URL is probed
      (``{url}api/runs``, then ``{url}workbench/api/runs``). ``kind="standalone"`` or
      ``kind="jupyter"`` skips the probe. A ``?token=`` in the URL is used as the token.
    - An ``https://`` server's certificate is checked against the system's trusted CAs and
      those in ``cafile`` (default: ``$WORKBENCH_CA_BUNDLE``), for a workshop's own CA.

    Raises :class:`~workbench.errors.ServerError` (a :class:`UserError`) when the server
    cannot be reached, is not a workbench server, refuses the token, or has a certificate
    that fails the check.
    """
    global _current
    if kind not in (None, "standalone", "jupyter"):
        raise UserError(f"kind must be 'standalone' or 'jupyter', not {kind!r}")
    context = _tls.client_context(cafile)  # a bad CA file is an error before any request
    url = url or os.environ.get("WORKBENCH_URL") or None
    if token is None and url is not None:  # a found Jupyter server comes with its own token
        token = os.environ.get("WORKBENCH_TOKEN") or None
    if url is None:
        if kind == "standalone":
            raise UserError("connect(kind='standalone') needs the server's URL, e.g. wb.connect('http://127.0.0.1:8765')")
        connection = _call(discover(token, timeout, context))
    else:
        connection = _call(resolve(url, token, kind, timeout, context))
    with _lock:
        _current = connection
    return connection


def disconnect() -> None:
    """Run in this process again. Runs already on a server go on, and their views keep following them."""
    global _current
    with _lock:
        _current = None


def current() -> Connection | None:
    """The connection runs go to, or None when they run in this process."""
    return _current


def runs(limit: int | None = 100) -> RunList:
    """The summaries of the runs the server lets you see, newest first: the ``limit`` newest
    (``None``: all of them, fetched a page at a time). A list of dicts, shown as a table in a notebook."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit must be a positive whole number or None (all runs), not {limit!r}")
    connection = _require("wb.runs()")
    found = RunList()
    before: str | None = None
    while limit is None or len(found) < limit:
        page = RUNS_PAGE if limit is None else min(RUNS_PAGE, limit - len(found))
        query = f"?limit={page}" + (f"&before={quote(before, safe='')}" if before else "")
        body = _call(request_json(connection, "GET", f"/runs{query}", expect=200))
        if not isinstance(body, dict):
            break
        found += list(body.get("runs", []))
        before = body.get("next")
        if not isinstance(before, str):  # the last page (or a server that does not page)
            break
    return found


RUNS_PAGE = 500
"""Summaries asked for at once by :func:`runs`."""


def attach(run_id: str) -> RemoteRun:
    """A run on the server, shown from its first event (also after a kernel restart, or from another notebook)."""
    connection = _require("wb.attach()")
    if not isinstance(run_id, str) or not run_id.strip():
        raise UserError("attach() needs a run id such as 'r_6f2c0d1e2a3b4c5d'; wb.runs() lists them")
    summary = _call(request_json(connection, "GET", f"/runs/{quote(run_id.strip(), safe='')}", expect=200))
    return RemoteRun.follow(connection, summary)


def start_remote(
    connection: Connection,
    task: str,
    *,
    model: str | None = None,
    strategy: str = "plan",
    tools: Sequence[Any] | None = None,
    options: dict[str, Any] | None = None,
) -> RemoteRun:
    """``wb.run`` while connected: ``POST /runs``, then follow the new run's events."""
    body: dict[str, Any] = {"task": task, "strategy": strategy}
    if model is not None:
        body["model"] = model
    if tools is not None:
        body["tools"] = _tool_names(tools)
    if options:
        body["options"] = dict(options)
    try:
        json.dumps(body)
    except (TypeError, ValueError) as exc:
        raise UserError(f"a run on a server takes JSON values only: {exc}") from None
    summary = _call(request_json(connection, "POST", "/runs", body, expect=201))
    return RemoteRun.follow(connection, summary)


def _call(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the workbench's background loop and wait for it (any thread but that loop's)."""
    loop = background_loop()
    if running_loop() is loop:
        coroutine.close()
        raise UserError("the workbench client cannot be called from the workbench's own loop (e.g. inside a tool)")
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


def _require(what: str) -> Connection:
    connection = _current
    if connection is None:
        raise UserError(f"{what} needs a server: call wb.connect() first (or wb.connect(url, token))")
    return connection


def _tool_names(tools: Sequence[Any]) -> list[str]:
    if isinstance(tools, (str, bytes)) or not isinstance(tools, (list, tuple)):
        raise UserError("tools must be a list of tool names, e.g. ['read_file', 'write_file']")
    names = []
    for item in tools:
        if not isinstance(item, str):
            name = getattr(item, "name", None) or getattr(item, "__name__", repr(item))
            raise UserError(
                f"tool {name!r} is Python code in this process, and a run on a server can't call it; runs there use "
                f"the server's built-in tools by name ({', '.join(sorted(BUILTIN_TOOL_NAMES))}). Call wb.disconnect() "
                "to run it here")
        names.append(item)
    return names
