"""The standalone server (``workbench serve``): the HTTP contract over aiohttp and aiohttp-sse.

Handlers are thin: they parse, authorize, call the :class:`~workbench.serving.service.RunService`
and encode. Every refusal is JSON of the contract's error shape; an event stream's bytes
come from :func:`workbench.serving.sse.run_stream`, the one encoder both servers share.

    app = create_app(RunService(store_path=..., workspace_root=...), authenticate=single_token("s3cret"))
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp_sse import EventSourceResponse, sse_response

from workbench.serving import sse
from workbench.errors import UserError
from workbench.core.redact import get_logger
from workbench.serving.service import MAX_BODY_BYTES, Refusal, Principal, RunService, parse_body, too_large
from workbench.serving.tokens import Authenticator

if TYPE_CHECKING:
    from workbench.serving.workshop import Workshop

__all__ = ["create_app", "make_runner", "API_PREFIX"]

log = get_logger("workbench.server")

API_PREFIX = "/api"
STREAM_GRACE = 2.0
"""Seconds streams get, at shutdown, to send their runs' last events before they are cut."""
MAX_URL_BYTES = 8190
"""The longest URL (path and query) a request may have: aiohttp's limit; longer gets a 414."""
MAX_HEADER_BYTES = 16384
"""The longest header (name and value) a request may have; longer, or more than
:data:`MAX_HEADERS` headers, gets a 431. It differs from :data:`MAX_URL_BYTES`, which
is how the two refusals of aiohttp's parser are told apart."""
MAX_HEADERS = 128
"""The most headers a request may have: aiohttp's limit."""

SERVICE = web.AppKey("workbench.service", RunService)
AUTHENTICATE: web.AppKey[Authenticator] = web.AppKey("workbench.authenticate")
HEARTBEAT = web.AppKey("workbench.heartbeat", float)
OPEN = web.AppKey("workbench.open", bool)
CORS_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("workbench.cors_origins")
STREAMS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("workbench.streams")
PRINCIPAL = web.RequestKey("workbench.principal", Principal)

EVENTS_ROUTE = "events"
"""The one route that takes ``?token=``: an ``EventSource`` cannot set headers."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
    service: RunService,
    *,
    authenticate: Authenticator,
    heartbeat: float = 15.0,
    cors_origins: Iterable[str] = (),
) -> web.Application:
    """The application; it owns ``service`` and closes it (interrupting live runs) on shutdown."""
    if heartbeat <= 0:
        raise ValueError("heartbeat must be a positive number of seconds")
    app = web.Application(middlewares=[_preflight, _errors, _guard, _authenticate], client_max_size=MAX_BODY_BYTES)
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
    app.router.add_get(f"{p}/runs/{{run_id}}/events", run_events, allow_head=False, name=EVENTS_ROUTE)
    app.router.add_get(f"{p}/runs/{{run_id}}/log", run_log, allow_head=False)
    app.on_response_prepare.append(_cors_headers)
    app.on_shutdown.append(_shutdown)
    return app


def make_runner(app: web.Application, *, shutdown_timeout: float = 5.0) -> web.AppRunner:
    """An AppRunner that cancels a handler whose client went away, never logs query strings and
    answers requests its HTTP parser refuses with the contract's JSON errors too."""
    return _Runner(app, handle_signals=False, handler_cancellation=True, access_log_class=_AccessLogger,
                   shutdown_timeout=shutdown_timeout, max_line_size=MAX_URL_BYTES,
                   max_field_size=MAX_HEADER_BYTES, max_headers=MAX_HEADERS)


# --- handlers -----------------------------------------------------------------------------


async def create_run(request: web.Request) -> web.Response:
    service, who = request.app[SERVICE], _who(request)
    service.check_may_start(who)  # a participant gets the 403, whatever the body
    run = service.create(who, await _json_body(request))
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


async def run_events(request: web.Request) -> web.StreamResponse:
    run = (await _holding_run(request)).get(_who(request), request.match_info["run_id"])
    try:
        after = sse.parse_resume(request.headers.get("Last-Event-ID"), request.query.get("after"))
        if not sse.check_resume(run.log, after):
            return web.Response(status=204)  # nothing after the end: a browser's EventSource stops reconnecting
    except sse.ResumeError as exc:
        raise Refusal(400, "invalid_request", str(exc)) from None
    streams = request.app[STREAMS]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    stream: _EventStream | None = None
    try:
        async with sse_response(request, headers=sse.HEADERS, response_cls=_EventStream,
                                send_timeout=sse.SEND_TIMEOUT) as stream:
            async for chunk in sse.run_stream(run.log, after=after, heartbeat=request.app[HEARTBEAT]):
                async with asyncio.timeout(sse.SEND_TIMEOUT):
                    await stream.write(chunk)
    except (ConnectionError, TimeoutError):  # the client went away or stalled: nothing more to send
        if request.transport is not None:
            request.transport.abort()
    finally:
        streams.discard(task)
    assert stream is not None
    return stream


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


class _EventStream(EventSourceResponse):
    """aiohttp-sse's response lifecycle without its own ``: ping`` frames.

    Keep-alives come from :func:`workbench.serving.sse.run_stream`, framed as the contract says.
    """

    async def _ping(self) -> None:
        await asyncio.get_running_loop().create_future()  # until stop_streaming() cancels it


# --- request helpers -----------------------------------------------------------------------


def _who(request: web.Request) -> Principal:
    return request[PRINCIPAL]


async def _holding_run(request: web.Request) -> RunService:
    """The service, with the request's run in memory: read from the store off the loop if need be."""
    service = request.app[SERVICE]
    await service.prefetch(request.match_info["run_id"])
    return service


async def _json_body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None
    return parse_body(raw)


def _presented_token(request: web.Request) -> str | None:
    """The token of the ``Authorization`` header, else of ``?token=`` (event streams only); ``""`` when
    the header is not a bearer token or is not UTF-8 text (no token is: it can only be wrong)."""
    if "token" in request.query and request.match_info.route.name != EVENTS_ROUTE:
        # A token in a URL ends up in browser histories and proxy logs: only where nothing else works.
        raise Refusal(401, "unauthorized", "a token in the URL ('?token=') is only accepted on event streams "
                                            "(GET .../events); send it as 'Authorization: Bearer <token>'")
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        token: str | None = value.strip() if scheme.lower() == "bearer" else ""
    else:
        token = request.query.get("token")
    try:
        (token or "").encode()
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as surrogates
        return ""
    return token


# --- middlewares and signals --------------------------------------------------------------


