"""``workbench serve``: the standalone server on a host and port until SIGINT or SIGTERM, and the
refusal of plain HTTP off loopback."""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Callable

from aiohttp import web

from workbench.errors import UserError
from workbench.serving.app_keys import API_PREFIX
from workbench.serving.connections import make_runner
from workbench.serving.middleware import is_loopback
from workbench.serving.service import RunService
from workbench.serving.standalone import create_app
from workbench.serving.tokens import Authenticator
from workbench.serving.web_assets import WebAssets

if TYPE_CHECKING:
    from workbench.serving.redis_settings import RedisSettings
    from workbench.serving.workshop import Workshop

__all__ = ["check_transport", "serve"]


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
    web_view: WebAssets | None = None,
    redis: RedisSettings | None = None,
    with_worker: bool = False,
    otel: bool = False,
    max_runs_per_user: int = 4,
) -> int:
    """``workbench serve``: listen until SIGINT or SIGTERM, then stop gracefully. Returns the exit code.

    With ``workshop``, requests authenticate with the tokens of its people (instructors and
    participants) instead of ``token``. With ``ssl_context`` (see
    :func:`workbench.tls.server_context`) it serves HTTPS; off loopback, plain HTTP needs
    ``allow_http``. With ``web_view``, ``/`` is the web view of runs. With ``otel``, every run is
    sent as an OpenTelemetry trace once it ends (:mod:`workbench.core.otel`).
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
    worker_task: asyncio.Task[None] | None = None
    stop_worker = asyncio.Event()
    if redis is not None:
        from workbench.serving.redis_store import RedisRunStore

        shared = RedisRunStore(redis, asyncio.get_running_loop())
        service = RunService(store=shared, dispatcher=shared, workspace_root=workspace_root, default_model=model,
                             otel=otel, max_runs_per_user=max_runs_per_user)
        store = redis.url + (f", archive: {redis.archive}" if redis.archive else "")
        if with_worker:
            from pathlib import Path

            from workbench.serving.worker import Worker

            worker = Worker(redis, workspace_root=Path(workspace_root), default_model=model)
            worker_task = asyncio.create_task(worker.run(stop_worker))
    else:
        try:
            service = RunService(store_path=store, workspace_root=workspace_root, default_model=model, otel=otel,
                                 max_runs_per_user=max_runs_per_user)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the run store {store}: {exc}") from None
    runner = make_runner(create_app(service, authenticate=authenticate, heartbeat=heartbeat, cors_origins=cors_origins,
                                    web_view=web_view))
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
    if web_view is not None:
        out(f"Watch runs in a browser: {url}/" + (" (it asks for the token once)" if token or workshop else ""))
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
    if worker_task is not None:
        stop_worker.set()
        await worker_task
    out("Stopped.")
    return 0
