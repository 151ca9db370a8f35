"""What the simulator answers with: a :class:`SimResponse` (status, headers, a body of chunks), JSON
answers, a connection that drops, and ids in the API's style."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from workbench.simulator.frames import dumps

__all__ = ["ConnectionDropped", "SimResponse", "api_id", "dropped_body", "json_response"]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class ConnectionDropped(Exception):
    """Raised by a :class:`SimResponse` body where the simulated connection breaks (fault ``drop``).

    The transport turns it into ``httpx2.RemoteProtocolError``; the HTTP server aborts the
    TCP connection.
    """


@dataclass
class SimResponse:
    """One answer of the simulator: status, headers and the body as an async iterator of chunks."""

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]

    async def read(self) -> bytes:
        """The whole body (convenient in tests; a ``drop`` raises :class:`ConnectionDropped`)."""
        return b"".join([chunk async for chunk in self.body])


def api_id(prefix: str, *parts: Any) -> str:
    """A deterministic id in the API's style (``msg_01…``, ``toolu_01…``): 22 base62 characters."""
    number = int.from_bytes(hashlib.sha256("\0".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(22):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return prefix + "01" + "".join(chars)


def json_response(status: int, payload: Any, request_id: str) -> SimResponse:
    headers = {"content-type": "application/json", "request-id": request_id}
    return SimResponse(status, headers, _chunks(dumps(payload).encode()))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def dropped_body(chunks: list[bytes]) -> AsyncIterator[bytes]:
    """A body that sends ``chunks``, then breaks the connection."""
    for chunk in chunks:
        yield chunk
    raise ConnectionDropped("the simulator dropped the connection (fault 'drop')")
