"""The HTTP contract in the Jupyter server: thin Tornado handlers over the shared :class:`RunService`.

Each handler authenticates (Jupyter's token or login cookie, XSRF on POST for cookie
clients), authorizes on the ``workbench`` resource, turns the request into one service
call and encodes the answer. Every refusal is JSON ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from http.client import responses
from typing import Any, Callable, cast

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import httputil, web
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

from workbench.serving import sse
from workbench.serving.client import CLIENT_HEADERS, CLIENT_PATH, client_source
from workbench.serving.service import Principal, Refusal, RunService, parse_body
from workbench.serving.web_assets import PAGE_HEADERS, WEB_PATH, asset_headers
from workbench_server_ext.host import ServiceHost

__all__ = ["API", "handlers"]

API = "workbench/api"
"""Where the routes live, under the server's ``base_url``."""

_RUN = r"(?P<run_id>[^/]+)"

_ERROR_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "too_many_requests",
    503: "unavailable",
}


class WorkbenchHandler(ExtensionHandlerMixin, APIHandler):
    """What every route shares: the service, the caller as a :class:`Principal`, JSON errors."""

    auth_resource = "workbench"

    @property
    def app(self) -> ServiceHost:
        # The mixin types it as any ExtensionApp; ours (app.WorkbenchApp) is a ServiceHost.
        return cast(ServiceHost, self.extensionapp)

    @property
    def service(self) -> RunService:
        service = self.app.current_service()
        if service is None:
            raise Refusal(503, "unavailable", self.app.unavailable)
        return service

    async def holding_run(self, run_id: str) -> RunService:
        """The service, with run ``run_id`` in memory: read from the store off the loop if need be."""
        service = self.service
        await service.prefetch(run_id)
        return service

    @property
    def principal(self) -> Principal:
        return self.app.principal(self.current_user)

    def body_json(self) -> Any:
        return parse_body(self.request.body or b"")

    def reply(self, status: int, payload: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    # --- errors: always the contract's JSON shape ----------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, Refusal):
            status, error_type, message = exc.status, exc.error_type, exc.message
        elif isinstance(exc, web.HTTPError) or exc is None:
            status = status_code
            error_type = _ERROR_TYPES.get(status, "http_error")
            if status == 403 and not self._logged_in():  # say so, whichever check (XSRF, login) came first
                # "unauthorized", as the standalone server's 401: the credentials, not the request, are wrong
                error_type = "unauthorized"
                message = "not logged in to Jupyter: send the server's token (Authorization: token …) or its login cookie"
            else:
                message = (exc.log_message if isinstance(exc, web.HTTPError) else None) or _default_message(self, status)
        else:  # a bug: say so without details (they are in the server log)
            status, error_type = 500, "internal_error"
            message = "the workbench failed unexpectedly; the Jupyter server log has the details"
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"type": error_type, "message": message}}))

    def _logged_in(self) -> bool:
        try:
            return bool(self.current_user)
        except RuntimeError:  # refused before Jupyter looked at the credentials
            return False

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Tornado's own lines quote the request's whole URI, and with it a '?token=' (right or wrong):
        # these name the path only, as jupyter_server's access log scrubs the query.
        method, path = self.request.method, self.request.path
        if isinstance(value, Refusal):  # a refusal, not a failure
            self.log.info("%s %s -> %d %s", method, path, value.status, value.message)
        elif isinstance(value, web.HTTPError):
            if value.log_message:  # e.g. the XSRF check of a POST
                self.log.warning("%d %s %s: " + value.log_message, value.status_code, method, path, *value.args)
        else:
            self.log.error("Uncaught exception in %s %s", method, path, exc_info=(typ, value, tb))


def _default_message(handler: WorkbenchHandler, status: int) -> str:
    if status == 404:
        return ("no such workbench route; see GET runs, POST runs, GET runs/{id}, runs/{id}/events, runs/{id}/log, "
                "POST runs/{id}/cancel, pause, resume, messages, fork, tools/{toolUseId}/decision")
    if status == 405:
        return f"{handler.request.method} is not allowed on this workbench route"
    return responses.get(status, "error")


