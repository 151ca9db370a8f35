"""The agent's tools: the decorator, the runner, the workspace tools and the registry."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import threading
import time
from pathlib import Path
from typing import Literal

import pytest

from workbench.errors import ToolError, UserError
from workbench.agent.tools import (
    BUILTIN_TOOLS,
    MAX_FILE_BYTES,
    MAX_LIST_ENTRIES,
    Tool,
    ToolContext,
    ToolOutcome,
    call_tool,
    current_context,
    list_files,
    read_file,
    resolve_tools,
    tool,
    tool_by_name,
    use_context,
    write_file,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace, run_id="r_test")


# --- the decorator -----------------------------------------------------------------------


def search_notes(
    query: str,
    limit: int = 10,
    lang: str | None = None,
    tags: list[str] = [],  # noqa: B006 - a default the schema must show
    mode: Literal["fast", "deep"] = "fast",
) -> list[str]:
    """Search the notes for a phrase.

    Matches are ranked by relevance.

    Args:
        query: What to look for.
        limit: How many hits at most.
        lang: Only notes in this language.
        tags: Only notes with all of these tags.
        mode: How hard to look.

    Returns:
        The matching note names.
    """
    return [query] * min(limit, 2)


def test_schema_and_description_come_from_hints_and_docstring() -> None:
    t = tool(search_notes)
    assert t.to_api() == {
        "name": "search_notes",
        "description": "Search the notes for a phrase.\n\nMatches are ranked by relevance.",
        "input_schema": {
            "additionalProperties": False,
            "properties": {
                "query": {
                    "description": "What to look for.",
                    "title": "Query",
                    "type": "string",
                },
                "limit": {
                    "default": 10,
                    "description": "How many hits at most.",
                    "title": "Limit",
                    "type": "integer",
                },
                "lang": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "default": None,
                    "description": "Only notes in this language.",
                    "title": "Lang",
                },
                "tags": {
                    "default": [],
                    "description": "Only notes with all of these tags.",
                    "items": {"type": "string"},
                    "title": "Tags",
                    "type": "array",
                },
                "mode": {
                    "default": "fast",
                    "description": "How hard to look.",
                    "enum": ["fast", "deep"],
                    "title": "Mode",
                    "type": "string",
                },
            },
            "required": ["query"],
            "type": "object",
        },
    }
    assert json.loads(json.dumps(t.to_api())) == t.to_api()


def test_numpy_and_rest_docstrings_describe_parameters() -> None:
    @tool
    def numpy_style(a: int) -> int:
        """Double a number.

        Parameters
        ----------
        a : int
            The number to double.
        """
        return 2 * a

    @tool
    def rest_style(b: str) -> str:
        """Shout a word.

        :param b: The word to shout.
        """
        return b.upper()

    assert (
        numpy_style.input_schema["properties"]["a"]["description"]
        == "The number to double."
    )
    assert numpy_style.description == "Double a number."
    assert (
        rest_style.input_schema["properties"]["b"]["description"]
        == "The word to shout."
    )


def test_decorator_forms_and_plain_calls() -> None:
    @tool
    def bare(x: int) -> int:
        """Bare."""
        return x + 1

    @tool()
    def empty_parens(x: int) -> int:
        """Empty parentheses."""
        return x + 2

    @tool(name="renamed-tool", description="Custom words.", timeout=3)
    async def configured(x: int) -> int:
        """Ignored docstring."""
        return x + 3

    assert (
        isinstance(bare, Tool)
        and isinstance(empty_parens, Tool)
        and isinstance(configured, Tool)
    )
    assert (bare.name, bare.timeout, bare.is_async) == ("bare", None, False)
    assert empty_parens.name == "empty_parens"
    assert (configured.name, configured.description, configured.timeout) == (
        "renamed-tool",
        "Custom words.",
        3.0,
    )
    assert configured.is_async
    # Still the plain function.
    assert bare(1) == 2 and empty_parens(1) == 3
    assert asyncio.run(configured(1)) == 4
    assert bare.__name__ == "bare" and bare.__doc__ == "Bare."
    assert list(inspect.signature(bare).parameters) == ["x"]
    # Re-decorating keeps the tool, or rebuilds it with the overrides.
    assert tool(bare) is bare
    renamed = tool(configured, name="other")
    assert (renamed.name, renamed.description, renamed.timeout) == (
        "other",
        "Custom words.",
        3.0,
    )


def test_tool_without_docstring_has_no_description_in_api() -> None:
    @tool
    def nodoc(x: int) -> int:
        return x

    assert nodoc.description == ""
    assert nodoc.to_api() == {
        "name": "nodoc",
        "input_schema": {
            "additionalProperties": False,
            "properties": {"x": {"title": "X", "type": "integer"}},
            "required": ["x"],
            "type": "object",
        },
    }


@pytest.mark.parametrize(
    "bad", ["", "has space", "dot.name", "x" * 65, "ünïcode", "slash/name"]
)
def test_invalid_names_fail_at_decoration(bad: str) -> None:
    with pytest.raises(UserError, match="a tool name must be 1 to 64 characters"):
        tool(name=bad)(search_notes)


def test_lambda_needs_a_name_and_other_misuse_is_refused() -> None:
    with pytest.raises(UserError, match="Invalid tool name '<lambda>'"):
        tool(lambda x: x)
    assert tool(name="identity")(lambda x: x).name == "identity"
    assert tool(name="x" * 64)(search_notes).name == "x" * 64

    def positional(a: int, /) -> int:
        return a

    with pytest.raises(UserError, match="'a' cannot be passed by keyword"):
        tool(positional)

    def gen(n: int):
        yield n

    with pytest.raises(UserError, match="generator"):
        tool(gen)
    with pytest.raises(UserError, match="positive number"):
        tool(timeout=0)(search_notes)
    with pytest.raises(UserError, match="expects a function"):
        tool(42)  # type: ignore[call-overload]

    class Opaque:
        pass

    def untyped(thing: Opaque) -> None:
        pass

    with pytest.raises(
        UserError, match="Cannot build the input schema of tool 'untyped'"
    ):
        tool(untyped)


# --- the run context ---------------------------------------------------------------------


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


# --- running tools -----------------------------------------------------------------------


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


async def test_results_are_json_data_or_their_str(ctx: ToolContext) -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    @tool
    def give(kind: str) -> object:
        """Return something."""
        return {
            "tuple": (1, "é"),
            "intkeys": {1: "a"},
            "none": None,
            "thing": Thing(),
            "nan": float("nan"),
            "path": Path("a/b"),
        }[kind]

    async def run(kind: str) -> ToolOutcome:
        return await call_tool(give, {"kind": kind}, context=ctx)

    assert ((await run("tuple")).result, (await run("tuple")).content) == (
        [1, "é"],
        '[1,"é"]',
    )
    assert (await run("intkeys")).result == {"1": "a"}
    assert ((await run("none")).result, (await run("none")).content) == (None, "null")
    assert ((await run("thing")).result, (await run("thing")).content) == (
        "a thing",
        "a thing",
    )
    assert (await run("nan")).result == "nan"
    assert (await run("path")).result == "a/b"


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


async def test_long_output_is_truncated_with_a_marker(ctx: ToolContext) -> None:
    @tool
    def big(n: int) -> str:
        """Return n x's."""
        return "x" * n

    @tool
    def big_list(n: int) -> list[int]:
        """Return n zeros."""
        return [0] * n

    out = await call_tool(big, {"n": 100}, context=ctx, max_output_chars=100)
    assert (out.content, out.result) == ("x" * 100, "x" * 100)

    out = await call_tool(big, {"n": 12_445}, context=ctx, max_output_chars=100)
    marker = "\n…[truncated 12,345 characters]"
    assert out.content == "x" * 100 + marker
    assert out.result == out.content
    assert len(out.content) == 100 + len(marker)
    assert out.is_error is False

    out = await call_tool(big_list, {"n": 50}, context=ctx, max_output_chars=20)
    full = json.dumps([0] * 50, separators=(",", ":"))  # 101 characters
    assert out.content == full[:20] + "\n…[truncated 81 characters]"
    assert out.result == out.content

    @tool
    def loud() -> None:
        """Fail loudly."""
        raise ToolError("e" * 50)

    out = await call_tool(loud, {}, context=ctx, max_output_chars=10)
    assert (
        out.is_error
        and out.content == "e" * 10 + "\n…[truncated 40 characters]" == out.result
    )


