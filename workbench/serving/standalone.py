"""The standalone server (``workbench serve``): the HTTP contract over aiohttp and aiohttp-sse.

Handlers are thin: they parse, authorize, call the :class:`~workbench.serving.service.RunService`
and encode. Every refusal is JSON of the contract's error shape (:mod:`.middleware`, and
:mod:`.connections` for what aiohttp's parser refuses); an event stream's bytes come from
:func:`workbench.serving.sse.run_stream`, the one encoder both servers share. :mod:`.serve` is
the command that listens.

    app = create_app(RunService(store_path=..., workspace_root=...), authenticate=single_token("s3cret"))
    runner = make_runner(app)  # workbench.serving.connections
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any, Iterable

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from workbench.serving import sse
from workbench.serving.app_keys import (
    API_PREFIX,
    AUTHENTICATE,
    CLIENT_ROUTE,
    CORS_ORIGINS,
    EVENTS_ROUTE,
    HEARTBEAT,
    OPEN,
    PRINCIPAL,
    PUBLIC_ROUTES,
    SERVICE,
    STREAMS,
    WEB,
)
from workbench.serving.client import CLIENT_HEADERS, CLIENT_PATH, client_source
from workbench.serving.connections import lost_to_timeout
from workbench.serving.middleware import MIDDLEWARES, cors_headers
from workbench.serving.service import MAX_BODY_BYTES, Principal, Refusal, RunService, parse_body, too_large
from workbench.serving.tokens import Authenticator
from workbench.serving.web_assets import PAGE_HEADERS, WEB_PATH, WebAssets, asset_headers

__all__ = ["create_app"]

STREAM_GRACE = 2.0
"""Seconds streams get, at shutdown, to send their runs' last events before they are cut."""


def create_app(
    service: RunService,
    *,
    authenticate: Authenticator,
    heartbeat: float = 15.0,
    cors_origins: Iterable[str] = (),
    web_view: WebAssets | None = None,
) -> web.Application:
    """The application; it owns ``service`` and closes it (interrupting live runs) on shutdown.

    With ``web_view``, ``/`` is the web view of runs (a page that asks for the token).
    """
    if heartbeat <= 0:
        raise ValueError("heartbeat must be a positive number of seconds")
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=MAX_BODY_BYTES)
    app[SERVICE] = service
    app[AUTHENTICATE] = authenticate
    app[OPEN] = authenticate(None) is not None  # no token needed: anyone who reaches the server is in
    app[HEARTBEAT] = float(heartbeat)
    app[CORS_ORIGINS] = frozenset(o.rstrip("/") for o in cors_origins)
    app[STREAMS] = set()
    p = API_PREFIX
    app.router.add_post(f"{p}/runs", create_run)
    app.router.add_get(f"{p}/runs", list_runs, allow_head=False)
    app.router.add_get(f"{p}/runs/{{run_id}}", run_detail, allow_head=False)
    app.router.add_post(f"{p}/runs/{{run_id}}/cancel", cancel_run)
    app.router.add_post(f"{p}/runs/{{run_id}}/pause", pause_run)
    app.router.add_post(f"{p}/runs/{{run_id}}/resume", resume_run)
    app.router.add_post(f"{p}/runs/{{run_id}}/tools/{{tool_use_id}}/decision", decide_tool_call)
    app.router.add_post(f"{p}/runs/{{run_id}}/messages", message_run)
    app.router.add_post(f"{p}/runs/{{run_id}}/fork", fork_run)
    app.router.add_get(f"{p}/runs/{{run_id}}/events", run_events, allow_head=False, name=EVENTS_ROUTE)
    app.router.add_get(f"{p}/runs/{{run_id}}/log", run_log, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)
    app.router.add_get(f"{p}/me", whoami, allow_head=False)
    app.router.add_get(f"/{CLIENT_PATH}", follow_run_js, allow_head=False, name=CLIENT_ROUTE)
    if web_view is not None:
        app[WEB] = web_view
        app.router.add_get("/", web_page, allow_head=False, name=PUBLIC_ROUTES[0])
        app.router.add_get(f"/{WEB_PATH}/{{name}}", web_asset, allow_head=False, name=PUBLIC_ROUTES[1])
        app.router.add_get(f"{p}/runs/{{run_id}}/markdown", run_markdown, allow_head=False)
    app.on_response_prepare.append(cors_headers)
    app.on_shutdown.append(_shutdown)
    return app


# --- handlers -----------------------------------------------------------------------------


async def create_run(request: web.Request) -> web.Response:
    service, who = request.app[SERVICE], _who(request)
    service.check_may_start(who)  # a participant gets the 403, whatever the body
    run = service.create(who, await _json_body(request))
    return web.json_response(service.summary(run), status=201, headers={"Location": f"{API_PREFIX}/runs/{run.id}"})


async def fork_run(request: web.Request) -> web.Response:
    service = await _holding_run(request)
    await service.load_agent()
    run = service.fork(_who(request), request.match_info["run_id"], await _json_body(request))
    return web.json_response(service.summary(run), status=201, headers={"Location": f"{API_PREFIX}/runs/{run.id}"})


async def list_runs(request: web.Request) -> web.Response:
    query = request.query
    return web.json_response(request.app[SERVICE].list(_who(request), limit=query.get("limit"), before=query.get("before")))


async def run_detail(request: web.Request) -> web.Response:
    return web.json_response((await _holding_run(request)).detail(_who(request), request.match_info["run_id"]))


async def cancel_run(request: web.Request) -> web.Response:
    service = await _holding_run(request)
    run = service.cancel(_who(request), request.match_info["run_id"])
    return web.json_response(service.summary(run), status=202)


