"""What every request of the standalone server passes before its handler: CORS, the contract's JSON
errors, the guard against other sites' pages (DNS rebinding, cross-site POSTs), and authentication."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

from workbench.core.redact import get_logger
from workbench.serving.app_keys import (
    API_PREFIX,
    AUTHENTICATE,
    CLIENT_ROUTE,
    CORS_ORIGINS,
    EVENTS_ROUTE,
    OPEN,
    PRINCIPAL,
    PUBLIC_ROUTES,
)
from workbench.serving.service import Refusal, too_large

__all__ = ["MIDDLEWARES", "cors_headers", "error_response", "is_loopback"]

log = get_logger("workbench.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS preflight for allowed origins; everything else goes on (headers: :func:`cors_headers`)."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS" and origin is not None and "Access-Control-Request-Method" in request.headers:
        if origin.rstrip("/") not in request.app[CORS_ORIGINS]:
            return error_response(Refusal(403, "forbidden", "this origin may not use the API; the server "
                                                             "allows the origins given with --cors-origin"))
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        })
    return await handler(request)


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: let an allowed origin read the answer (and say answers vary by origin)."""
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
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http_exception(request, exc), headers=_allow_header(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(Refusal(500, "internal_error", "the server failed on this request; "
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (literal loopback addresses and localhost)."""
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.route.name in (CLIENT_ROUTE, *PUBLIC_ROUTES):  # static files of the package, needed before any token
        return await handler(request)
    principal = request.app[AUTHENTICATE](_presented_token(request))
    if principal is None:
        raise Refusal(401, "unauthorized", "missing or wrong token: send 'Authorization: Bearer <token>' "
                                            "(or '?token=<token>' on an event stream, where headers cannot be set)")
    request[PRINCIPAL] = principal
    return await handler(request)


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


def error_response(error: Refusal, headers: dict[str, str] | None = None) -> web.Response:
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


MIDDLEWARES = (_preflight, _errors, _guard, _authenticate)
"""In this order: a preflight is answered before anything else; every refusal after it is JSON."""
