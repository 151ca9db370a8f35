"""Session-wide test setup, for the tests and the notebooks alike: offline, no credentials, no start-up freeze."""

from __future__ import annotations

import os
import tempfile
import types

import pytest

_CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "WORKBENCH_MODEL",
                "WORKBENCH_URL", "WORKBENCH_TOKEN", "ANTHROPIC_PROFILE")


def pytest_configure(config: pytest.Config) -> None:
    """Notebook kernels inherit this environment: no keys, and a home of the session's own."""
    for name in _CREDENTIALS:
        os.environ.pop(name, None)
    home = tempfile.mkdtemp(prefix="workbench-test-home-")
    os.environ["WORKBENCH_HOME"] = home
    os.environ["ANTHROPIC_CONFIG_DIR"] = os.path.join(home, "anthropic-config")
    # Runs would freeze the session's objects out of garbage collection at the first run, and tests
    # that count frozen objects, or see objects freed, would depend on the order they run in.
    # tests/test_startup_freeze.py checks the freezing in fresh interpreters.
    os.environ["WORKBENCH_FREEZE_STARTUP_OBJECTS"] = "0"


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: pytest -p no:timeout still runs
def pytest_timeout_set_timer(item: pytest.Item, settings: object) -> bool | None:
    """pytest-timeout's signal timer, which also prints what every asyncio task was waiting on.

    A test that hangs fails after the ``timeout`` of pyproject.toml instead of holding the whole
    suite, and for an asyncio test the threads' stacks alone say nothing (the loop sits in select):
    the tasks' stacks say which ``await`` never returned.
    """
    import signal
    import threading

    import pytest_timeout

    if getattr(settings, "method", None) != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own timer

    def on_timeout(signum: int, frame: object) -> None:
        __tracebackhide__ = True
        _print_asyncio_tasks(item)
        pytest_timeout.timeout_sigalrm(item, settings)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # what pytest-timeout's cancel hook calls
    signal.signal(signal.SIGALRM, on_timeout)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)  # type: ignore[attr-defined]
    return True


def _print_asyncio_tasks(item: pytest.Item) -> None:
    import asyncio

    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:  # no loop running: a synchronous test or fixture
        return
    terminal = item.config.get_terminal_writer()
    terminal.sep("+", title=f"Timeout: {len(tasks)} asyncio tasks")
    for task in tasks:
        terminal.line(repr(task))
        for frame in _awaiting(task.get_coro()):  # the whole chain of awaits, not only the task's own frame
            terminal.line(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        terminal.line("")


def _awaiting(awaitable: object) -> list[types.FrameType]:
    frames = []
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return frames
