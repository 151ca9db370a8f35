"""The workbench as a Jupyter server extension: one :class:`RunService`, configured by traits."""

from __future__ import annotations

import asyncio
import gc
import getpass
import os
import sqlite3
import time
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.auth.identity import (
    IdentityProvider,
    LegacyIdentityProvider,
    PasswordIdentityProvider,
)
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, TraitError, Unicode, default, validate

from workbench.agent.tools import BUILTIN_TOOL_NAMES
from workbench.core.redact import register_secret
from workbench.core.store import StoreInUse, describe
from workbench.errors import UserError
from workbench.serving.service import Principal, RunService
from workbench_server_ext.handlers import handlers

__all__ = ["WorkbenchApp"]

_SINGLE_CREDENTIAL_PROVIDERS = (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)
"""jupyter_server's own providers: one token or password, held by one person."""


class WorkbenchApp(ExtensionApp):
    """Runs agents in the Jupyter server and serves the workbench HTTP contract under ``workbench/api``."""

    name = "workbench"
    description = "Agent Workbench: runs that outlive kernels, streamed over SSE"
    load_other_extensions = True

    default_model = Unicode(
        "",
        config=True,
        help="Model of runs that name none: 'simulated' or a Claude model id. "
        "Empty: the simulator without ANTHROPIC_API_KEY, else claude-sonnet-4-6 (or $WORKBENCH_MODEL).",
    )
    store_path = Unicode(
        config=True,
        help="SQLite file holding every run and its events; default <jupyter data dir>/workbench/runs.db.",
    )
    workspace_root = Unicode(
        config=True,
        help="Folder under which each run gets its workspace (<root>/<user>/<run id>); "
        "default <jupyter data dir>/workbench/workspaces.",
    )
    redis_url = Unicode(
        config=True,
        help="Share runs through Redis (redis://host:6379/0): this server then queues runs for `workbench worker` "
        "processes and serves the runs of every server sharing that Redis (README: Scaling out). "
        "Default: $WORKBENCH_REDIS_URL; empty: runs execute here, stored in store_path.",
    )
    redis_archive = Unicode(
        config=True,
        help="With redis_url: a SQLite file where every ended run is kept for good, and read back from once "
        "Redis no longer has it (an ended run expires from Redis with `workbench worker --ended-ttl`). Give the "
        "workers the same file (--archive). Default: $WORKBENCH_ARCHIVE; empty: no archive.",
    )
    heartbeat_seconds = Float(
        15.0,
        config=True,
        help="Seconds an event stream may stay idle before a ': keep-alive' comment goes out.",
    )
    max_runs_per_user = Int(4, config=True, help="Runs one user may have going at once.")
    allowed_tools = List(
        Unicode(),
        default_value=list(BUILTIN_TOOL_NAMES),
        config=True,
        help="Built-in tools runs started over HTTP may use (and get when they name none).",
    )
    per_user_runs = Bool(
        None,
        allow_none=True,
        config=True,
        help="Keep each Jupyter user's runs apart, by User.username. Default (None): yes when the "
        "server's IdentityProvider names its users (JupyterHub, a custom provider); no for jupyter_server's "
        "own token/password providers, whose users are anonymous per browser session, so every holder "
        "of the one token or password owns all runs.",
    )

    otel = Bool(
        False,
        config=True,
        help="Send every run as an OpenTelemetry trace (GenAI semantic conventions) once it ends, over "
        "OTLP/HTTP to the endpoint the standard environment names (OTEL_EXPORTER_OTLP_ENDPOINT, "
        "OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME); WORKBENCH_OTEL=1 does the same. Needs the "
        "package's 'otel' extra.",
    )

    freeze_startup_objects = Bool(
        True,
        config=True,
        help="Once the server has started, leave the objects alive then (modules, classes, the server's "
        "own state: some 300,000 in a Jupyter server) out of Python's garbage collection with gc.freeze(). "
        "Every full collection otherwise walks them all, a pause of about 100 ms during which no event "
        "stream moves. The cost: a start-up object that later becomes cyclic garbage is never freed.",
    )

    young_collection_threshold = Int(
        10_000,
        config=True,
        help="Once the server has started, let this many new objects accumulate before Python's garbage "
        "collector collects its youngest generation (gc.set_threshold's first value; Python's own is 700, "
        "which is kept if this is lower). Every event stream waiting for the next event holds a few objects "
        "(a future, a coroutine): at 700, a run streamed to 1,000 clients made a young collection every 50 to 100 "
        "streams, each moving those waits into an older generation, and so a full collection, some "
        "100 ms with no stream moving, every second or two. The cost: cyclic garbage is collected less often.",
    )

    @validate("heartbeat_seconds")
    def _valid_heartbeat(self, proposal: Any) -> float:
        if not proposal["value"] > 0:
            raise TraitError(f"heartbeat_seconds must be more than 0 seconds, not {proposal['value']}")
        return float(proposal["value"])

    @default("redis_url")
    def _default_redis_url(self) -> str:
        return os.environ.get("WORKBENCH_REDIS_URL", "")

    @default("redis_archive")
    def _default_redis_archive(self) -> str:
        return os.environ.get("WORKBENCH_ARCHIVE", "")

    @default("store_path")
    def _default_store_path(self) -> str:
        return os.path.join(jupyter_data_dir(), "workbench", "runs.db")

    @default("workspace_root")
    def _default_workspace_root(self) -> str:
        return os.path.join(jupyter_data_dir(), "workbench", "workspaces")

    service: RunService | None = None
    unavailable = "the workbench is shutting down; try again when the server is back"
    """Why there is no service, for the routes' 503."""
    REOPEN_SECONDS = 5.0
    """How often a request may try again to open a store that could not be opened (a full disk)."""
    _reopen_after: float | None = None

    def initialize_settings(self) -> None:
        # Created (and the store recovered) before the server takes requests; the service starts
        # each run on the loop of the request that asks, which is the server's loop.
        self.streams: set[Any] = set()
        """The event streams being served right now (their handlers); tests check it empties."""
        if self.serverapp is not None:  # always set once the server loads its extensions
            register_secret(getattr(self.serverapp.identity_provider, "token", None))  # never in an event
        self._open_service()

    def _open_service(self) -> None:
        try:
            shared = self._redis_store()
            self.service = RunService(
                store_path=None if shared is not None else self.store_path,
                store=shared,
                dispatcher=shared,
                workspace_root=self.workspace_root,
                default_model=self.default_model or None,
                max_runs_per_user=self.max_runs_per_user,
                allowed_tools=list(self.allowed_tools),
                otel=self.otel,
            )
        except (StoreInUse, UserError) as exc:  # the rest of the server still works; the routes say why they can't
            self.unavailable = str(exc)
            self.log.error("workbench: not serving runs: %s", exc)
        except (OSError, sqlite3.Error) as exc:  # e.g. a full disk: the routes answer 503 in JSON, not Jupyter's 404 page
            self.unavailable = (f"the workbench cannot open its run store ({describe(exc)}); is its disk full? "
                                "It tries again on the next request once a few seconds have passed")
            self.log.error("workbench: not serving runs: cannot open the run store %s: %s", self.store_path, exc)
        else:
            self._reopen_after = None
            self.log.info("workbench: runs %s", f"shared through Redis at {self.redis_url}" if self.redis_url
                          else f"stored in {self.store_path}")
            return
        self._reopen_after = time.monotonic() + self.REOPEN_SECONDS

    def _redis_store(self) -> Any:
        """The Redis store runs are shared through (``redis_url``), or None; imported only when set."""
        if not self.redis_url:
            return None
        from workbench.serving.redis_settings import RedisSettings
        from workbench.serving.redis_store import RedisRunStore

        # The server's loop: extensions initialize before it runs, and the store follows runs on it.
        return RedisRunStore(RedisSettings(url=self.redis_url, archive=self.redis_archive or None),
                             asyncio.get_event_loop())

    def current_service(self) -> RunService | None:
        """The service; when its store could not be opened, a new attempt now and then (space may be back)."""
        if self.service is None and self._reopen_after is not None and time.monotonic() >= self._reopen_after:
            self._open_service()
        return self.service

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    def principal(self, user: Any) -> Principal:
        """The owner of the runs an authenticated Jupyter user starts and sees."""
        per_user = self.per_user_runs
        if per_user is None:
            provider = getattr(self.serverapp, "identity_provider", None)
            per_user = type(provider) not in _SINGLE_CREDENTIAL_PROVIDERS
        if per_user:
            return Principal(user.username)
        return Principal(_server_owner())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # jupyter_server's hook once every extension is loaded and the loop runs (the server is
        # already answering requests). The extension imported neither the agent nor the anthropic
        # SDK, so that the server starts fast; load them now, in a worker thread, so that the first
        # run does not import them on the loop and stall every stream for seconds.
        if self.service is not None:
            await self.service.load_agent()
        # The server's start-up objects exist by now, the SDK's modules among them (other
        # extensions' start hooks may still be going).
        if self.freeze_startup_objects and self.service is not None:  # nothing to stream for otherwise
            gc.collect()  # what is garbage now would otherwise be frozen with the rest
            gc.freeze()
            self.log.info("workbench: %d start-up objects left out of garbage collection "
                          "(WorkbenchApp.freeze_startup_objects)", gc.get_freeze_count())
        young, older, oldest = gc.get_threshold()
        if self.service is not None and 0 < young < self.young_collection_threshold:  # 0: collection is off
            gc.set_threshold(self.young_collection_threshold, older, oldest)

    async def stop_extension(self) -> None:
        """Interrupt live runs (each gets its terminal event, so streams end) and flush the store."""
        service, self.service, self._reopen_after = self.service, None, None
        if service is not None:
            await service.close()


def _server_owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (some containers)
        return "jupyter"
