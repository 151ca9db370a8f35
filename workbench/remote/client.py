"""Runs on a server, from a kernel or a script: connect, run, attach, list.

    import workbench as wb
    wb.connect()                                         # the Jupyter server of this notebook's kernel
    wb.connect("http://127.0.0.1:8765", token="…")       # or a `workbench serve` server
    wb.connect("https://host:8765", token="…", cafile="ca.pem")  # over TLS, trusting a workshop's own CA
    run = wb.run("Write a haiku")                        # now runs on the server
    again = wb.attach(run.id)                            # any run you may see, from its start
    wb.runs()                                            # their summaries, newest first
    wb.disconnect()                                      # back to runs in this process

A run on a server is a :class:`RemoteRun`, a :class:`~workbench.core.handle.Run` whose log is filled
from the server's event stream (resuming after dropped connections), so ``await run``,
``run.state``, ``run.save()``, ``run.to_pandas()`` and the notebook view work unchanged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import ssl
import threading
from typing import Any, Coroutine, Literal, Sequence, TypeVar
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import aiohttp

from workbench import tls as _tls
from workbench.core import events as ev
from workbench.remote.follow import Backoff, FollowStats, follow_events
from workbench.core.loop import background_loop, running_loop
from workbench.errors import ServerError, UserError
from workbench.core.redact import get_logger, register_secret
from workbench.core.reducer import RunState
from workbench.core.handle import Run
from workbench.agent.tools import BUILTIN_TOOL_NAMES as BUILTIN_TOOLS

__all__ = ["Connection", "RemoteRun", "connect", "disconnect", "current", "attach", "runs", "start_remote"]

log = get_logger("workbench.client")

Kind = Literal["standalone", "jupyter"]
T = TypeVar("T")

_lock = threading.Lock()
_current: "Connection | None" = None


class Connection:
    """Where runs go: a server's API prefix, its kind, and the credentials it wants.

    ``kind="standalone"``: ``workbench serve``, prefix ``/api``, ``Authorization: Bearer``.
    ``kind="jupyter"``: the Jupyter server extension, prefix ``{base_url}workbench/api``,
    ``Authorization: token``. The token is never shown. ``ssl_context`` checks the
    certificates of an ``https://`` server (None: against the system's trusted CAs).
    """

    def __init__(self, api: str, kind: Kind, token: str | None = None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.api = api.rstrip("/")
        self.kind: Kind = kind
        self._token = token or None
        self.ssl_context = ssl_context
        register_secret(self._token)  # no event or log line of this process may show it

    def headers(self) -> dict[str, str]:
        if not self._token:
            return {}
        scheme = "Bearer" if self.kind == "standalone" else "token"
        return {"Authorization": f"{scheme} {self._token}"}

    def url(self, path: str) -> str:
        return self.api + path

    def __repr__(self) -> str:
        what = "workbench serve" if self.kind == "standalone" else "Jupyter server extension"
        return f"<workbench connection to {self.api} ({what})>"


# --- the public functions ----------------------------------------------------------------


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
        connection = _call(_discover(token, timeout, context))
    else:
        connection = _call(_resolve(url, token, kind, timeout, context))
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


def runs(limit: int | None = 100) -> list[dict[str, Any]]:
    """The summaries of the runs the server lets you see, newest first: the ``limit`` newest
    (``None``: all of them, fetched a page at a time)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit must be a positive whole number or None (all runs), not {limit!r}")
    connection = _require("wb.runs()")
    found: list[dict[str, Any]] = []
    before: str | None = None
    while limit is None or len(found) < limit:
        page = RUNS_PAGE if limit is None else min(RUNS_PAGE, limit - len(found))
        query = f"?limit={page}" + (f"&before={quote(before, safe='')}" if before else "")
        body = _call(_json(connection, "GET", f"/runs{query}", expect=200))
        if not isinstance(body, dict):
            break
        found += list(body.get("runs", []))
        before = body.get("next")
        if not isinstance(before, str):  # the last page (or a server that does not page)
            break
    return found


