"""IPython magics: ``%load_ext workbench``, then a ``%%agent`` cell whose body is the task."""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from workbench.agent.launch import start_run
from workbench.core.handle import Run
from workbench.errors import UserError
from workbench.remote.client import current, start_remote

__all__ = ["WorkbenchMagics", "load_ipython_extension"]


@magics_class
class WorkbenchMagics(Magics):
    @magic_arguments()
    @argument("--model", "-m", default=None, help="'simulated' or a Claude model id")
    @argument("--strategy", "-s", default="plan", help="plan or react")
    @argument("--pace", type=float, default=None, help="simulated model: deltas per second")
    @argument("--seed", type=int, default=None, help="simulated model: vary the generic scenario")
    @argument("--scenario", default=None, help="simulated model: a scenario file")
    @argument("--name", "-n", default=None, help="also keep the run in this variable")
    @cell_magic
    def agent(self, line: str, cell: str) -> Any:
        """Run the cell's text as a task and show the run live: ``%%agent --model simulated``.

        After ``wb.connect()``, the run goes to the server, as ``wb.run`` does.
        """
        args = parse_argstring(self.agent, line)
        options = {k: v for k, v in (("pace", args.pace), ("seed", args.seed), ("scenario", args.scenario)) if v is not None}
        run: Run  # a RemoteRun after wb.connect()
        try:
            connection = current()
            if connection is not None:
                run = start_remote(connection, cell, model=args.model, strategy=args.strategy, options=options)
            else:
                run = start_run(cell, model=args.model, strategy=args.strategy, options=options)
        except UserError as exc:
            print(f"workbench: {exc}", file=sys.stderr)
            return None
        if args.name:
            if not args.name.isidentifier():
                print(f"workbench: --name must be a Python identifier, not {args.name!r}", file=sys.stderr)
            elif self.shell is not None:  # always set while the shell runs a magic
                self.shell.user_ns[args.name] = run
        return run


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(WorkbenchMagics)