async def test_call_tool_misuse(ctx: ToolContext) -> None:
    with pytest.raises(UserError):
        await call_tool(search_notes, {}, context=ctx)  # type: ignore[arg-type]
    with pytest.raises(UserError):
        await call_tool(
            tool(search_notes), {"query": "q"}, context=ctx, max_output_chars=0
        )
    with pytest.raises(UserError):
        await call_tool(tool(search_notes), {"query": "q"}, context=ctx, timeout=-1)


# --- workspace tools ---------------------------------------------------------------------


async def test_write_read_list_roundtrip(ctx: ToolContext, workspace: Path) -> None:
    out = await call_tool(
        write_file, {"path": "notes/a.md", "content": "héllo\nworld\n"}, context=ctx
    )
    assert out.content == "Wrote 13 bytes to notes/a.md" and not out.is_error
    assert (workspace / "notes" / "a.md").read_bytes() == "héllo\nworld\n".encode()

    out = await call_tool(read_file, {"path": "notes/a.md"}, context=ctx)
    assert (out.content, out.is_error) == ("héllo\nworld\n", False)
    out = await call_tool(read_file, {"path": "./notes/../notes/a.md"}, context=ctx)
    assert out.content == "héllo\nworld\n"

    await call_tool(write_file, {"path": "b.txt", "content": "12345"}, context=ctx)
    await call_tool(
        write_file, {"path": "notes/deep/c.txt", "content": ""}, context=ctx
    )
    out = await call_tool(list_files, {}, context=ctx)
    assert out.content == "\n".join(  # noqa: FLY002 - one line per expected line reads best
        [
            "b.txt  (5 bytes)",
            "notes/",
            "notes/a.md  (13 bytes)",
            "notes/deep/",
            "notes/deep/c.txt  (0 bytes)",
        ]
    )
    out = await call_tool(list_files, {"path": "notes/deep"}, context=ctx)
    assert out.content == "notes/deep/c.txt  (0 bytes)"

    out = await call_tool(write_file, {"path": "b.txt", "content": "new"}, context=ctx)
    assert (
        out.content == "Wrote 3 bytes to b.txt"
        and (workspace / "b.txt").read_text() == "new"
    )


