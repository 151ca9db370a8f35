"""The workbench's own event loop, on a daemon thread, and what embedding it in a process sets up.

Runs started from notebooks, scripts or the REPL execute here, so they progress while
the caller's code blocks, ``run.wait()`` never deadlocks the kernel, and the same code
works with or without a running loop in the caller (Jupyter, VS Code, Colab, plain Python).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import sys
import threading
from typing import Callable, ParamSpec, TypeVar

__all__ = [
    "background_loop",
    "running_loop",
    "freeze_startup_objects",
    "freezes_startup_objects_first",
    "leave_collection_to_host",
    "gc_untrack",
    "FREEZE_VARIABLE",
]

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None

FREEZE_VARIABLE = "WORKBENCH_FREEZE_STARTUP_OBJECTS"
"""Set to ``0`` (or ``false``, ``no``, ``off``) to keep runs in this process from freezing start-up objects."""

_freeze_pending = True
"""Whether the first run in this process has yet to freeze the start-up objects."""


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


def freeze_startup_objects() -> int:
    """At the first run in this process, leave the objects alive then out of garbage collection.

    Those are mostly start-up objects: modules, classes, the SDK's and pydantic's caches, some
    hundreds of thousands in a notebook kernel. Each full collection walks them all otherwise,
    over and over while a run's log grows; with ``gc.freeze()`` it walks what came after. This is
    what the Jupyter extension does once its server has started (``freeze_startup_objects``).

    It is safe because freezing frees nothing and moves nothing: a frozen object is still freed
    as soon as nothing refers to it. The cost: one that later becomes garbage *in a reference
    cycle* is never freed. Hence a collection first (what is garbage now is not frozen), and only
    once. ``WORKBENCH_FREEZE_STARTUP_OBJECTS=0`` turns it off, and a host that manages the
    collector itself (a server) calls :func:`leave_collection_to_host` instead.

    Returns how many objects were frozen (0 when it was done before, turned off or left to the host).
    """
    global _freeze_pending
    with _lock:
        if not _freeze_pending:
            return 0
        _freeze_pending = False
    if os.environ.get(FREEZE_VARIABLE, "").strip().lower() in ("0", "false", "no", "off"):
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def leave_collection_to_host() -> None:
    """Runs in this process never freeze objects: the host (a server) decides about the collector."""
    global _freeze_pending
    with _lock:
        _freeze_pending = False


def freezes_startup_objects_first(start: Callable[P, R]) -> Callable[P, R]:
    """``start``, calling :func:`freeze_startup_objects` first, from a frame of its own.

    Not from inside ``start``: its closures' cells exist from the moment its frame does, so they
    would be frozen, and a run's reference cycles through them (the first run's orchestrator and
    client, with its whole log) would never be collected.
    """

    @functools.wraps(start)
    def freeze_then_start(*args: P.args, **kwargs: P.kwargs) -> R:
        freeze_startup_objects()
        return start(*args, **kwargs)

    return freeze_then_start


def _find_gc_untrack() -> Callable[[object], None] | None:
    # CPython's own C API call (what it does itself for tuples and dicts that hold no containers);
    # nothing elsewhere (PyPy), nor where threads run without the GIL.
    if sys.implementation.name != "cpython" or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    try:
        import ctypes

        untrack = ctypes.pythonapi.PyObject_GC_UnTrack
    except (ImportError, AttributeError):
        return None
    untrack.argtypes = [ctypes.py_object]
    untrack.restype = None
    return untrack


gc_untrack: Callable[[object], None] | None = _find_gc_untrack()
"""Take one object off the garbage collector's lists (``PyObject_GC_UnTrack``), or None where it
cannot be done. Only for objects that can never be part of a reference cycle: the collector no
longer looks inside them, so a cycle through one would never be freed. Everything else stays as
it was: the object is still freed when nothing refers to it, and whatever it refers to stays
alive (a reference from an untracked object counts as one from outside)."""