class RunsHandler(WorkbenchHandler):
    """``POST /runs`` starts a run; ``GET /runs`` lists the caller's runs, newest first."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        service = self.service
        await service.load_agent()  # the first run, while the extension still loads it: off the loop
        run = service.create(self.principal, self.body_json())
        self.set_header("Location", f"{self.base_url}{API}/runs/{run.id}")
        self.reply(201, service.summary(run))

    @web.authenticated
    @authorized
    def get(self) -> None:
        limit, before = self.get_query_argument("limit", None), self.get_query_argument("before", None)
        self.reply(200, self.service.list(self.principal, limit=limit, before=before))


class RunHandler(WorkbenchHandler):
    """``GET /runs/{id}``: the summary and the folded state."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply(200, (await self.holding_run(run_id)).detail(self.principal, run_id))


class CancelHandler(WorkbenchHandler):
    """``POST /runs/{id}/cancel``: 202 with the summary; 409 once the run has ended."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        service = await self.holding_run(run_id)
        self.reply(202, service.summary(service.cancel(self.principal, run_id)))


class PauseHandler(WorkbenchHandler):
    """``POST /runs/{id}/pause``: 202 with the summary; the run holds at its next turn boundary."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        service = await self.holding_run(run_id)
        self.reply(202, await service.answer(service.pause(self.principal, run_id, self.request.body or b"")))


class ResumeHandler(WorkbenchHandler):
    """``POST /runs/{id}/resume`` with ``{step?}``: 202; 409 unless the run is paused."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        service = await self.holding_run(run_id)
        self.reply(202, await service.answer(service.resume(self.principal, run_id, self.request.body or b"")))


class DecisionHandler(WorkbenchHandler):
    """``POST /runs/{id}/tools/{toolUseId}/decision`` with ``{decision, params?, note?}``: 202."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str, tool_use_id: str) -> None:
        service = await self.holding_run(run_id)
        run = service.decide(self.principal, run_id, tool_use_id, self.request.body or b"")
        self.reply(202, await service.answer(run))


class MessagesHandler(WorkbenchHandler):
    """``POST /runs/{id}/messages`` with ``{text}``: 202; the model reads it at its next turn."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        service = await self.holding_run(run_id)
        self.reply(202, await service.answer(service.say(self.principal, run_id, self.request.body or b"")))


class ForkHandler(WorkbenchHandler):
    """``POST /runs/{id}/fork`` with ``{at, model?, options?, edits?}``: 201 with the new run's summary."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        service = await self.holding_run(run_id)
        await service.load_agent()
        run = service.fork(self.principal, run_id, self.body_json())
        self.set_header("Location", f"{self.base_url}{API}/runs/{run.id}")
        self.reply(201, service.summary(run))


