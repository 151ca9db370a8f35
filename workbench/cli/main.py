"""The ``workbench`` command: run a task, replay a run file, serve the HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from workbench.errors import UserError

if TYPE_CHECKING:
    from workbench.cli.terminal import TerminalView
    from workbench.core.handle import Run
    from workbench.serving.redis_settings import RedisSettings

# The commands import what they use (the agent and its SDK, the servers) when they run, so that
# `workbench --help` and a mistyped command answer at once.

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Watch and study LLM agents.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a task and show it live", description="Run a task and show it live.")
    run.add_argument("task", help="what the agent should do")
    run.add_argument("--model", help="'simulated' (offline) or a Claude model id; default: simulated without a key")
    run.add_argument("--strategy", choices=["plan", "react"], default="plan")
    run.add_argument("--save", metavar="FILE", type=Path, help="write the run file here (also when it fails or is cancelled)")
    run.add_argument("--scenario", metavar="FILE", help="scenario file for the simulated model")
    run.add_argument("--pace", type=float, default=None, help="simulated model: deltas per second (0: instant)")
    run.add_argument("--seed", type=int, default=None, help="simulated model: vary the generic scenario")
    run.add_argument("--workspace", metavar="DIR", help="folder for the agent's files")
    run.add_argument("--approve", metavar="TOOL", nargs="+", action="extend", default=[],
                     help="ask before each call of these tools ('all': every tool): y runs it, n denies it, "
                          "e edits its params in $EDITOR")
    run.add_argument("--break", dest="breaks", metavar="WHERE", nargs="+", action="extend", default=[],
                     help="pause before every model call ('model'), tool call ('tool') or call of a named tool, "
                          "and wait for Enter")

    replay = commands.add_parser("replay", help="re-stream a saved run", description="Re-stream a saved run file.")
    replay.add_argument("file", type=Path)
    replay.add_argument("--speed", type=float, default=1.0, help="times faster than recorded (0: instant)")

    serve = commands.add_parser(
        "serve", help="serve the workbench HTTP API (standalone server)",
        description="Serve the workbench HTTP API under /api. Without a token (or a workshop file) it only listens "
        "on loopback. Off loopback it serves HTTPS (--certfile), or plain HTTP with --allow-http only.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    serve.add_argument("--token", help="token clients must send (default: $WORKBENCH_TOKEN, which other users "
                       "cannot read in the process list); required off loopback, unless --workshop gives the tokens")
    serve.add_argument("--workshop", metavar="FILE",
                       help="workshop mode: the people (instructors and participants) and their tokens, from a TOML "
                       "file (see workbench.serving.workshop); instead of --token, and allowed off loopback")
    serve.add_argument("--store", metavar="PATH", help="SQLite file of runs (default: $WORKBENCH_HOME/server/runs.db)")
    serve.add_argument("--workspace-root", metavar="DIR",
                       help="folder of the runs' workspaces (default: $WORKBENCH_HOME/server/workspaces)")
    serve.add_argument("--model", help="model of runs that name none (default: simulated without a key)")
    serve.add_argument("--heartbeat", type=float, default=15.0, help="seconds of idle stream before a keep-alive")
    serve.add_argument("--max-runs-per-user", type=int, default=4, metavar="N",
                       help="runs one user may have going at once; with --redis, on every replica together (default: 4)")
    serve.add_argument("--certfile", metavar="FILE",
                       help="serve HTTPS with this PEM certificate (the server's first, then any intermediates); "
                       "it may hold the private key too")
    serve.add_argument("--keyfile", metavar="FILE", help="the certificate's PEM private key, unless --certfile holds it")
    serve.add_argument("--allow-http", action="store_true",
                       help="serve plain HTTP off loopback, for a server behind an HTTPS reverse proxy (otherwise "
                       "refused: tokens and runs would cross the network readable)")
    serve.add_argument("--cors-origin", metavar="ORIGIN", nargs="+", action="extend", default=[],
                       help="browser origins allowed to call the API, e.g. http://localhost:3000 (default: none)")
    serve.add_argument("--otel", action="store_true",
                       help="send every run as an OpenTelemetry trace (GenAI conventions) once it ends, over OTLP/HTTP "
                            "to $OTEL_EXPORTER_OTLP_ENDPOINT (as WORKBENCH_OTEL=1 does); needs the 'otel' extra")
    serve.add_argument("--redis", metavar="URL", default=None,
                       help="share runs through Redis (default: $WORKBENCH_REDIS_URL): this server then queues runs for "
                       "`workbench worker` processes and serves any run of any replica; see 'Scaling out' in the README")
    serve.add_argument("--worker", action="store_true",
                       help="with --redis: also execute runs in this process, as a `workbench worker` does")
    _redis_arguments(serve)

    worker = commands.add_parser(
        "worker", help="execute the runs queued in Redis by `workbench serve --redis`",
        description="Execute runs that `workbench serve --redis` replicas queue, and take over the runs of workers "
        "that stopped. Stop with Ctrl-C: its runs go to the other workers.")
    worker.add_argument("--redis", metavar="URL", default=None, help="Redis URL (default: $WORKBENCH_REDIS_URL)")
    worker.add_argument("--workspace-root", metavar="DIR",
                        help="folder of the runs' workspaces (default: $WORKBENCH_HOME/worker/workspaces)")
    worker.add_argument("--model", help="model of runs that name none (default: simulated without a key)")
    worker.add_argument("--max-runs", type=int, default=8, help="runs executed at once, at most (default: 8)")
    worker.add_argument("--name", help="this worker's name in the consumer group (default: host-pid)")
    _redis_arguments(worker)
    return parser


def _redis_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claim-idle", type=float, default=15.0, metavar="SECONDS",
                        help="seconds a worker may be silent before another takes over its runs (default: 15)")
    parser.add_argument("--max-attempts", type=int, default=3,
                        help="executions of one run at most before it ends with execution:error (default: 3)")
    parser.add_argument("--ended-ttl", type=float, default=None, metavar="SECONDS",
                        help="keep ended runs in Redis this long (default: for good)")
    parser.add_argument("--redis-prefix", default="wb", help="prefix of every Redis key (default: wb)")
    parser.add_argument("--archive", metavar="PATH", default=None,
                        help="SQLite file keeping every ended run for good, read once Redis lets it go "
                             "(see --ended-ttl); the same file for every replica and worker (default: $WORKBENCH_ARCHIVE)")


def _redis_settings(args: argparse.Namespace) -> RedisSettings | None:
    url = args.redis or os.environ.get("WORKBENCH_REDIS_URL") or None
    if url is None:
        return None
    try:
        from workbench.serving.redis_settings import RedisSettings
    except ImportError:
        raise UserError("--redis needs the redis package: pip install 'agent-workbench[redis]'") from None
    return RedisSettings(url=url, prefix=args.redis_prefix, ended_ttl=args.ended_ttl, claim_idle=args.claim_idle,
                         max_attempts=args.max_attempts, archive=args.archive or os.environ.get("WORKBENCH_ARCHIVE") or None)


async def _worker_command(args: argparse.Namespace, view: TerminalView) -> int:
    from workbench.core.home import workbench_home

    settings = _redis_settings(args)
    if settings is None:
        raise UserError("workbench worker needs --redis URL (or $WORKBENCH_REDIS_URL)")
    if args.max_runs < 1:
        raise UserError("--max-runs must be at least 1")
    import logging

    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("workbench").setLevel(logging.INFO)
    from workbench.serving.worker import Worker

    workspaces = Path(args.workspace_root) if args.workspace_root else workbench_home() / "worker" / "workspaces"
    worker = Worker(settings, workspace_root=workspaces, name=args.name, max_runs=args.max_runs, default_model=args.model)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"Workbench worker {worker.name} on {settings.url} (up to {args.max_runs} runs at once)", flush=True)
    await worker.run(stop)
    print("Stopped.", flush=True)
    return EXIT_OK


async def _run_command(args: argparse.Namespace, view: TerminalView) -> int:
    try:
        args.task.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 in argv: no event or run file could hold them
        shown = os.fsencode(args.task).decode("utf-8", "backslashreplace")
        raise UserError(f"the task is not valid UTF-8 text (it reads '{shown}'); pass the task as UTF-8") from None
    from workbench.cli.asking import TerminalAsker, breakpoint_options

    options: dict[str, object] = {}
    for key, value in (("scenario", args.scenario), ("pace", args.pace), ("seed", args.seed), ("workspace", args.workspace)):
        if value is not None:
            options[key] = value
    if args.approve:
        options["approve"] = "all" if "all" in args.approve else args.approve
    if args.breaks:
        options["breakpoints"] = breakpoint_options(args.breaks)
    from workbench.agent.launch import start_run

    run = start_run(args.task, model=args.model, strategy=args.strategy, options=options, loop=asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, lambda: run.cancel("cancelled with Ctrl-C"))
    except (NotImplementedError, RuntimeError):  # not on this platform: Ctrl-C ends the process
        pass
    broken: str | None = None
    asker = TerminalAsker(run) if args.approve or args.breaks else None
    try:
        async for event in run.subscribe():
            view.feed(event)
            if asker is not None:
                await asker.answer(event)
    except Exception as exc:  # noqa: BLE001 - the view (or the stream) broke: stop the run, keep its file
        broken = f"the terminal could not show the run ({type(exc).__name__}: {exc})"
        run.cancel(broken)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run.wait_async(), 10)
    finally:
        if asker is not None:
            asker.close()
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass
        saved = _save(run, args.save) if args.save else True
    if broken is None:
        view.workspace(run.workspace, run.files())
    if broken is not None:
        kept = f", and {args.save} holds what it did" if args.save and saved else ""
        print(f"workbench: error: {broken}; it was cancelled{kept}", file=sys.stderr)
        return EXIT_FAILED
    if not saved:
        return EXIT_FAILED
    return {"complete": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(run.state.status, EXIT_FAILED)


def _save(run: Run, path: Path) -> bool:
    """Write the run file whatever the run's end; a failure is reported, not raised over another error."""
    try:
        saved = run.save(path)
    except Exception as exc:  # noqa: BLE001 - said in one line, and the exit status says it failed
        if isinstance(exc, OSError) and exc.strerror:
            where = f": {exc.filename}" if exc.filename and os.fspath(exc.filename) != os.fspath(path) else ""
            reason = exc.strerror + where
        else:
            reason = f"{type(exc).__name__}: {exc}"
        print(f"workbench: error: cannot save the run to {path}: {reason}", file=sys.stderr)
        return False
    print(f"Saved {len(run.events)} events to {saved}", file=sys.stderr)
    return True