RUNS_PAGE = 500
"""Summaries asked for at once by :func:`runs`."""


def attach(run_id: str) -> "RemoteRun":
    """A run on the server, shown from its first event (also after a kernel restart, or from another notebook)."""
    connection = _require("wb.attach()")
    if not isinstance(run_id, str) or not run_id.strip():
        raise UserError("attach() needs a run id such as 'r_6f2c0d1e2a3b4c5d'; wb.runs() lists them")
    summary = _call(_json(connection, "GET", f"/runs/{quote(run_id.strip(), safe='')}", expect=200))
    return RemoteRun.follow(connection, summary)


def start_remote(
    connection: Connection,
    task: str,
    *,
    model: str | None = None,
    strategy: str = "plan",
    tools: Sequence[Any] | None = None,
    options: dict[str, Any] | None = None,
) -> "RemoteRun":
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
    summary = _call(_json(connection, "POST", "/runs", body, expect=201))
    return RemoteRun.follow(connection, summary)


# --- the run ----------------------------------------------------------------------------------


class RemoteRun(Run):
    """A run executing on a server, its log filled from the server's event stream.

    Everything a :class:`Run` offers works the same. ``cancel()`` asks the server to cancel
    it. If the stream cannot be followed any more (the run is gone, or the token is
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
                      owner=summary.get("owner"))
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
                await _json(self.connection, "POST", f"/runs/{quote(self.id, safe='')}/cancel", expect=202)
            except ServerError as exc:
                if exc.status != 409:  # 409: it had ended already
                    log.warning("could not cancel run %s: %s", self.id, exc)

        asyncio.run_coroutine_threadsafe(post(), background_loop())

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


# --- HTTP ---------------------------------------------------------------------------------------


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


async def _send(connection: Connection, method: str, path: str, body: Any = None, *,
                timeout: float = 30.0) -> tuple[int, str]:
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
    connector = _tls.connector(connection.ssl_context)
    try:
        async with aiohttp.ClientSession(timeout=client_timeout, connector=connector) as session:
            async with session.request(method, connection.url(path), json=body, headers=_headers(connection, method)) as r:
                return r.status, await r.text(errors="replace")
    except aiohttp.ClientSSLError as exc:
        raise _tls.tls_failure(connection.api, exc) from None
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        if isinstance(exc, asyncio.TimeoutError):
            reason = "no answer in time"
        elif isinstance(exc, aiohttp.ClientConnectorError):
            reason = f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
        elif isinstance(exc, aiohttp.ServerDisconnectedError) and connection.api.startswith("http://"):
            reason = "it closed the connection (if it serves HTTPS, use an https:// URL)"
        else:
            reason = str(exc) or type(exc).__name__
        raise ServerError(f"cannot reach the workbench server at {connection.api}: {reason}. Is it running "
                          "(workbench serve, or Jupyter with the workbench extension)?") from None


def _headers(connection: Connection, method: str) -> dict[str, str]:
    """A POST is JSON even without a body (cancel): the servers refuse any other kind of POST."""
    return {**connection.headers(), "Content-Type": "application/json"} if method == "POST" else connection.headers()


async def _json(connection: Connection, method: str, path: str, body: Any = None, *, expect: int,
                timeout: float = 30.0) -> Any:
    status, text = await _send(connection, method, path, body, timeout=timeout)
    if status != expect:
        raise ServerError.from_response(status, text, url=connection.api)
    try:
        return json.loads(text)
    except ValueError:
        raise ServerError(f"{connection.url(path)} did not answer JSON; is this a workbench server?",
                          status=status) from None


def _is_runs_answer(status: int, text: str) -> bool:
    try:
        return status == 200 and isinstance(json.loads(text).get("runs"), list)
    except (ValueError, AttributeError):
        return False


def _is_contract_error(text: str) -> bool:
    try:
        return isinstance(json.loads(text).get("error"), dict)
    except (ValueError, AttributeError):
        return False


def _split_url(url: str) -> tuple[str, str | None]:
    """The URL without query, fragment and UI page (``/lab``, ``/tree``), and a ``?token=`` in it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"the server URL must be http(s)://host:port[/path], such as http://127.0.0.1:8765; "
                        f"got {urlunsplit(parts._replace(query=''))!r}")
    tokens = parse_qs(parts.query).get("token")
    token = tokens[0] if tokens else None
    path = re.sub(r"/(lab|tree)/?$", "", parts.path).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), token


