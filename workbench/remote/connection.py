"""Where runs go: a server's API, its kind and credentials (:class:`Connection`), the requests sent
to it, and how the API is found from a URL or from the Jupyter server of this kernel."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp

from workbench import tls as _tls
from workbench.core.redact import register_secret
from workbench.errors import ServerError, UserError

__all__ = ["Connection", "Kind", "discover", "request_json", "resolve", "send"]

Kind = Literal["standalone", "jupyter"]


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


# --- requests ---------------------------------------------------------------------------------


async def send(connection: Connection, method: str, path: str, body: Any = None, *,
               timeout: float = 30.0) -> tuple[int, str]:
    """One request; its status and text. A server that cannot be reached is a :class:`ServerError`."""
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


async def request_json(connection: Connection, method: str, path: str, body: Any = None, *, expect: int,
                       timeout: float = 30.0) -> Any:
    """One request whose answer must have status ``expect`` and be JSON: that JSON, else a :class:`ServerError`."""
    status, text = await send(connection, method, path, body, timeout=timeout)
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


# --- finding the API ----------------------------------------------------------------------------


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


async def resolve(url: str, token: str | None, kind: Kind | None, timeout: float,
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
        status, text = await send(connection, "GET", "/runs", timeout=timeout)
        if _is_runs_answer(status, text):
            return connection
        refused = status in (401, 403) and (connection.kind == "jupyter" or _is_contract_error(text))
        if refused or len(candidates) == 1:
            raise ServerError.from_response(status, text, url=connection.api)
        answers.append(f"{connection.api}/runs answered HTTP {status}")
    raise ServerError(f"no workbench server at {base}: {'; '.join(answers)}. Pass the URL of a `workbench serve` "
                      "server or of a Jupyter server with the workbench extension (kind= picks one)")


async def discover(token: str | None, timeout: float, context: ssl.SSLContext) -> Connection:
    from workbench.remote import discovery

    kernel = discovery.kernel_id()
    servers = await asyncio.to_thread(discovery.running_servers)
    found = await discovery.find_server(kernel, servers, timeout=min(timeout, 5.0), ssl_context=context)
    if found is None:
        raise UserError(
            f"none of the {len(servers)} running Jupyter servers found has this kernel ({kernel[:8]}…) in its sessions. "
            "Pass the server's URL and token: wb.connect('http://127.0.0.1:8888', token='…'), or set WORKBENCH_URL")
    connection = Connection(found.root + "workbench/api", "jupyter", token or found.token, ssl_context=context)
    status, text = await send(connection, "GET", "/runs", timeout=timeout)
    if _is_runs_answer(status, text):
        return connection
    if status == 404:
        raise ServerError(f"the Jupyter server at {found.root} has no workbench extension "
                          f"({connection.api}/runs answered 404); enable it with "
                          "'jupyter server extension enable workbench' and restart Jupyter", status=404)
    raise ServerError.from_response(status, text, url=connection.api)