async def _replay_command(args: argparse.Namespace, view: TerminalView) -> int:
    from workbench.core.handle import Run
    from workbench.core.replay import replay_events

    run = Run.from_file(args.file)
    async for event in replay_events(run.events, speed=args.speed):
        view.feed(event)
    return EXIT_OK


async def _serve_command(args: argparse.Namespace, view: TerminalView) -> int:
    import os

    from workbench.core.home import workbench_home
    from workbench.notebook.web.assets import WEB_VIEW
    from workbench.serving.listener import check_transport, serve
    from workbench.serving.middleware import is_loopback
    from workbench.tls import server_context

    workshop = None
    if args.workshop is not None:
        if args.token:
            print("workbench: error: --workshop and --token cannot be used together: in workshop mode every person "
                  "sends their own token from the workshop file. Drop --token.", file=sys.stderr)
            return EXIT_USAGE
        from workbench.serving.workshop import load_workshop

        workshop = load_workshop(args.workshop)  # a mistake in the file: UserError, exit 2
        if os.environ.get("WORKBENCH_TOKEN"):
            print("workbench: note: WORKBENCH_TOKEN is ignored in workshop mode; the tokens of the workshop file "
                  "are the ones that count.", file=sys.stderr)
        token = None
    else:
        token = args.token or os.environ.get("WORKBENCH_TOKEN") or None
    if not token and workshop is None and not is_loopback(args.host):
        print(f"workbench: error: refusing to listen on {args.host} without a token: anyone who can reach it "
              "could run agents. Set WORKBENCH_TOKEN (or pass --token), or listen on 127.0.0.1.", file=sys.stderr)
        return EXIT_USAGE
    if args.keyfile is not None and args.certfile is None:
        raise UserError("--keyfile needs --certfile: pass the certificate (chain) with --certfile FILE")
    check_transport(args.host, tls=args.certfile is not None, allow_http=args.allow_http)
    ssl_context = server_context(args.certfile, args.keyfile) if args.certfile is not None else None
    if ssl_context is None and not is_loopback(args.host):  # --allow-http: say it before anything else
        print(f"workbench: WARNING: serving plain HTTP on {args.host} (--allow-http): tokens and runs cross the "
              "network unencrypted, readable by anyone on it.\n"
              "workbench: WARNING: this is safe only behind an HTTPS reverse proxy that is the one way in; "
              "otherwise serve HTTPS with --certfile and --keyfile.", file=sys.stderr, flush=True)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {args.port}")
    if not args.heartbeat > 0:
        raise UserError("--heartbeat must be a positive number of seconds")
    if args.max_runs_per_user < 1:
        raise UserError(f"--max-runs-per-user must be at least 1, not {args.max_runs_per_user}")
    server_home = workbench_home() / "server"
    store = Path(args.store) if args.store else server_home / "runs.db"
    workspaces = Path(args.workspace_root) if args.workspace_root else server_home / "workspaces"
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        workspaces.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {exc.filename}: {exc.strerror}") from None

    def out(line: str) -> None:
        print(line, flush=True)

    import logging

    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.WARNING)
    for name in ("workbench", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.INFO)

    redis_settings = _redis_settings(args)
    if args.worker and redis_settings is None:
        raise UserError("--worker executes runs queued in Redis: pass --redis URL too")
    return await serve(redis=redis_settings, with_worker=args.worker, host=args.host, port=args.port, token=token, store=str(store), workspace_root=str(workspaces),
                       model=args.model, heartbeat=args.heartbeat, cors_origins=args.cors_origin, out=out,
                       workshop=workshop, workshop_file=args.workshop, ssl_context=ssl_context,
                       allow_http=args.allow_http, web_view=WEB_VIEW, otel=args.otel,
                       max_runs_per_user=args.max_runs_per_user)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from workbench.cli.terminal import TerminalView

    view = TerminalView()
    command = {"run": _run_command, "replay": _replay_command, "serve": _serve_command,
               "worker": _worker_command}[args.command]
    try:
        return asyncio.run(command(args, view))
    except UserError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
