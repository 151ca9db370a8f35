"""The workspace tools (``list_files``, ``read_file``, ``write_file``): what they do, their caps, and
the paths they refuse."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from workbench.agent.tools import (
    BUILTIN_TOOLS,
    MAX_FILE_BYTES,
    MAX_LIST_ENTRIES,
    ToolContext,
    call_tool,
    list_files,
    read_file,
    use_context,
    write_file,
)
from workbench.errors import ToolError, UserError


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


# --- paths that lead out of the workspace ---------------------------------------------


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


# --- what errors tell the model about paths -------------------------------------------


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
