"""Finding the Jupyter server a kernel belongs to.

A kernel's connection file is named after its kernel id (``kernel-<id>.json``). Every
running Jupyter server leaves an info file (url, base_url, token) that
``jupyter_server.serverapp.list_running_servers()`` reads; the server whose
``GET api/sessions`` lists a session with our kernel id is ours.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urljoin

import aiohttp

from workbench.errors import UserError
from workbench.tls import connector, tls_failure

__all__ = ["JupyterServer", "kernel_id", "running_servers", "find_server"]

_CONNECTION_FILE = re.compile(r"^kernel-(.+)\.json$")


class JupyterServer:
    """A running Jupyter server: its root URL (base_url included, ending in /) and token."""

    def __init__(self, root: str, token: str) -> None:
        self.root = root
        self.token = token

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "JupyterServer":
        root = urljoin(str(info.get("url") or ""), str(info.get("base_url") or "/"))
        return cls(root if root.endswith("/") else root + "/", str(info.get("token") or ""))

    def __repr__(self) -> str:
        return f"JupyterServer({self.root!r})"  # never the token


def kernel_id(connection_file: str | None = None) -> str:
    """The id of the kernel this code runs in (from its connection file's name)."""
    if connection_file is None:
        try:
            from ipykernel import get_connection_file

            connection_file = get_connection_file()
        except (ImportError, RuntimeError):
            raise UserError(
                "wb.connect() with no URL finds the Jupyter server of this notebook's kernel, but this Python "
                "is not running in a Jupyter kernel. Pass the server's URL: wb.connect('http://127.0.0.1:8765', "
                "token=...), or set WORKBENCH_URL and WORKBENCH_TOKEN") from None
    match = _CONNECTION_FILE.match(Path(connection_file).name)
    if match is None:
        raise UserError(f"cannot tell this kernel's id from its connection file {Path(connection_file).name!r} "
                        "(expected kernel-<id>.json); pass the server's URL to wb.connect()")
    return match.group(1)


def running_servers() -> list[JupyterServer]:
    """The Jupyter servers running on this machine, as their info files list them."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    return [JupyterServer.from_info(info) for info in list_running_servers()]


async def find_server(kernel: str, servers: Iterable[JupyterServer], *, timeout: float = 3.0,
                      ssl_context: ssl.SSLContext | None = None) -> JupyterServer | None:
    """The first of ``servers`` that has a session of kernel ``kernel``; asks them all at once.

    ``ssl_context`` checks the certificates of ``https://`` servers (None: the system's CAs).
    When none is found and one failed the TLS handshake, raises that failure as a
    :class:`~workbench.errors.ServerError`: it may be ours, behind a certificate not trusted here.
    """
    servers = list(servers)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout, connector=connector(ssl_context)) as session:
        found = await asyncio.gather(*(_has_kernel(session, s, kernel) for s in servers), return_exceptions=True)
    ours: JupyterServer | None = None
    refused: tuple[JupyterServer, aiohttp.ClientSSLError] | None = None
    for server, answer in zip(servers, found):
        if isinstance(answer, aiohttp.ClientSSLError):
            refused = refused or (server, answer)
        elif isinstance(answer, BaseException):
            raise answer
        elif answer and ours is None:
            ours = server
    if ours is None and refused is not None:
        raise tls_failure(refused[0].root, refused[1])
    return ours


async def _has_kernel(session: aiohttp.ClientSession, server: JupyterServer, kernel: str) -> bool:
    headers = {"Authorization": f"token {server.token}"} if server.token else {}
    try:
        async with session.get(server.root + "api/sessions", headers=headers) as response:
            if response.status != 200:
                return False
            sessions = await response.json(content_type=None)
    except aiohttp.ClientSSLError:  # find_server says so if no other server is ours
        raise
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
        return False
    return isinstance(sessions, list) and any(
        isinstance(s, dict) and isinstance(s.get("kernel"), dict) and s["kernel"].get("id") == kernel
        for s in sessions
    )
