"""The run context tools see (``current_context``), in sync and async tools and concurrent calls."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from workbench.agent.tools import (
    ToolContext,
    call_tool,
    current_context,
    tool,
    use_context,
)
from workbench.errors import UserError


def test_current_context_outside_a_run_is_a_clear_error(ctx: ToolContext) -> None:
    with pytest.raises(UserError, match="outside a tool call"):
        current_context()
    with use_context(ctx):
        assert current_context() is ctx
    with pytest.raises(UserError):
        current_context()
    assert ToolContext(workspace="somewhere", run_id="r").workspace == Path("somewhere")  # type: ignore[arg-type]


async def test_sync_and_async_tools_see_the_context(ctx: ToolContext) -> None:
    @tool
    def sync_probe() -> dict:
        """Where am I?"""
        c = current_context()
        return {
            "run": c.run_id,
            "ws": str(c.workspace),
            "thread": threading.current_thread() is threading.main_thread(),
        }

    @tool
    async def async_probe() -> str:
        """Which run?"""
        return current_context().run_id

    out = await call_tool(sync_probe, {}, context=ctx)
    assert out.is_error is False
    assert out.result == {"run": "r_test", "ws": str(ctx.workspace), "thread": False}
    out = await call_tool(async_probe, {}, context=ctx)
    assert (out.result, out.content, out.is_error) == ("r_test", "r_test", False)
    with pytest.raises(UserError):
        current_context()  # Reset after the call.


async def test_concurrent_calls_each_see_their_own_context(tmp_path: Path) -> None:
    @tool
    def who() -> str:
        """Which run am I in?"""
        time.sleep(0.05)
        return current_context().run_id

    @tool
    async def who_async() -> str:
        """Which run am I in?"""
        await asyncio.sleep(0.05)
        return current_context().run_id

    contexts = [ToolContext(workspace=tmp_path, run_id=f"r{i}") for i in range(4)]
    outs = await asyncio.gather(
        *(
            call_tool(who if i % 2 else who_async, {}, context=c)
            for i, c in enumerate(contexts)
        )
    )
    assert [o.result for o in outs] == ["r0", "r1", "r2", "r3"]