async def test_workspace_tool_errors(ctx: ToolContext, workspace: Path) -> None:
    out = await call_tool(read_file, {"path": "nope/missing.md"}, context=ctx)
    assert out.is_error and out.content.startswith("File not found: 'nope/missing.md'")
    out = await call_tool(list_files, {}, context=ctx)
    assert out.content == "The workspace is empty."
    (workspace / "d").mkdir()
    out = await call_tool(read_file, {"path": "d"}, context=ctx)
    assert out.is_error and "'d' is a folder" in out.content
    out = await call_tool(write_file, {"path": "d", "content": "x"}, context=ctx)
    assert out.is_error and "'d' is a folder" in out.content
    out = await call_tool(list_files, {"path": "d"}, context=ctx)
    assert out.content == "The folder 'd' is empty."
    (workspace / "f.bin").write_bytes(b"\x00\x01")
    out = await call_tool(read_file, {"path": "f.bin"}, context=ctx)
    assert out.is_error and "binary" in out.content
    out = await call_tool(list_files, {"path": "f.bin"}, context=ctx)
    assert out.is_error and "is a file" in out.content
    out = await call_tool(
        write_file, {"path": "f.bin/x.txt", "content": "x"}, context=ctx
    )
    assert out.is_error and "a file is in the way" in out.content
    out = await call_tool(read_file, {"path": ""}, context=ctx)
    assert out.is_error and "The path is empty" in out.content


