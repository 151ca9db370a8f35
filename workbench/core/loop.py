"""The workbench's own event loop, on a daemon thread.

Runs started from notebooks, scripts or the REPL execute here, so they progress while
the caller's code blocks, ``run.wait()`` never deadlocks the kernel, and the same code
works with or without a running loop in the caller (Jupyter, VS Code, Colab, plain Python).
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["background_loop", "running_loop"]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None outside async code."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared background loop, started on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="workbench-loop", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop
