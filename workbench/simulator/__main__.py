"""``python -m workbench.simulator``: the offline Anthropic API on a local port.

    python -m workbench.simulator --port 8765 --pace 30
    ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=any python my_agent.py

``--print-scenario TASK`` writes the generic scenario for TASK as a scenario file to start from.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from workbench.errors import UserError
from workbench.simulator.engine import Simulator
from workbench.simulator.generic import generic_scenario
from workbench.simulator.scenario import Fault, dump_scenario, load_scenario
from workbench.simulator.server import serve

__all__ = ["main"]


def _fault(text: str) -> Fault:
    """``REQUEST:KIND`` or ``REQUEST:KIND:AFTER_FRAMES``, e.g. ``2:529`` or ``3:drop:5``."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        data = {"request": int(parts[0]), "kind": parts[1]}
        if len(parts) == 3:
            data["afterFrames"] = int(parts[2])
        return Fault.model_validate(data)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad fault {text!r}: use REQUEST:KIND[:AFTER_FRAMES] with KIND one of 429, 529, "
            "midstream_error, drop, no_message_stop"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.simulator",
        description="Run the offline simulator of the Anthropic Messages API on a local port.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default: 8765)")
    parser.add_argument("--scenario", metavar="FILE", help="a scenario file (default: a generic scenario per task)")
    parser.add_argument("--pace", type=float, default=0.0, help="content deltas per second; 0 = as fast as possible")
    parser.add_argument("--seed", type=int, default=0, help="varies the generic scenario (default: 0)")
    parser.add_argument("--fault", type=_fault, action="append", default=[], metavar="REQ:KIND[:AFTER]",
                        help="inject a fault, e.g. 2:529 or 3:drop:5 (repeatable)")  # fmt: skip
    parser.add_argument("--api-key", help="require exactly this key (default: any key is accepted)")
    parser.add_argument("--print-scenario", metavar="TASK", help="print the generic scenario for TASK and exit")
    return parser


async def _serve(simulator: Simulator, host: str, port: int) -> None:
    async with serve(simulator, host, port) as base_url:
        print(f"Simulated Anthropic API listening on {base_url}", flush=True)
        print(f"  export ANTHROPIC_BASE_URL={base_url}  ANTHROPIC_API_KEY=any-value", flush=True)
        await asyncio.Event().wait()  # until interrupted


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.print_scenario is not None:
            sys.stdout.write(dump_scenario(generic_scenario(args.print_scenario, args.seed)))
            return 0
        scenario = load_scenario(args.scenario) if args.scenario else None
        simulator = Simulator(scenario, seed=args.seed, pace=args.pace, faults=args.fault, api_key=args.api_key)
        asyncio.run(_serve(simulator, args.host, args.port))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    except OSError as err:  # e.g. the port is taken
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
