"""What a tool's result becomes for the model and the log: JSON data or its str, truncated, valid text,
with workspace paths relative to the workspace."""

from __future__ import annotations

import json
import os
from pathlib import Path

from workbench.agent.tools import (
    ToolContext,
    ToolOutcome,
    call_tool,
    current_context,
    list_files,
    tool,
)
from workbench.errors import ToolError


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


# --- output that is not valid text ----------------------------------------------------


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
