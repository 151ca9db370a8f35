"""A stream's keep-alive timer: one timer per idle interval, not one per wait.

A stream at 1,000 subscribers waits for the next event some 20 times a second. With
``asyncio.timeout`` around each wait, every stream made a ``Timeout``, a ``TimerHandle``, a
copied ``Context`` and a bound method per wait, and left the cancelled handle in the loop's
timer heap; all of them outlived a few young collections, so the garbage collector moved
thousands of objects a batch into its older generations and walked them again in long pauses.
:class:`KeepAlive` arms one timer and, when it fires while the stream is not yet idle for the
whole interval, sets it again for when it would be: a stream that is kept busy re-arms it
once per interval, whatever its number of waits.
"""

from __future__ import annotations

import asyncio

__all__ = ["KeepAlive"]


class KeepAlive:
    """Tells a stream's waits apart from waits that lasted the whole keep-alive interval.

    Wrap each wait in :meth:`waiting` and :meth:`woken`; when a wait has lasted ``interval``
    seconds, the waiting task is cancelled (as ``asyncio.timeout`` does), and :meth:`woken`
    with that ``CancelledError`` answers True: time for a keep-alive. Any other cancellation
    (the client went away) is left to propagate. :meth:`close` when the stream ends.
    """

    __slots__ = ("_cancelling", "_expired", "_interval", "_loop", "_since", "_task", "_timer")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._since: float | None = None
        """When the current wait began; None while the stream is not waiting."""
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._expired = False

    def waiting(self) -> None:
        """The stream is about to wait (in the current task)."""
        task = asyncio.current_task()
        assert task is not None, "a stream waits in a task"
        self._task, self._cancelling = task, task.cancelling()
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._interval, self._fire, self._since + self._interval)

    def woken(self, cancelled: asyncio.CancelledError | None = None) -> bool:
        """The wait is over; with the ``CancelledError`` it ended with, whether that was the keep-alive's
        (then it is taken back and a keep-alive is due) rather than anyone else's (re-raise it then)."""
        self._since = None
        task, self._task = self._task, None
        if cancelled is None or not self._expired:
            return False
        self._expired = False
        # As asyncio.timeout: ours only if no other cancellation came on top of it.
        return task is not None and task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._since = self._task = None

    def _fire(self, when: float) -> None:
        self._timer = None
        if self._since is None or self._task is None:
            return  # not waiting: its next wait arms the timer again
        due = self._since + self._interval
        if due <= when:  # waited the whole interval (compared with the timer's own time, not the clock's)
            self._expired = True
            self._task.cancel()
        else:  # it has waited since a later wait began: fire when that one would have lasted the interval
            self._timer = self._loop.call_at(due, self._fire, due)
