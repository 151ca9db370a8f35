"""What the standalone server's parts share through aiohttp: the keys of its app and requests, where
the API lives, and the name of the one route that takes a token in its URL."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from workbench.serving.service import Principal, RunService
from workbench.serving.tokens import Authenticator
from workbench.serving.web_assets import WebAssets

API_PREFIX = "/api"
"""Where the API's routes are (the Jupyter extension's are under ``{base_url}workbench/api``)."""

SERVICE = web.AppKey("workbench.service", RunService)
AUTHENTICATE: web.AppKey[Authenticator] = web.AppKey("workbench.authenticate")
HEARTBEAT = web.AppKey("workbench.heartbeat", float)
OPEN = web.AppKey("workbench.open", bool)
CORS_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("workbench.cors_origins")
STREAMS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("workbench.streams")
WEB: web.AppKey[WebAssets] = web.AppKey("workbench.web_view")
PRINCIPAL = web.RequestKey("workbench.principal", Principal)

CLIENT_ROUTE = "client"
"""The one route that needs no token: the JavaScript client, a static file of the package."""

PUBLIC_ROUTES = ("web_page", "web_asset")
"""The web view's page and files: static, with no data, needed before the page has a token."""

EVENTS_ROUTE = "events"
"""The one route that takes ``?token=``: an ``EventSource`` cannot set headers."""
