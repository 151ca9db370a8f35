"""Re-streaming a finished run with its original timing, scaled."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import AsyncIterator, Iterable

from workbench.core import events as ev
from workbench.errors import UserError

__all__ = ["replay_events", "parse_ts", "check_speed"]


def check_speed(speed: float) -> float:
    """``speed`` if it is a usable replay speed (0 or infinity: at once); a :class:`UserError` if not."""
    if not isinstance(speed, (int, float)) or speed != speed or speed < 0:
        raise UserError(f"speed must be 0 (at once) or a positive number, not {speed!r}")
    return float(speed)


def parse_ts(ts: str) -> float:
    """An event's ``ts`` as seconds since the epoch (0.0 when it cannot be read)."""
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


async def replay_events(
    events: Iterable[ev.Event], *, speed: float = 1.0, max_gap: float = 2.0
) -> AsyncIterator[ev.Event]:
    """Yield ``events`` spaced as they were recorded, ``speed`` times faster.

    ``speed`` of ``float('inf')`` (or 0) replays at once. A pause longer than ``max_gap``
    seconds (after scaling) is shortened to it, so a run that waited on a slow tool does
    not make its replay wait too.
    """
    check_speed(speed)
    instant = speed == 0 or speed == float("inf")
    previous: float | None = None
    for event in events:
        now = parse_ts(event.ts)
        if not instant and previous is not None and now > previous:
            await asyncio.sleep(min((now - previous) / speed, max_gap))
        previous = now
        yield event
