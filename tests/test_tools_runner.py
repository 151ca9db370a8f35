"""Running tools (``call_tool``): arguments checked, sync tools in a thread, failures, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from tool_examples import search_notes

from workbench.agent.tools import (
    ToolContext,
    ToolOutcome,
    call_tool,
    tool,
)
from workbench.errors import ToolError, UserError


async def test_sync_tool_result_and_content(ctx: ToolContext) -> None:
    out = await call_tool(
        tool(search_notes), {"query": "ab", "limit": "3"}, context=ctx
    )
    assert out == ToolOutcome(
        result=["ab", "ab"],
        content='["ab","ab"]',
        is_error=False,
        duration_ms=out.duration_ms,
    )
    assert out.duration_ms >= 0 and out.exception is None


async def test_sync_tool_does_not_block_the_loop(ctx: ToolContext) -> None:
    @tool
    def slow() -> str:
        """Sleep a bit."""
        time.sleep(0.3)
        return "done"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    out = await call_tool(slow, {}, context=ctx)
    task.cancel()
    assert out.result == "done"
    assert ticks >= 10  # The loop kept running while the tool slept.
    assert 250 <= out.duration_ms < 1000


async def test_exception_becomes_error_message_without_traceback(
    ctx: ToolContext,
) -> None:
    @tool
    def divide(a: int, b: int) -> float:
        """Divide a by b."""
        return a / b

    @tool
    async def missing(key: str) -> str:
        """Look up a key."""
        return {}[key]

    out = await call_tool(divide, {"a": 1, "b": 0}, context=ctx)
    assert (out.is_error, out.result, out.content) == (
        True,
        "ZeroDivisionError: division by zero",
        "ZeroDivisionError: division by zero",
    )
    assert isinstance(out.exception, ZeroDivisionError)
    assert "Traceback" not in out.content
    out = await call_tool(missing, {"key": "k"}, context=ctx)
    assert (out.is_error, out.content) == (True, "KeyError: 'k'")


async def test_tool_error_is_just_its_message(ctx: ToolContext) -> None:
    @tool
    def picky(word: str) -> str:
        """Only likes 'yes'."""
        if word != "yes":
            raise ToolError(f"I only accept 'yes', not {word!r}.")
        return "ok"

    out = await call_tool(picky, {"word": "no"}, context=ctx)
    assert (out.is_error, out.result, out.content) == (
        True,
        "I only accept 'yes', not 'no'.",
        "I only accept 'yes', not 'no'.",
    )


async def test_sys_exit_in_a_tool_does_not_end_the_run(ctx: ToolContext) -> None:
    @tool
    def quitter() -> None:
        """Quit."""
        raise SystemExit(3)

    out = await call_tool(quitter, {}, context=ctx)
    assert (out.is_error, out.content) == (True, "SystemExit: 3")


async def test_invalid_arguments_list_every_problem(ctx: ToolContext) -> None:
    t = tool(search_notes)
    out = await call_tool(
        t, {"limit": "many", "mode": "slow", "tags": [1], "colour": "red"}, context=ctx
    )
    assert out.is_error
    assert out.content == "\n".join(  # noqa: FLY002 - one line per expected line reads best
        [
            "Invalid arguments for tool 'search_notes':",
            "- query: Missing required argument",
            "- limit: Input should be a valid integer, unable to parse string as an integer (got 'many')",
            "- tags.0: Input should be a valid string (got 1)",
            "- mode: Input should be 'fast' or 'deep' (got 'slow')",
            "- colour: Unexpected keyword argument (got 'red')",
        ]
    )
    assert out.result == out.content
    out = await call_tool(t, ["not", "a", "dict"], context=ctx)  # type: ignore[arg-type]
    assert (
        out.is_error
        and "expected an object of named arguments, got list" in out.content
    )


async def test_async_tool_invalid_arguments(ctx: ToolContext) -> None:
    @tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert (await call_tool(add, {"a": 1, "b": 2}, context=ctx)).result == 3
    out = await call_tool(add, {"a": 1}, context=ctx)
    assert (
        out.is_error
        and out.content
        == "Invalid arguments for tool 'add':\n- b: Missing required argument"
    )


async def test_validation_error_inside_the_tool_is_not_blamed_on_the_arguments(
    ctx: ToolContext,
) -> None:
    import pydantic

    class Point(pydantic.BaseModel):
        x: int

    @tool
    def parse(text: str) -> int:
        """Parse a point."""
        return Point(x=text).x  # type: ignore[arg-type]

    out = await call_tool(parse, {"text": "seven"}, context=ctx)
    assert out.is_error
    assert out.content.startswith("ValidationError: 1 validation error for Point")
    assert "Invalid arguments" not in out.content


async def test_timeout_of_a_sync_tool_returns_quickly(ctx: ToolContext) -> None:
    @tool(timeout=0.2)
    def sleepy() -> str:
        """Sleep for five seconds."""
        time.sleep(5)
        return "woke"

    started = time.perf_counter()
    out = await call_tool(
        sleepy, {}, context=ctx, timeout=30
    )  # The tool's own timeout wins.
    elapsed = time.perf_counter() - started
    assert (out.is_error, out.content, out.result) == (
        True,
        "Tool 'sleepy' timed out after 0.2 s",
        "Tool 'sleepy' timed out after 0.2 s",
    )
    assert isinstance(out.exception, TimeoutError)
    assert elapsed < 1.0
    assert 150 <= out.duration_ms < 1000


async def test_timeout_argument_applies_to_async_tools(ctx: ToolContext) -> None:
    cancelled = asyncio.Event()

    @tool
    async def waits() -> str:
        """Wait forever."""
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    out = await call_tool(waits, {}, context=ctx, timeout=0.1)
    assert out.is_error and out.content == "Tool 'waits' timed out after 0.1 s"
    assert cancelled.is_set()  # The async tool itself was cancelled.


async def test_tool_raising_timeout_error_itself_is_not_a_timeout(
    ctx: ToolContext,
) -> None:
    @tool
    def flaky() -> str:
        """Fail like a socket."""
        raise TimeoutError("connect timed out")

    out = await call_tool(flaky, {}, context=ctx)
    assert out.content == "TimeoutError: connect timed out"


async def test_cancellation_propagates_while_sync_tool_runs(ctx: ToolContext) -> None:
    started = threading.Event()

    @tool
    def stuck() -> str:
        """Block for five seconds."""
        started.set()
        time.sleep(5)
        return "late"

    task = asyncio.create_task(call_tool(stuck, {}, context=ctx))
    assert await asyncio.to_thread(started.wait, 2)
    t0 = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - t0 < 0.2


async def test_cancellation_propagates_into_async_tool(ctx: ToolContext) -> None:
    entered = asyncio.Event()
    cleaned = asyncio.Event()

    @tool
    async def waits() -> str:
        """Wait."""
        entered.set()
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()
        return "never"

    task = asyncio.create_task(call_tool(waits, {}, context=ctx))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


def test_timed_out_thread_does_not_hold_up_asyncio_run(ctx: ToolContext) -> None:
    """asyncio.run() waits for its default executor; a tool thread must not be in it."""

    @tool(timeout=0.1)
    def sleepy() -> str:
        """Sleep for five seconds."""
        time.sleep(5)
        return "woke"

    started = time.perf_counter()
    out = asyncio.run(call_tool(sleepy, {}, context=ctx))
    assert out.is_error and "timed out" in out.content
    assert time.perf_counter() - started < 1.0


async def test_call_tool_misuse(ctx: ToolContext) -> None:
    with pytest.raises(UserError):
        await call_tool(search_notes, {}, context=ctx)  # type: ignore[arg-type]
    with pytest.raises(UserError):
        await call_tool(
            tool(search_notes), {"query": "q"}, context=ctx, max_output_chars=0
        )
    with pytest.raises(UserError):
        await call_tool(tool(search_notes), {"query": "q"}, context=ctx, timeout=-1)