class LogHandler(WorkbenchHandler):
    """``GET /runs/{id}/log``: the run file (JSON Lines), streamed."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        chunks = (await self.holding_run(run_id)).run_file(self.principal, run_id)
        first = next(chunks)  # the header; raises the 404 before anything is sent
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Content-Disposition", f'attachment; filename="{run_id}.jsonl"')
        self.write(first)
        try:
            for chunk in chunks:
                self.write(chunk)
                await self.flush()
        except StreamClosedError:  # the client went away
            return
        self.finish(set_content_type="application/x-ndjson")


class EventsHandler(WorkbenchHandler):
    """``GET /runs/{id}/events``: the run as Server-Sent Events, resumable with ``Last-Event-ID``."""

    _streaming: asyncio.Task[Any] | None = None
    """The task serving the request (Tornado's own), while it streams."""
    _client_gone = False
    """Set when the client went away and :meth:`on_connection_close` cancelled the stream."""
    _stalled = False
    """Set when the stream let its client go for taking nothing for :data:`~workbench.serving.sse.SEND_TIMEOUT`."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        service = await self.holding_run(run_id)
        run = service.get(self.principal, run_id)
        chunks = service.event_stream(run, self.request.headers.get("Last-Event-ID"),
                                      self.get_query_argument("after", None),
                                      self.get_query_argument("profile", None), heartbeat=self.app.heartbeat_seconds)
        if chunks is None:
            self.set_status(204)  # nothing after the end: a browser's EventSource stops reconnecting
            self.finish()
            return
        for name, value in sse.HEADERS.items():
            self.set_header(name, value)
        self._transforms = []  # never gzip an event stream (compress_response), nothing may buffer it
        # A client going away cancels the stream at once (on_connection_close), even while it waits
        # for the next event, which also drops its waiter on the log. It streams in the request's own
        # task, not one of its own: a thousand idle streams would hold a thousand more tasks.
        task = self._streaming = asyncio.current_task()
        self.app.streams.add(self)
        restore = _drop_when_unacknowledged(_socket_of(self.request.connection), sse.SEND_TIMEOUT)
        try:
            await self._send(chunks)
        except asyncio.CancelledError:
            if not self._client_gone or task is None:
                raise
            task.uncancel()  # our own cancellation, done with: the request ends as the client did
        finally:
            self._streaming = None
            self.app.streams.discard(self)
            restore()
            if self._stalled or _lost_to_timeout(self.request.connection):
                service.meter.dropped += 1

    async def _send(self, chunks: Any) -> None:
        try:
            async for chunk in chunks:
                flushed = self._write_now(chunk)
                del chunk  # in Tornado's buffer now: not held while the stream waits for the next one
                if flushed.done():  # the socket took it all at once, as it mostly does: no timer needed
                    flushed.result()  # raises StreamClosedError if the client has gone
                else:
                    async with asyncio.timeout(sse.SEND_TIMEOUT):
                        await flushed
                del flushed  # nor a future per stream while it waits
        except StreamClosedError:
            pass
        except TimeoutError:  # the client stopped reading: let it go (it can resume from its last id)
            self._stalled = True
            self.log.info("workbench: dropped an event stream whose client took nothing for %g s", sse.SEND_TIMEOUT)
            if isinstance(connection := self.request.connection, HTTP1Connection):
                connection.close()
        finally:
            await chunks.aclose()

    def _write_now(self, chunk: bytes) -> asyncio.Future[None]:
        """Write ``chunk`` and flush it: the first one (with the headers) as any response, the
        others straight to the connection. They are ready bytes, and ``RequestHandler.write`` and
        ``flush`` would only add their checks and a new buffer list per chunk, for every stream."""
        if self._headers_written:
            connection = self.request.connection
            assert connection is not None
            return connection.write(chunk)
        self.write(chunk)
        flushed = self.flush()
        self._release_headers()
        return flushed

    def _release_headers(self) -> None:
        """Once the response's headers are written, let go of what made them, which Tornado reads only
        until then and a stream would otherwise hold for its whole life (about 2.5 KB): the
        headers themselves, and the login cookie Jupyter sets on every request authenticated by token."""
        if self._headers_written and self._headers:
            self._headers = httputil.HTTPHeaders()
            self.__dict__.pop("_new_cookie", None)

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self._streaming is not None and not self._client_gone:
            self._client_gone = True
            self._streaming.cancel()


_TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", None)  # Linux


def _socket_of(connection: object) -> socket.socket | None:
    """The socket under a request's connection (Tornado's server makes HTTP1Connections only)."""
    return connection.stream.socket if isinstance(connection, HTTP1Connection) else None


def _lost_to_timeout(connection: object) -> bool:
    """Whether the kernel let the connection go because what was sent went unacknowledged."""
    return isinstance(connection, HTTP1Connection) and isinstance(connection.stream.error, TimeoutError)


def _drop_when_unacknowledged(sock: socket.socket | None, seconds: float) -> Callable[[], None]:
    """Have the kernel drop the connection when what was sent stays unacknowledged for ``seconds``.

    A client that vanished without closing (a laptop gone to sleep) is then let go even while
    its stream only carries keep-alives, which never fill the buffers enough to stall a write
    (aiohttp-sse does the same for the standalone server). Returns what puts the setting back,
    for the keep-alive connection's next request.
    """
    if _TCP_USER_TIMEOUT is None or sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return lambda: None
    try:
        saved = sock.getsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT, int(seconds * 1000))
    except OSError:
        return lambda: None

    def restore() -> None:
        if sock.fileno() >= 0:  # not once the connection is closed
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT, saved)

    return restore


class MarkdownHandler(WorkbenchHandler):
    """``GET /runs/{id}/markdown?from=&to=``: the sanitized HTML of the run's messages and result (the web view's)."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        from workbench.notebook.web.assets import WEB_VIEW

        events = (await self.holding_run(run_id)).events_between(
            self.principal, run_id, self.get_query_argument("from", None), self.get_query_argument("to", None))
        self.reply(200, {"html": await asyncio.to_thread(WEB_VIEW.markdown, events)})