@web.middleware
async def _preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS preflight for allowed origins; everything else goes on (headers: :func:`_cors_headers`)."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS" and origin is not None and "Access-Control-Request-Method" in request.headers:
        if origin.rstrip("/") not in request.app[CORS_ORIGINS]:
            return _error_response(Refusal(403, "forbidden", "this origin may not use the API; the server "
                                                              "allows the origins given with --cors-origin"))
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        })
    return await handler(request)


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    origins = request.app[CORS_ORIGINS]
    if not origins:
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as the contract's JSON error; bad input never becomes a 5xx."""
    try:
        return await handler(request)
    except Refusal as exc:
        return _error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_response(_from_http_exception(request, exc), headers=_allow_header(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return _error_response(Refusal(500, "internal_error", "the server failed on this request; "
                                                               "its log has the details"))


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What a browser page on another site must not do: reach a server without a token through
    another host name (DNS rebinding), or change anything (start, cancel) with a request it may
    send without asking the server first (a form or ``text/plain`` POST, or one from its origin)."""
    if request.app[OPEN]:
        # With a token, a page that rebinds its own name to this server still has no token to send;
        # without one, the Host header is all that tells such a page's requests apart.
        host = request.headers.get("Host", "")
        if not is_loopback(_host_name(host)):
            raise Refusal(403, "forbidden", f"this server has no token, so it only answers requests addressed to "
                                             f"localhost, 127.0.0.1 or [::1], not Host {host[:80]!r}; use one of "
                                             "those names, or start the server with a token (--token)")
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin is not None and not _allowed_origin(request, origin):
            raise Refusal(403, "forbidden", f"requests from the web page at {origin[:80]!r} may not change "
                                             "anything here; the server allows its own origin and those given "
                                             "with --cors-origin")
        if request.content_type != "application/json":
            raise Refusal(415, "unsupported_media_type", "send POST requests with 'Content-Type: application/json' "
                                                          "(and a JSON body, where the route takes one)")
    return await handler(request)


def _host_name(host: str) -> str:
    """The name or address of a ``Host`` header, without its port (``[::1]:8765`` is ``::1``)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name if rest == "" or (rest.startswith(":") and rest[1:].isdigit()) else host
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def _allowed_origin(request: web.Request, origin: str) -> bool:
    origin = origin.rstrip("/")
    return origin.lower() == f"{request.scheme}://{request.host}".lower() or origin in request.app[CORS_ORIGINS]


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    principal = request.app[AUTHENTICATE](_presented_token(request))
    if principal is None:
        raise Refusal(401, "unauthorized", "missing or wrong token: send 'Authorization: Bearer <token>' "
                                            "(or '?token=<token>' on an event stream, where headers cannot be set)")
    request[PRINCIPAL] = principal
    return await handler(request)


async def _shutdown(app: web.Application) -> None:
    """Interrupt live runs (streams send their terminal events and end), then cut what is left."""
    await app[SERVICE].close()
    streams = app[STREAMS].copy()
    if streams:
        _, pending = await asyncio.wait(streams, timeout=STREAM_GRACE)
        for task in pending:
            task.cancel()


def _error_response(error: Refusal, headers: dict[str, str] | None = None) -> web.Response:
    headers = dict(headers or {})
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="workbench"'
    return web.Response(status=error.status, text=error.json(), content_type="application/json", headers=headers)


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> Refusal:
    if exc.status == 404:
        return Refusal(404, "not_found", f"no route {request.path[:80]!r}; the API is GET/POST "
                                          f"{API_PREFIX}/runs and {API_PREFIX}/runs/{{id}}[/events|/log|/cancel]")
    if exc.status == 405:
        return Refusal(405, "method_not_allowed", f"{request.method} is not allowed on {request.path[:80]!r}")
    if exc.status == 413:
        return too_large()
    return Refusal(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


class _RequestHandler(web.RequestHandler):
    """aiohttp's connection handler, whose answers to what its parser refuses (an oversized URL or
    header, bytes that are not HTTP) are the contract's JSON errors rather than aiohttp's text.

    Those answers never reach the middlewares; ``handle_error`` is where aiohttp builds them.
    """

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp's own: part of an answer went out, no other can
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if isinstance(exc, HttpProcessingError):
            # One line, not the parser's message: that quotes the request's bytes, which may hold a token.
            self.logger.info("refused a request from %s that HTTP could not parse (%s)", request.remote,
                             type(exc).__name__)
            error = _parse_error(exc)
        else:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
            error = Refusal(500, "internal_error", "the server failed on this request; its log has the details")
        response = _error_response(error)
        response.force_close()
        return response


def _parse_error(exc: HttpProcessingError) -> Refusal:
    if isinstance(exc, LineTooLong) and exc.args[1] == MAX_URL_BYTES:
        return Refusal(414, "uri_too_long", f"the URL is longer than {MAX_URL_BYTES:,} bytes, the limit here; "
                                             "shorten its path or query")
    if isinstance(exc, LineTooLong):
        return Refusal(431, "headers_too_large", f"a header is longer than {MAX_HEADER_BYTES:,} bytes (name and "
                                                  "value), the limit here; shorten it")
    if exc.message.startswith("Too many headers"):
        return Refusal(431, "headers_too_large", f"the request has more than {MAX_HEADERS} headers, the limit "
                                                  "here; send fewer")
    return Refusal(400, "bad_request", "the request is not well-formed HTTP/1.1; check its request line and "
                                        "headers")


class _Server(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    """An AppRunner whose connections are handled by :class:`_RequestHandler`.

    aiohttp 3 has no hook for the answers its parser gives (aiohttp 4 sends them through the
    middlewares), so the Server it builds is given the subclass that adds one.
    """

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server
        return server


class _AccessLogger(AbstractAccessLogger):
    """Method, path and status; never the query string, which may hold a token."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, duration: float) -> None:
        self.logger.info("%s %s %d %.0f ms", request.method, request.path, response.status, duration * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


# --- workbench serve ------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (literal loopback addresses and localhost)."""
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _url(host: str, port: int, tls: bool = False) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def check_transport(host: str, *, tls: bool, allow_http: bool) -> None:
    """Refuse plain HTTP off loopback unless ``allow_http`` says an HTTPS reverse proxy is in front.

    A warning at start-up scrolls past unread; on a shared network every token and run would
    be readable by anyone on it.
    """
    if tls or allow_http or is_loopback(host):
        return
    raise UserError(f"refusing to serve plain HTTP on {host}: every token and run would cross the network "
                    "unencrypted, readable by anyone on it. Serve HTTPS with --certfile FILE (and --keyfile FILE), "
                    "or, if an HTTPS reverse proxy is in front of this server, pass --allow-http")


async def serve(
    *,
    host: str,
    port: int,
    token: str | None,
    store: str,
    workspace_root: str,
    model: str | None,
    heartbeat: float,
    cors_origins: list[str],
    out: Callable[[str], None],
    workshop: Workshop | None = None,
    workshop_file: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    allow_http: bool = False,
) -> int:
    """``workbench serve``: listen until SIGINT or SIGTERM, then stop gracefully. Returns the exit code.

    With ``workshop``, requests authenticate with the tokens of its people (instructors and
    participants) instead of ``token``. With ``ssl_context`` (see
    :func:`workbench.tls.server_context`) it serves HTTPS; off loopback, plain HTTP needs
    ``allow_http``.
    """
    import signal
    import sqlite3

    from workbench.agent.models import validate_model
    from workbench.serving.tokens import open_access, single_token

    tls = ssl_context is not None
    check_transport(host, tls=tls, allow_http=allow_http)
    if model is not None:
        validate_model(model)
    if workshop is not None:
        authenticate: Authenticator = workshop.principal_for
    else:
        authenticate = single_token(token) if token else open_access()
    try:
        service = RunService(store_path=store, workspace_root=workspace_root, default_model=model)
    except (OSError, sqlite3.Error) as exc:
        raise UserError(f"cannot open the run store {store}: {exc}") from None
    runner = make_runner(create_app(service, authenticate=authenticate, heartbeat=heartbeat, cors_origins=cors_origins))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    except OSError as exc:
        await runner.cleanup()
        out(f"workbench: error: cannot listen on {_url(host, port, tls)}: {exc.strerror or exc}")
        return 1
    bound = runner.addresses[0][1] if runner.addresses else port
    url = _url(host, bound, tls)
    out(f"Workbench server on {url}{API_PREFIX} (store: {store})")
    if workshop is not None:
        instructors = _count(len(workshop.instructors), "instructor")
        participants = _count(len(workshop.participants), "participant")
        out(f"Workshop mode ({workshop_file or 'workshop file'}): {instructors} and {participants} loaded. "
            "Each person sends their own token from the file: 'Authorization: Bearer <token>' "
            "('?token=<token>' on event streams only).")
        out("Instructors start and cancel runs; participants list, watch and download the instructors' runs.")
        out(f'From a notebook: import workbench as wb; wb.connect("{url}", token="<your token>"); '
            "then wb.runs() and wb.attach(run_id)")
    elif token:
        out("Requests need the token: 'Authorization: Bearer <token>' ('?token=<token>' on event streams only).")
        out(f'From a notebook: import workbench as wb; wb.connect("{url}", token="<token>")  '
            "(or set WORKBENCH_URL and WORKBENCH_TOKEN, then wb.connect())")
    else:
        out("No token: anyone who can connect to this machine's loopback address uses it as one local user. "
            "Set WORKBENCH_TOKEN or --token to require one.")
        out(f'From a notebook: import workbench as wb; wb.connect("{url}")')
    if tls:
        out("HTTPS: a client whose system does not trust the certificate's issuer (a self-signed or workshop CA) "
            "passes the CA's file: wb.connect(url, token=..., cafile='ca.pem'), or sets WORKBENCH_CA_BUNDLE.")
    out("Stop with Ctrl-C: live runs are marked interrupted.")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
            pass
    await stop.wait()
    out("Stopping: interrupting live runs and closing streams…")
    await runner.cleanup()
    out("Stopped.")
    return 0
