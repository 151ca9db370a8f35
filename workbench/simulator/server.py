"""The simulator over real HTTP (aiohttp), for clients that need a socket or a base URL.

    async with serve(Simulator()) as base_url:
        os.environ["ANTHROPIC_BASE_URL"] = base_url   # any Anthropic client now talks to it

``python -m workbench.simulator`` runs the same server from the command line.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import NoReturn

from aiohttp import web

from workbench.simulator.engine import Simulator
from workbench.simulator.responses import ConnectionDropped

__all__ = ["make_app", "serve", "SIMULATOR_KEY"]

SIMULATOR_KEY = web.AppKey("simulator", Simulator)


def make_app(simulator: Simulator) -> web.Application:
    """An aiohttp application that answers every route through ``simulator``."""
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[SIMULATOR_KEY] = simulator
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


async def _handle(request: web.Request) -> web.StreamResponse:
    simulator = request.app[SIMULATOR_KEY]
    body = await request.read()
    headers = {key.lower(): value for key, value in request.headers.items()}
    answer = await simulator.handle(request.method, request.path_qs, headers, body)
    if not answer.headers.get("content-type", "").startswith("text/event-stream"):
        # A whole JSON answer goes out with a Content-Length, like the API's.
        try:
            content = await answer.read()
        except ConnectionDropped:
            _drop(request)
        reason = "Overloaded" if answer.status == 529 else None  # 529 has no standard reason phrase
        return web.Response(status=answer.status, reason=reason, headers=answer.headers, body=content)
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    # No compression and no proxy buffering: each frame must reach the client as it is sent.
    response.headers["X-Accel-Buffering"] = "no"
    await response.prepare(request)
    try:
        async for chunk in answer.body:
            await response.write(chunk)
    except ConnectionDropped:
        _drop(request)
    finally:
        # Stop a paced stream at once when the client went away (the write above raised).
        aclose = getattr(answer.body, "aclose", None)
        if aclose is not None:
            await aclose()
    await response.write_eof()
    return response


def _drop(request: web.Request) -> NoReturn:
    """Fault ``drop``: close the TCP connection where the answer stands, so the client sees a
    truncated response (or none), as when a real connection breaks."""
    transport = request.transport
    if transport is not None:
        transport.close()  # close() flushes what was written; abort() could lose it
    raise web.HTTPException()  # ends the handler without finishing the body


@contextlib.asynccontextmanager
async def serve(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``simulator`` on ``host:port`` (0 = a free port) and give its base URL."""
    runner = web.AppRunner(make_app(simulator), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
