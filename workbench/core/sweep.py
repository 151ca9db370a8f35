"""Starting many runs of one task, a few at a time: what ``wb.sweep(...)`` schedules.

The settings are the product of the models, seeds and option sets asked for. At most
``concurrency`` of their runs go at once, the next starting as one ends: a task on the
workbench's background loop that waits on the runs' logs, never polling. Starting a run is the
caller's ``start`` function (``wb.run``: here or on a server), called in a worker thread since
a start on a server blocks on its request. A server that says ``too_many_runs`` (its per-user
limit, HTTP 429) is no failure: the sweep waits for one of its own runs to end, or a moment
when none of them goes (the others are the user's), and tries again. Any other error starting a
run is that run's outcome, kept with its settings; the sweep goes on with the rest.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.handle import Run
from workbench.core.loop import background_loop
from workbench.core.redact import get_logger
from workbench.errors import ServerError, UserError

__all__ = ["Setting", "Slot", "Sweeper", "check_concurrency", "sweep_settings"]

log = get_logger("workbench.sweep")

RETRY_FIRST, RETRY_MOST = 0.25, 5.0
"""Seconds before trying again when the server's limit is full with none of our runs going (doubling)."""


@dataclass(frozen=True)
class Setting:
    """What one run of a sweep is started with."""

    model: str | None
    """None: the default model (``wb.run``'s)."""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Slot:
    """One setting's run: queued (neither set), started (``run``), or refused at its start (``error``)."""

    setting: Setting
    run: Run | None = None
    error: str | None = None


def _listed(name: str, values: Any, example: str) -> list[Any] | None:
    if values is None:
        return None
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
        raise UserError(f"{name} must be a list, e.g. {name}={example}, not {type(values).__name__}")
    if not values:
        raise UserError(f"{name} is an empty list, so there would be nothing to run; leave it out for the default")
    return list(values)


def sweep_settings(models: Sequence[str] | None, seeds: Sequence[int] | None,
                   options: Sequence[dict[str, Any]] | None) -> list[Setting]:
    """The product ``models × seeds × options``, in that order (models vary slowest); clear errors for bad lists."""
    model_list = _listed("models", models, "['simulated', 'claude-sonnet-4-6']")
    seed_list = _listed("seeds", seeds, "[1, 2, 3]")
    option_list = _listed("options", options, "[{'maxIterations': 5}, {'maxIterations': 20}]")
    for model in model_list or []:
        if not isinstance(model, str) or not model:
            raise UserError(f"models must be model ids such as 'simulated', not {model!r}")
    for seed in seed_list or []:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UserError(f"seeds must be whole numbers, not {seed!r}")
    for each in option_list or []:
        if not isinstance(each, dict):
            raise UserError(f"options must be a list of option dicts, e.g. [{{'maxIterations': 5}}], not one holding {each!r}")
        if seed_list is not None and "seed" in each:
            raise UserError("an option dict sets 'seed' while seeds=[...] sets it too; give the seeds in one place")
    settings = []
    for model, seed, chosen in itertools.product(model_list or [None], seed_list or [None], option_list or [{}]):
        settings.append(Setting(model, {**chosen, **({"seed": seed} if seed is not None else {})}))
    return settings


def check_concurrency(concurrency: Any) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise UserError(f"concurrency must be a whole number of runs going at once, 1 or more, not {concurrency!r}")
    return concurrency


def _too_many_runs(exc: BaseException) -> bool:
    return isinstance(exc, ServerError) and exc.status == 429 and exc.error_type == "too_many_runs"


class Sweeper:
    """Starts each slot's run, at most ``concurrency`` going at once, on the background loop.

    ``on_change()`` is called on that loop whenever a slot starts, is refused or its run ends.
    """

    def __init__(self, settings: Sequence[Setting], start: Callable[[Setting], Run], concurrency: int,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.slots = [Slot(setting) for setting in settings]
        self.concurrency = concurrency
        self.refusals = 0
        """How many starts the server refused for its per-user limit (each tried again)."""
        self.most_going = 0
        """The most runs of this sweep going at once, as the sweep counted them."""
        self._start = start
        self._on_change = on_change
        self._finished = threading.Event()
        self._stopping = False
        self._loop = background_loop()
        self._future = asyncio.run_coroutine_threadsafe(self._drive(), self._loop)

    @property
    def finished(self) -> bool:
        """Whether every slot has started and ended, or been refused (or the sweep was stopped)."""
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :attr:`finished`; False if ``timeout`` passed first."""
        return self._finished.wait(timeout)

    async def wait_async(self) -> None:
        await asyncio.wrap_future(self._future)

    def stop(self) -> None:
        """Start no more runs (those going are the caller's to cancel)."""
        self._stopping = True

    async def _drive(self) -> None:
        queued = list(range(len(self.slots)))
        going: dict[asyncio.Task[None], int] = {}
        delay = RETRY_FIRST
        try:
            while (queued and not self._stopping) or going:
                full = False
                while queued and not self._stopping and len(going) < self.concurrency:
                    slot = self.slots[queued[0]]
                    try:
                        run = await asyncio.to_thread(self._start, slot.setting)
                    except Exception as exc:  # noqa: BLE001  # any failure to start is that run's outcome
                        if _too_many_runs(exc):
                            self.refusals += 1
                            full = True
                            break
                        slot.error = str(exc) or type(exc).__name__
                    else:
                        slot.run = run
                        going[asyncio.ensure_future(run.log.wait_settled())] = queued[0]
                        self.most_going = max(self.most_going, len(going))
                        delay = RETRY_FIRST
                    queued.pop(0)
                    self._changed()
                if going:
                    ended, _ = await asyncio.wait(going, return_when=asyncio.FIRST_COMPLETED)
                    for task in ended:
                        going.pop(task)
                    self._changed()
                elif full:  # the server is full of the user's other runs: try again in a moment
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MOST)
            for index in queued:  # left when stopped
                self.slots[index].error = "the sweep was stopped before this run started"
        finally:
            for task in going:
                task.cancel()
            self._finished.set()
            self._changed()

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:  # a view's trouble must not stop the sweep
            log.exception("a view of a sweep failed to update")
