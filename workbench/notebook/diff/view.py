"""The notebook widget of two runs side by side: the kernel side of ``DiffView``.

The kernel compares the runs (:func:`workbench.core.diffing.diff_runs`) and sends the diff whole:
to each view that says ``ready``, and again, at most :attr:`DiffView.interval` apart, while either
run goes on. A follower thread polls how far the runs have got, so runs on different loops (one
here, one on a server) are followed alike; it ends once both have ended and the last diff is out.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import anywidget
import traitlets

from workbench.core.diffing import RunDiff
from workbench.notebook.diff.bundle import diff_css, diff_front_end
from workbench.notebook.diff.compare import current_diff, positions

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["DiffView"]


class DiffView(anywidget.AnyWidget):
    """Runs ``a`` and ``b`` side by side: what they share, where they part, and how (``wb.diff(a, b)``)."""

    _esm = diff_front_end()
    _css = diff_css()
    run_a = traitlets.Unicode("").tag(sync=True)
    run_b = traitlets.Unicode("").tag(sync=True)

    interval = 0.25
    """Least time between two diffs sent while a run goes on, in seconds; more for long runs,
    whose diff takes longer to make (at most a third of the time goes to making it)."""

    def __init__(self, a: Run, b: Run, **kwargs: Any) -> None:
        super().__init__(run_a=a.id, run_b=b.id, **kwargs)
        self.a, self.b = a, b
        self.messages_sent = 0
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], dict[str, Any]] | None = None
        self._stop = threading.Event()
        self.on_msg(self._on_msg)
        self._follower: threading.Thread | None = None
        if not (a.done and b.done):
            self._follower = threading.Thread(target=self._follow, name=f"wb-diff-{a.id}-{b.id}", daemon=True)
            self._follower.start()

    @property
    def diff(self) -> RunDiff:
        """The diff as of now."""
        return current_diff(self.a, self.b)

    def _current(self) -> tuple[tuple[int, int], dict[str, Any]]:
        """The diff's JSON as of now, computed once for each pair of positions."""
        with self._lock:
            where = positions(self.a, self.b)
            if self._cached is None or self._cached[0] != where:
                self._cached = (where, current_diff(self.a, self.b).to_dict())
            return self._cached

    def _send_diff(self) -> None:
        _, content = self._current()
        self.messages_sent += 1
        self.send({"kind": "diff", "diff": content})

    def _follow(self) -> None:
        sent: tuple[int, int] | None = None
        while not self._stop.is_set():
            settled = self.a.done and self.b.done  # read before the positions: then these are the last
            where = positions(self.a, self.b)
            took = 0.0
            if where != sent:
                began = time.monotonic()
                self._send_diff()
                took = time.monotonic() - began
                sent = where
            if settled:
                return
            self._stop.wait(max(self.interval, 2 * took))

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "ready":
            self._send_diff()

    @overload
    def to_html(self, path: None = None) -> str: ...

    @overload
    def to_html(self, path: str | os.PathLike[str]) -> Path: ...

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str | Path:
        """One self-contained HTML page of the diff, viewable offline; with ``path``, written there."""
        from workbench.notebook.diff.export import diff_html

        page = diff_html(self.a, self.b, path)
        return page if path is None else Path(path)

    def close(self) -> None:
        """Stop following the runs and close the widget."""
        self._stop.set()
        if self._follower is not None and self._follower is not threading.current_thread():
            self._follower.join(2)
        super().close()

    def __repr__(self) -> str:
        return f"<DiffView {self.a.id} vs {self.b.id}>"