class MeHandler(WorkbenchHandler):
    """``GET /me``: who the Jupyter user is here and what they may do (the web view shows only that)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.reply(200, RunService.whoami(self.principal))


class MetricsHandler(WorkbenchHandler):
    """``GET /metrics``: the connection metrics, in the Prometheus text format."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        body, content_type = self.service.scrape_metrics()
        self.finish(body, set_content_type=content_type)  # APIHandler's finish sets it


def _not_found() -> Any:
    # A fresh function per method: @authorized settles its action on first use.
    @web.authenticated
    @authorized
    def method(self: WorkbenchHandler, *args: Any) -> None:
        raise web.HTTPError(404)

    return method


class NotFoundHandler(WorkbenchHandler):
    """Anything else under ``workbench/api``: the contract's JSON 404 (after authentication)."""

    get, post, put, patch, delete = (_not_found() for _ in range(5))


class ClientHandler(JupyterHandler):
    """``{base_url}workbench/client/follow_run.js``: the JavaScript client, a static file of the
    package (:mod:`workbench.serving.client`), served without Jupyter's login, as Jupyter's own static files are."""

    @allow_unauthenticated
    def get(self) -> None:
        for name, value in CLIENT_HEADERS.items():
            self.set_header(name, value)
        self.finish(client_source())


class WebPageHandler(ExtensionHandlerMixin, JupyterHandler):
    """``{base_url}workbench/``: the web view of runs, behind Jupyter's login (a browser that is not
    logged in is sent to the login page); its requests go to the API above with Jupyter's cookie."""

    auth_resource = "workbench"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        if not self.request.path.endswith("/"):  # the page's URLs are relative to workbench/
            self.redirect(self.request.path + "/", permanent=False)
            return
        self.xsrf_token  # noqa: B018  # sets the _xsrf cookie the page's POSTs send back
        from workbench.notebook.web.assets import WEB_VIEW  # the widget's modules, on the first request only

        page = await asyncio.to_thread(WEB_VIEW.page, "jupyter")  # the first imports the widget: off the loop
        for name, value in PAGE_HEADERS.items():
            self.set_header(name, value)
        self.finish(page)


class WebAssetHandler(JupyterHandler):
    """``{base_url}workbench/web/<file>``: the web view's modules and style sheets, static files of
    the package with no data in them, served without Jupyter's login as Jupyter's own static files are."""

    @allow_unauthenticated
    async def get(self, name: str) -> None:
        from workbench.notebook.web.assets import WEB_VIEW

        body = await asyncio.to_thread(WEB_VIEW.asset, name)
        if body is None:
            raise web.HTTPError(404)
        for header, value in asset_headers(name).items():
            self.set_header(header, value)
        self.finish(body)


def handlers() -> list[tuple[str, type[JupyterHandler]]]:
    """The routes, relative to the server's ``base_url``."""
    return [
        (rf"/{API}/runs", RunsHandler),
        (rf"/{API}/runs/{_RUN}", RunHandler),
        (rf"/{API}/runs/{_RUN}/cancel", CancelHandler),
        (rf"/{API}/runs/{_RUN}/pause", PauseHandler),
        (rf"/{API}/runs/{_RUN}/resume", ResumeHandler),
        (rf"/{API}/runs/{_RUN}/tools/(?P<tool_use_id>[^/]+)/decision", DecisionHandler),
        (rf"/{API}/runs/{_RUN}/messages", MessagesHandler),
        (rf"/{API}/runs/{_RUN}/fork", ForkHandler),
        (rf"/{API}/runs/{_RUN}/events", EventsHandler),
        (rf"/{API}/runs/{_RUN}/log", LogHandler),
        (rf"/{API}/runs/{_RUN}/markdown", MarkdownHandler),
        (rf"/{API}/me", MeHandler),
        (rf"/{API}(?:/.*)?", NotFoundHandler),
        (r"/workbench/metrics", MetricsHandler),
        (rf"/workbench/{CLIENT_PATH}", ClientHandler),
        (rf"/workbench/{WEB_PATH}/(?P<name>[^/]+)", WebAssetHandler),
        (r"/workbench/?", WebPageHandler),
    ]
