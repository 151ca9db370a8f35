"""How the standalone server's connections are handled: the answers to requests aiohttp's HTTP parser
refuses (as the contract's JSON errors too), an access log without query strings, and the runner
that puts them together (:func:`make_runner`)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from workbench.serving.middleware import error_response
from workbench.serving.service import Refusal

__all__ = ["make_runner", "lost_to_timeout"]

MAX_URL_BYTES = 8190
"""The longest URL (path and query) a request may have: aiohttp's limit; longer gets a 414."""
MAX_HEADER_BYTES = 16384
"""The longest header (name and value) a request may have; longer, or more than
:data:`MAX_HEADERS` headers, gets a 431. It differs from :data:`MAX_URL_BYTES`, which
is how the two refusals of aiohttp's parser are told apart."""
MAX_HEADERS = 128
"""The most headers a request may have: aiohttp's limit."""


def make_runner(app: web.Application, *, shutdown_timeout: float = 5.0) -> web.AppRunner:
    """An AppRunner that cancels a handler whose client went away, never logs query strings and
    answers requests its HTTP parser refuses with the contract's JSON errors too."""
    return _Runner(app, handle_signals=False, handler_cancellation=True, access_log_class=_AccessLogger,
                   shutdown_timeout=shutdown_timeout, max_line_size=MAX_URL_BYTES,
                   max_field_size=MAX_HEADER_BYTES, max_headers=MAX_HEADERS)


class _RequestHandler(web.RequestHandler):
    """aiohttp's connection handler, whose answers to what its parser refuses (an oversized URL or
    header, bytes that are not HTTP) are the contract's JSON errors rather than aiohttp's text.

    Those answers never reach the middlewares; ``handle_error`` is where aiohttp builds them.
    """

    __slots__ = ("lost_to",)

    def connection_lost(self, exc: BaseException | None) -> None:
        # Kept for the handler it cancels, which is told only CancelledError (see lost_to_timeout).
        self.lost_to = exc
        super().connection_lost(exc)

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
        response = error_response(error)
        response.force_close()
        return response


def lost_to_timeout(request: web.BaseRequest) -> bool:
    """Whether the request's connection was lost because what was sent went unacknowledged: the
    kernel let a client go that took nothing (``TCP_USER_TIMEOUT``, which aiohttp-sse sets)."""
    return isinstance(getattr(request.protocol, "lost_to", None), TimeoutError)


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