async def pause_run(request: web.Request) -> web.Response:
    service = await _holding_run(request)
    run = service.pause(_who(request), request.match_info["run_id"], await _raw_body(request))
    return web.json_response(await service.answer(run), status=202)


async def resume_run(request: web.Request) -> web.Response:
    service = await _holding_run(request)
    run = service.resume(_who(request), request.match_info["run_id"], await _raw_body(request))
    return web.json_response(await service.answer(run), status=202)


async def decide_tool_call(request: web.Request) -> web.Response:
    service, match = await _holding_run(request), request.match_info
    run = service.decide(_who(request), match["run_id"], match["tool_use_id"], await _raw_body(request))
    return web.json_response(await service.answer(run), status=202)


async def message_run(request: web.Request) -> web.Response:
    service = await _holding_run(request)
    run = service.say(_who(request), request.match_info["run_id"], await _raw_body(request))
    return web.json_response(await service.answer(run), status=202)


async def run_events(request: web.Request) -> web.StreamResponse:
    service = await _holding_run(request)
    run = service.get(_who(request), request.match_info["run_id"])
    chunks = service.event_stream(run, request.headers.get("Last-Event-ID"), request.query.get("after"),
                                  request.query.get("profile"), heartbeat=request.app[HEARTBEAT])
    if chunks is None:
        return web.Response(status=204)  # nothing after the end: a browser's EventSource stops reconnecting
    streams = request.app[STREAMS]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    stream: _EventStream | None = None
    try:
        async with aclosing(chunks), sse_response(request, headers=sse.HEADERS, response_cls=_EventStream,
                                                  send_timeout=sse.SEND_TIMEOUT) as stream:
            async for chunk in chunks:
                async with asyncio.timeout(sse.SEND_TIMEOUT):
                    await stream.write(chunk)
                del chunk  # written: not held while the stream waits for the next one
    except (ConnectionError, TimeoutError) as exc:  # the client went away or stalled: nothing more to send
        if isinstance(exc, TimeoutError):
            service.meter.dropped += 1
        if request.transport is not None:
            request.transport.abort()
    except asyncio.CancelledError:  # the connection was lost: by the kernel, if the client took nothing
        if lost_to_timeout(request):
            service.meter.dropped += 1
        raise
    finally:
        streams.discard(task)
    assert stream is not None
    return stream


async def whoami(request: web.Request) -> web.Response:
    """``GET /api/me``: who the token is and what they may do (the web view shows only that)."""
    return web.json_response(request.app[SERVICE].whoami(_who(request)))


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the connection metrics (Prometheus text); a workshop's participants may not."""
    if _who(request).role == "participant":
        raise Refusal(403, "forbidden", "the metrics are for instructors; participants watch runs")
    body, content_type = request.app[SERVICE].scrape_metrics()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def run_log(request: web.Request) -> web.StreamResponse:
    run_id = request.match_info["run_id"]
    chunks = (await _holding_run(request)).run_file(_who(request), run_id)
    first = next(chunks)  # raises the 404 before anything is sent
    response = web.StreamResponse(headers={
        "Content-Type": "application/x-ndjson",
        "Content-Disposition": f'attachment; filename="{run_id}.jsonl"',
    })
    await response.prepare(request)
    await response.write(first)
    for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


async def follow_run_js(request: web.Request) -> web.Response:
    """The JavaScript client (:mod:`workbench.serving.client`), without authentication."""
    return web.Response(body=client_source(), headers=CLIENT_HEADERS)


async def web_page(request: web.Request) -> web.Response:
    """The web view's page: no data in it, so no token (the page asks for one)."""
    # Off the loop: the first request imports the widget's front end, which would hold up every stream.
    return web.Response(body=await asyncio.to_thread(request.app[WEB].page, "token"), headers=PAGE_HEADERS)


async def web_asset(request: web.Request) -> web.Response:
    """A module or style sheet of the web view, a static file of the package."""
    name = request.match_info["name"]
    body = await asyncio.to_thread(request.app[WEB].asset, name)
    if body is None:
        raise Refusal(404, "not_found", f"no file {name[:80]!r} in the web view")
    return web.Response(body=body, headers=asset_headers(name))


async def run_markdown(request: web.Request) -> web.Response:
    """``GET /api/runs/{id}/markdown?from=&to=``: the sanitized HTML of the run's messages and result."""
    query = request.query
    events = (await _holding_run(request)).events_between(_who(request), request.match_info["run_id"],
                                                          query.get("from"), query.get("to"))
    return web.json_response({"html": await asyncio.to_thread(request.app[WEB].markdown, events)})


class _EventStream(EventSourceResponse):
    """aiohttp-sse's response lifecycle without its own ``: ping`` frames.

    Keep-alives come from :func:`workbench.serving.sse.run_stream`, framed as the contract says.
    """

    async def _ping(self) -> None:
        await asyncio.get_running_loop().create_future()  # until stop_streaming() cancels it


# --- request helpers and shutdown ---------------------------------------------------------


def _who(request: web.Request) -> Principal:
    return request[PRINCIPAL]


async def _holding_run(request: web.Request) -> RunService:
    """The service, with the request's run in memory: read from the store off the loop if need be."""
    service = request.app[SERVICE]
    await service.prefetch(request.match_info["run_id"])
    return service


async def _json_body(request: web.Request) -> Any:
    return parse_body(await _raw_body(request))


async def _raw_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None


async def _shutdown(app: web.Application) -> None:
    """Interrupt live runs (streams send their terminal events and end), then cut what is left."""
    await app[SERVICE].close()
    streams = app[STREAMS].copy()
    if streams:
        _, pending = await asyncio.wait(streams, timeout=STREAM_GRACE)
        for task in pending:
            task.cancel()
