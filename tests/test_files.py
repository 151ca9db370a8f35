"""The workspace and the files a run wrote: from its events, read for the view only inside the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_widget import capture, message, wait_for  # noqa: F401 - capture is a fixture

import workbench as wb
from workbench.core import events as ev
from workbench.core.outputs import written_paths
from workbench.notebook.files import MAX_INLINE_BYTES, file_content, files_note
from workbench.notebook.widget import RunView

TRIP = ["notes/brief.md", "notes/research.md", "notes/outline.md", "three-day-trip-plan.md"]


@pytest.fixture(scope="module")
def trip(tmp_path_factory) -> wb.Run:
    workspace = tmp_path_factory.mktemp("trip")
    (workspace / "from-an-earlier-run.md").write_text("# not this run's\n")  # a reused workspace
    run = wb.run("Plan a three-day trip to Lisbon", model="simulated", options={"workspace": str(workspace), "pace": 0})
    run.wait(timeout=30)
    assert run.status == "complete"
    return run


def test_files_are_the_ones_this_run_wrote_in_order_not_whatever_the_workspace_holds(trip):
    assert trip.files() == [Path(trip.workspace).resolve() / name for name in TRIP]
    note = files_note(trip)
    assert note["where"] == "local" and note["workspace"] == str(Path(trip.workspace).resolve())
    assert [(f["path"], f["size"]) for f in note["files"]] == [
        (name, (Path(trip.workspace) / name).stat().st_size) for name in TRIP]


def written_run(calls: list[tuple[str, dict, bool]], workspace: Path | None) -> wb.Run:
    run = wb.Run(run_id="r_w", task="t", model="simulated", strategy="react", created_at="2026-01-01T00:00:00.000Z",
                 workspace=workspace)
    for i, (tool, params, error) in enumerate(calls):
        run.log.append(ev.ToolStartData(tool_name=tool, params=params, tool_use_id=f"u{i}"))
        run.log.append(ev.ToolCompleteData(tool_name=tool, result="x", duration=1, tool_use_id=f"u{i}", is_error=error))
    run.log.close()
    return run


def test_failed_writes_reads_and_repeats_are_not_listed_twice_or_at_all():
    run = written_run([("write_file", {"path": "./a.md", "content": "1"}, False),
                       ("read_file", {"path": "b.md"}, False),
                       ("write_file", {"path": "../out.md", "content": "2"}, True),
                       ("write_file", {"path": "x/../a.md", "content": "3"}, False),
                       ("write_file", {"path": "c.txt", "content": "4"}, False)], None)
    assert written_paths(run.events) == ["a.md", "c.txt"]
    # No workspace on this machine: the names as the run had them, and the view says where it was.
    assert run.files() == [Path("a.md"), Path("c.txt")]
    assert files_note(run) == {"where": "unknown", "workspace": None, "workspaceHome": None,
                               "files": [{"path": "a.md", "size": None}, {"path": "c.txt", "size": None}]}
    assert file_content(run, "a.md") == {"path": "a.md", "error": "the workspace of this run is not on this machine"}


def test_a_file_is_shown_as_markdown_or_text_limited_and_only_inside_the_workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.md").write_text("# Title\n\n<script>alert(1)</script>\n")
    (ws / "c.txt").write_text("<b>plain</b>\n")
    (ws / "big.txt").write_text("y" * (MAX_INLINE_BYTES + 10))
    (ws / "bin.dat").write_bytes(b"\x00\x01")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", ws / "link.txt")
    names = ["a.md", "c.txt", "big.txt", "bin.dat", "link.txt", "gone.md"]
    run = written_run([("write_file", {"path": n, "content": ""}, False) for n in names], ws)
    assert file_content(run, "a.md") == {"path": "a.md", "size": 35, "truncated": False,
                                         "html": "<h1>Title</h1>\n<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"}
    assert file_content(run, "c.txt") == {"path": "c.txt", "size": 13, "truncated": False, "text": "<b>plain</b>\n"}
    big = file_content(run, "big.txt")
    assert big["truncated"] and big["size"] == MAX_INLINE_BYTES + 10 and len(big["text"]) == MAX_INLINE_BYTES
    assert file_content(run, "bin.dat")["error"] == "a binary file: open it in an editor"
    assert file_content(run, "link.txt") == {"path": "link.txt", "error": "the file now leads outside the workspace"}
    assert file_content(run, "gone.md") == {"path": "gone.md", "error": "the file is gone from the workspace"}
    assert file_content(run, "../secret.txt") == {"path": "../secret.txt", "error": "this run did not write that file"}
    assert file_content(run, None) == {"path": "", "error": "this run did not write that file"}


def test_the_widget_sends_the_files_after_the_run_and_answers_for_one_file(trip, capture):  # noqa: F811
    view = RunView(trip)
    sent = capture(view)
    message(view, {"kind": "ready"})
    wait_for(lambda: sent.of_kind("files"))
    kinds = [m["kind"] for _, m in sent.messages]
    assert kinds[-1] == "files" and set(kinds[:-1]) == {"events"}
    assert sent.of_kind("files")[0][1] == {"kind": "files", "runId": trip.id, **files_note(trip)}  # runId: a view may re-target
    message(view, {"kind": "file", "path": "three-day-trip-plan.md", "requestId": "q1"})
    wait_for(lambda: sent.of_kind("file"))
    reply = sent.of_kind("file")[0][1]
    assert reply == {"kind": "file", "requestId": "q1", **file_content(trip, "three-day-trip-plan.md")}
    assert reply["html"].startswith("<h1>")
