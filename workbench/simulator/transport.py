"""The simulator as the ``anthropic`` SDK's HTTP transport, in-process, with no socket.

    sim = Simulator()
    http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
    client = anthropic.AsyncAnthropic(api_key="any", base_url="http://simulator.invalid", http_client=http)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2

from workbench.simulator.engine import Simulator
from workbench.simulator.responses import ConnectionDropped

__all__ = ["SimulatorTransport", "SimulatorStream"]


class SimulatorStream(httpx2.AsyncByteStream):
    """A response body fed chunk by chunk from the simulator.

    A ``drop`` fault surfaces as ``httpx2.RemoteProtocolError``, the error a real broken
    connection gives; closing the stream (or cancelling its reader) closes the simulator's
    generator at once, so no paced stream keeps running for nobody.
    """

    def __init__(self, chunks: AsyncIterator[bytes], request: httpx2.Request) -> None:
        self._chunks = chunks
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        except ConnectionDropped as err:
            raise httpx2.RemoteProtocolError(str(err), request=self._request) from None

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class SimulatorTransport(httpx2.AsyncBaseTransport):
    """Hands each request to a :class:`Simulator` and streams its answer back."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        path = request.url.raw_path.decode("ascii", errors="replace")
        headers = {key.lower(): value for key, value in request.headers.items()}
        answer = await self.simulator.handle(request.method, path, headers, body)
        return httpx2.Response(
            answer.status,
            headers=answer.headers,
            stream=SimulatorStream(answer.body, request),
            request=request,
        )
