"""The ``workbench`` command: run a task, replay a run file."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Sequence

from .errors import UserError
from .launch import start_run
from .run import Run
from .terminal import TerminalView

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

    replay = commands.add_parser("replay", help="re-stream a saved run", description="Re-stream a saved run file.")
    replay.add_argument("file", type=Path)
    replay.add_argument("--speed", type=float, default=1.0, help="times faster than recorded (0: instant)")
    return parser


async def _run_command(args: argparse.Namespace, view: TerminalView) -> int:
    options: dict[str, object] = {}
    for key, value in (("scenario", args.scenario), ("pace", args.pace), ("seed", args.seed), ("workspace", args.workspace)):
        if value is not None:
            options[key] = value
    run = start_run(args.task, model=args.model, strategy=args.strategy, options=options, loop=asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, lambda: run.cancel("cancelled with Ctrl-C"))
    except (NotImplementedError, RuntimeError):  # not on this platform: Ctrl-C ends the process
        pass
    try:
        async for event in run.subscribe():
            view.feed(event)
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass
        if args.save:
            path = run.save(args.save)
            print(f"Saved {len(run.events)} events to {path}", file=sys.stderr)
    return {"complete": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(run.state.status, EXIT_FAILED)


async def _replay_command(args: argparse.Namespace, view: TerminalView) -> int:
    from .replay import replay_events

    run = Run.from_file(args.file)
    async for event in replay_events(run.events, speed=args.speed):
        view.feed(event)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    view = TerminalView()
    command = {"run": _run_command, "replay": _replay_command}[args.command]
    try:
        return asyncio.run(command(args, view))
    except UserError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