async def _resolve(url: str, token: str | None, kind: Kind | None, timeout: float,
                   context: ssl.SSLContext) -> Connection:
    base, url_token = _split_url(url)
    token = token or url_token
    if kind is None and base.endswith("/workbench/api"):
        kind = "jupyter"
        base = base[: -len("/workbench/api")]
    elif kind is None and base.endswith("/api"):
        kind = "standalone"
        base = base[: -len("/api")]
    if kind == "standalone":
        apis: list[tuple[str, Kind]] = [(base if base.endswith("/api") else base + "/api", "standalone")]
    elif kind == "jupyter":
        apis = [(base if base.endswith("/workbench/api") else base + "/workbench/api", "jupyter")]
    else:
        apis = [(base + "/api", "standalone"), (base + "/workbench/api", "jupyter")]
    candidates = [Connection(api, api_kind, token, ssl_context=context) for api, api_kind in apis]
    answers = []
    for connection in candidates:
        status, text = await _send(connection, "GET", "/runs", timeout=timeout)
        if _is_runs_answer(status, text):
            return connection
        refused = status in (401, 403) and (connection.kind == "jupyter" or _is_contract_error(text))
        if refused or len(candidates) == 1:
            raise ServerError.from_response(status, text, url=connection.api)
        answers.append(f"{connection.api}/runs answered HTTP {status}")
    raise ServerError(f"no workbench server at {base}: {'; '.join(answers)}. Pass the URL of a `workbench serve` "
                      "server or of a Jupyter server with the workbench extension (kind= picks one)")


async def _discover(token: str | None, timeout: float, context: ssl.SSLContext) -> Connection:
    from workbench.remote import discovery

    kernel = discovery.kernel_id()
    servers = await asyncio.to_thread(discovery.running_servers)
    found = await discovery.find_server(kernel, servers, timeout=min(timeout, 5.0), ssl_context=context)
    if found is None:
        raise UserError(
            f"none of the {len(servers)} running Jupyter servers found has this kernel ({kernel[:8]}…) in its sessions. "
            "Pass the server's URL and token: wb.connect('http://127.0.0.1:8888', token='…'), or set WORKBENCH_URL")
    connection = Connection(found.root + "workbench/api", "jupyter", token or found.token, ssl_context=context)
    status, text = await _send(connection, "GET", "/runs", timeout=timeout)
    if _is_runs_answer(status, text):
        return connection
    if status == 404:
        raise ServerError(f"the Jupyter server at {found.root} has no workbench extension "
                          f"({connection.api}/runs answered 404); enable it with "
                          "'jupyter server extension enable workbench' and restart Jupyter", status=404)
    raise ServerError.from_response(status, text, url=connection.api)


def _tool_names(tools: Sequence[Any]) -> list[str]:
    if isinstance(tools, (str, bytes)) or not isinstance(tools, (list, tuple)):
        raise UserError("tools must be a list of tool names, e.g. ['read_file', 'write_file']")
    names = []
    for item in tools:
        if not isinstance(item, str):
            name = getattr(item, "name", None) or getattr(item, "__name__", repr(item))
            raise UserError(
                f"tool {name!r} is Python code in this process, and a run on a server can't call it; runs there use "
                f"the server's built-in tools by name ({', '.join(sorted(BUILTIN_TOOLS))}). Call wb.disconnect() "
                "to run it here")
        names.append(item)
    return names