async def test_size_caps(ctx: ToolContext, workspace: Path) -> None:
    too_big = "a" * (MAX_FILE_BYTES + 1)
    out = await call_tool(
        write_file, {"path": "big.txt", "content": too_big}, context=ctx
    )
    assert (
        out.is_error
        and "1,000,001 bytes; write_file writes at most 1,000,000 bytes" in out.content
    )
    assert not (workspace / "big.txt").exists()
    out = await call_tool(
        write_file,
        {"path": "max.txt", "content": "é" * (MAX_FILE_BYTES // 2)},
        context=ctx,
    )
    assert not out.is_error
    (workspace / "big.txt").write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    out = await call_tool(read_file, {"path": "big.txt"}, context=ctx)
    assert out.is_error and "'big.txt' is 1,000,001 bytes" in out.content


async def test_listing_is_bounded(ctx: ToolContext, workspace: Path) -> None:
    for i in range(MAX_LIST_ENTRIES + 20):
        (workspace / f"f{i:04d}.txt").write_text("")
    out = await call_tool(list_files, {}, context=ctx, max_output_chars=10**6)
    lines = out.content.splitlines()
    assert len(lines) == MAX_LIST_ENTRIES + 1
    assert lines[0] == "f0000.txt  (0 bytes)" and lines[
        MAX_LIST_ENTRIES - 1
    ].startswith("f0499.txt")
    assert lines[-1].startswith("… listing stopped after 500 entries")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A sibling of the workspace holding a file the tools must never touch."""
    sibling = tmp_path / "secret"
    sibling.mkdir()
    (sibling / "passwd").write_text("top secret")
    return sibling


ESCAPES = [
    "..",
    "../",
    "../secret/passwd",
    "a/../../secret/passwd",
    "./../secret",
    "/etc/passwd",
    "/",
    "C:\\x",
]


@pytest.mark.parametrize("path", ESCAPES)
async def test_lexical_escapes_are_refused(
    ctx: ToolContext, outside: Path, path: str
) -> None:
    for t, params in [
        (read_file, {"path": path}),
        (write_file, {"path": path, "content": "pwned"}),
        (list_files, {"path": path}),
    ]:
        out = await call_tool(t, params, context=ctx)
        assert out.is_error, (t.name, path, out)
        assert "the path must stay inside the workspace" in out.content
        assert "secret" not in out.content.replace(
            path, ""
        )  # Nothing from outside leaks.
    assert (outside / "passwd").read_text() == "top secret"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]


async def test_symlinks_leading_out_are_refused(
    ctx: ToolContext, workspace: Path, outside: Path, tmp_path: Path
) -> None:
    tmp_target = tmp_path / "tmpdir"
    tmp_target.mkdir()
    (workspace / "to_tmp").symlink_to(tmp_target)  # A directory link to another place.
    (workspace / "to_secret").symlink_to(outside)  # A directory link to a sibling.
    (workspace / "passwd_link").symlink_to(
        outside / "passwd"
    )  # A symlinked final component.
    (workspace / "dangling").symlink_to(
        outside / "new.txt"
    )  # A link to a file that does not exist yet.
    (workspace / "sub").mkdir()
    (workspace / "sub" / "up").symlink_to(
        "../../secret", target_is_directory=True
    )  # A relative link.

    attempts = [
        (read_file, {"path": "passwd_link"}),
        (read_file, {"path": "to_secret/passwd"}),
        (read_file, {"path": "sub/up/passwd"}),
        (write_file, {"path": "passwd_link", "content": "pwned"}),
        (write_file, {"path": "to_secret/passwd", "content": "pwned"}),
        (write_file, {"path": "to_secret/new/deeper.txt", "content": "pwned"}),
        (write_file, {"path": "to_tmp/x.txt", "content": "pwned"}),
        (write_file, {"path": "dangling", "content": "pwned"}),
        (write_file, {"path": "sub/up/passwd", "content": "pwned"}),
        (list_files, {"path": "to_secret"}),
        (list_files, {"path": "to_tmp"}),
        (list_files, {"path": "sub/up"}),
    ]
    for t, params in attempts:
        out = await call_tool(t, params, context=ctx)
        assert out.is_error, (t.name, params, out)
        assert (
            "symbolic link: the path must stay inside the workspace" in out.content
        ), out.content
        assert "top secret" not in out.content
    assert (outside / "passwd").read_text() == "top secret"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
    assert list(tmp_target.iterdir()) == []

    # Listing the workspace shows the links without following them.
    out = await call_tool(list_files, {}, context=ctx)
    assert "top secret" not in out.content and "passwd  (" not in out.content
    assert "to_secret  (symbolic link)" in out.content.splitlines()


async def test_symlinks_inside_the_workspace_are_followed(
    ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "real").mkdir()
    (workspace / "real" / "a.txt").write_text("inside")
    (workspace / "alias").symlink_to(workspace / "real")
    out = await call_tool(read_file, {"path": "alias/a.txt"}, context=ctx)
    assert (out.is_error, out.content) == (False, "inside")


async def test_workspace_that_is_itself_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real_ws"
    real.mkdir()
    (tmp_path / "link_ws").symlink_to(real)
    ctx = ToolContext(workspace=tmp_path / "link_ws", run_id="r")
    out = await call_tool(write_file, {"path": "a.txt", "content": "hi"}, context=ctx)
    assert not out.is_error and (real / "a.txt").read_text() == "hi"


def test_workspace_tools_called_directly(ctx: ToolContext, workspace: Path) -> None:
    with pytest.raises(UserError, match="outside a tool call"):
        read_file("a.txt")
    with use_context(ctx):
        assert write_file("x/y.txt", "hey") == "Wrote 3 bytes to x/y.txt"
        assert read_file("x/y.txt") == "hey"
        with pytest.raises(ToolError, match="the path must stay inside the workspace"):
            read_file("../x")
    assert os.listdir(workspace) == ["x"]


def test_builtin_tool_definitions() -> None:
    assert sorted(BUILTIN_TOOLS) == ["list_files", "read_file", "write_file"]
    api = write_file.to_api()
    assert api["input_schema"]["required"] == ["path", "content"]
    assert api["input_schema"]["properties"]["path"]["description"].startswith(
        "The file to write, relative to the workspace"
    )
    assert api["description"].startswith("Write a text file in the workspace")
    assert list_files.to_api()["input_schema"]["properties"]["path"]["default"] == "."


# --- registry ----------------------------------------------------------------------------


def test_resolve_tools() -> None:
    assert resolve_tools(None) == [list_files, read_file, write_file]
    assert resolve_tools([]) == []

    @tool
    def mine(x: int) -> int:
        """Mine."""
        return x

    def plain(y: str) -> str:
        """Plain."""
        return y

    tools = resolve_tools([mine, plain, "read_file"])
    assert [t.name for t in tools] == ["mine", "plain", "read_file"]
    assert tools[0] is mine and tools[2] is read_file
    assert isinstance(tools[1], Tool) and tools[1].func is plain
    assert resolve_tools("write_file") == [write_file]

    with pytest.raises(UserError) as info:
        resolve_tools(["read_file", "rm_rf"])
    assert str(info.value).startswith(
        "Unknown tool 'rm_rf'. Built-in tools: list_files, read_file, write_file"
    )
    with pytest.raises(UserError, match="Two tools are named 'read_file'"):
        resolve_tools(["read_file", read_file])
    with pytest.raises(UserError, match="Two tools are named 'mine'"):
        resolve_tools([mine, tool(name="mine")(plain)])
    with pytest.raises(UserError, match="Cannot use 42 as a tool"):
        resolve_tools([42])  # type: ignore[list-item]


def test_tool_by_name() -> None:
    tools = resolve_tools(None)
    assert tool_by_name(tools, "read_file") is read_file
    assert tool_by_name(BUILTIN_TOOLS, "write_file") is write_file
    with pytest.raises(ToolError) as info:
        tool_by_name(tools, "delete_everything")
    assert (
        str(info.value)
        == "Unknown tool 'delete_everything'. Available tools: list_files, read_file, write_file."
    )
    failure = ToolOutcome.failure(str(info.value))
    assert (failure.is_error, failure.result, failure.content) == (
        True,
        str(info.value),
        str(info.value),
    )


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


# --- what errors tell the model about paths ---------------------------------------------


async def test_a_name_too_long_in_a_run_names_the_path_relative_to_the_workspace(tmp_path: Path) -> None:
    import workbench as wb
    from conftest import write_scenario

    name = "n" * 300
    calls = [{"name": "write_file", "input": {"path": f"{name}/notes.md", "content": "x"}},
             {"name": "write_file", "input": {"path": name, "content": "x"}},
             {"name": "list_files", "input": {"path": name}}]
    scenario = write_scenario(tmp_path / "scenario.json", plan={"goal": "g", "phases": [{"name": "p", "description": "d"}]},
                              phases=[[{"thinking": "Write.", "toolCalls": calls}, {"text": "Done."}]],
                              final={"text": "Done."}, react=[{"thinking": "Write.", "toolCalls": calls}, {"text": "Done."}])
    run = wb.run("Write a note", model="simulated", strategy="react", options={"scenario": scenario})
    assert (await asyncio.wait_for(run.wait_async(), 30)).status == "complete"
    results = [(c.tool_name, c.is_error, c.result) for c in run.state.tool_calls]
    assert results == [
        ("write_file", True, f"Cannot create the folders for '{name}/notes.md': File name too long"),
        ("write_file", True, f"Cannot write '{name}': File name too long"),
        ("list_files", True, f"Cannot list '{name}': File name too long"),
    ]
    workspace = str(run.workspace)
    assert all(workspace not in e.to_json() for e in run.events if e.type == "tool:complete")


async def test_os_errors_name_workspace_paths_only(ctx: ToolContext, workspace: Path, tmp_path: Path) -> None:
    (workspace / "loop_a").symlink_to("loop_b")
    (workspace / "loop_b").symlink_to("loop_a")
    long_path = "/".join(["d" * 200] * 25)  # each part fits, the whole path does not
    attempts = [
        (write_file, {"path": "loop_a/x.txt", "content": "x"},
         "Cannot create the folders for 'loop_a/x.txt': a file is in the way."),
        (read_file, {"path": "loop_a"}, "Cannot read 'loop_a': Too many levels of symbolic links"),
        (write_file, {"path": "loop_a", "content": "x"}, "Cannot write 'loop_a': Too many levels of symbolic links"),
        (read_file, {"path": long_path}, f"Cannot read '{long_path}': File name too long"),
        (list_files, {"path": long_path}, f"Cannot list '{long_path}': File name too long"),
    ]
    for t, params, message in attempts:
        out = await call_tool(t, params, context=ctx)
        assert (out.is_error, out.content, out.result) == (True, message, message), (t.name, params)

    # A workspace that cannot be made: the message says so without its real path.
    (tmp_path / "a_file").write_text("")
    blocked = ToolContext(workspace=tmp_path / "a_file" / "ws", run_id="r_test")
    out = await call_tool(list_files, {}, context=blocked)
    assert (out.is_error, out.content) == (True, "Cannot create the workspace folder: Not a directory")


async def test_errors_of_your_own_tools_name_workspace_paths_relative_to_it(ctx: ToolContext, workspace: Path) -> None:
    @tool
    def word_count(path: str) -> int:
        """Count the words in a workspace file."""
        return len((current_context().workspace / path).read_text().split())

    out = await call_tool(word_count, {"path": "notes.md"}, context=ctx)
    assert (out.is_error, out.content) == (True, "FileNotFoundError: [Errno 2] No such file or directory: 'notes.md'")

    @tool
    def where() -> str:
        """Fail naming the workspace itself, and a sibling folder."""
        raise RuntimeError(f"not in {current_context().workspace} nor {str(current_context().workspace) + '2'}")

    out = await call_tool(where, {}, context=ctx)
    assert out.content == f"RuntimeError: not in . nor {workspace}2"


# --- output that is not valid text --------------------------------------------------------


async def test_output_that_is_not_valid_text_is_escaped_before_it_is_logged(ctx: ToolContext, workspace: Path) -> None:
    # A str holding lone surrogates (how Python decodes bytes that are not UTF-8) cannot be
    # encoded: in an event it would lose the run file, in a request it would fail the model call.
    odd = os.fsdecode(b"bad\xff")

    @tool
    def name() -> str:
        """A file name that is not UTF-8."""
        return odd + ".txt"

    @tool
    def data() -> dict[str, list[str]]:
        """JSON data holding such text, and a lone surrogate of another kind."""
        return {odd: [odd, "half \ud83d"]}

    class Opaque:
        def __str__(self) -> str:
            return f"Opaque({odd})"

    @tool
    def opaque() -> object:
        """A value with no JSON form."""
        return Opaque()

    @tool
    def broken() -> str:
        """Fails quoting such text."""
        raise RuntimeError(f"cannot open {odd}")

    outcomes = [await call_tool(t, {}, context=ctx) for t in (name, data, opaque, broken)]
    assert [(o.result, o.content, o.is_error) for o in outcomes] == [
        ("bad\\xff.txt", "bad\\xff.txt", False),
        ({"bad\\xff": ["bad\\xff", "half \\ud83d"]}, '{"bad\\\\xff":["bad\\\\xff","half \\\\ud83d"]}', False),
        ("Opaque(bad\\xff)", "Opaque(bad\\xff)", False),
        ("RuntimeError: cannot open bad\\xff", "RuntimeError: cannot open bad\\xff", True),
    ]
    assert ToolOutcome.failure(f"no tool {odd!s}").content == "no tool bad\\xff"

    (workspace / "d").mkdir()
    for raw in (b"bad\xff.txt", b"bad\xfe.txt", b"d/\xe9t\xe9.md"):
        with open(os.path.join(os.fsencode(workspace), raw), "wb"):
            pass
    out = await call_tool(list_files, {}, context=ctx)
    assert out.content == "bad\\xfe.txt  (0 bytes)\nbad\\xff.txt  (0 bytes)\nd/\nd/\\xe9t\\xe9.md  (0 bytes)"
    for o in [*outcomes, out]:
        o.content.encode("utf-8")
        json.dumps(o.result, ensure_ascii=False).encode("utf-8")
