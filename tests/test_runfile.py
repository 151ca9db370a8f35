"""Run files: header then envelopes; readers refuse what they cannot read and name the line."""

import json
from pathlib import Path

import pytest
from test_reducer import sample_run

import workbench as wb
from workbench.core import events as ev
from workbench.core.runfile import RunHeader, iter_run_file, read_run_file, write_run_file
from workbench.errors import RunFileError

V1_FILE = Path(__file__).parent / "fixtures" / "runs" / "v1-message.jsonl"
"""A run file as version 1 wrote it: its assistant text is a ``message`` event."""
HEADER = RunHeader(run_id="r_test", task="Write a poem", model="simulated", created_at="2026-11-24T10:00:00.000Z")


def test_write_then_read_gives_the_same_events(tmp_path: Path):
    events = sample_run()
    path = write_run_file(tmp_path / "run.jsonl", HEADER, events)
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "workbench-run", "version": 2, "runId": "r_test",
                                    "task": "Write a poem", "model": "simulated", "createdAt": "2026-11-24T10:00:00.000Z",
                                    "parentId": None, "forkedAt": None}
    assert [json.loads(l) for l in lines[1:]] == [e.to_dict() for e in events]
    header, loaded = read_run_file(path)
    assert header == HEADER
    assert loaded == events


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD_HEADER = json.dumps(HEADER.to_dict())


@pytest.mark.parametrize(
    "lines, message",
    [
        ((), r"line 1: the file is empty"),
        (('{"format": "something-else", "version": 1}',), r"line 1: not a workbench run file"),
        (('{"format": "workbench-run", "version": 3}',), r"line 1: this run file has version 3, newer than this "
                                                          r"workbench reads \(2\); upgrade agent-workbench"),
        (("not json",), r"line 1: the header is not JSON"),
        ((GOOD_HEADER, "{oops"), r"line 2: malformed JSON"),
        ((GOOD_HEADER, '{"id": 1, "runId": "r", "type": "tool:start", "ts": "t", "data": {}}'), r"line 2: invalid event: .*toolName"),
        ((GOOD_HEADER, sample_run()[0].to_json(), sample_run()[2].to_json()), r"line 3: event ids must run 1, 2, 3"),
    ],
)
def test_bad_files_are_refused_with_the_line(tmp_path: Path, lines, message):
    path = write(tmp_path, *lines) if lines else tmp_path / "empty.jsonl"
    if not lines:
        path.write_text("")
    with pytest.raises(RunFileError, match=message) as info:
        read_run_file(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(RunFileError, match="no such file"):
        read_run_file(tmp_path / "nope.jsonl")


def test_unknown_event_types_are_kept_and_ignored(tmp_path: Path):
    events = sample_run()
    future = json.dumps({"id": 2, "runId": "r_test", "type": "agent:dream", "ts": "t", "data": {"x": 1}})
    renumbered = [events[0].to_json(), future] + [
        e.model_copy(update={"id": e.id + 1}).to_json() for e in events[1:]
    ]
    path = write(tmp_path, GOOD_HEADER, *renumbered)
    _, loaded = read_run_file(path)
    assert isinstance(loaded[1], ev.UnknownEvent) and len(loaded) == len(events) + 1
    out = write_run_file(tmp_path / "again.jsonl", HEADER, loaded)
    assert out.read_text().splitlines()[2] == future.replace(" ", "")


def test_streaming_reader_is_lazy(tmp_path: Path):
    path = write_run_file(tmp_path / "run.jsonl", HEADER, sample_run())
    header, stream = iter_run_file(path)
    assert header.run_id == "r_test"
    assert next(stream).type == "execution:started"


def test_a_failed_write_keeps_the_old_file(tmp_path: Path):
    path = write_run_file(tmp_path / "run.jsonl", HEADER, sample_run())
    before = path.read_text()

    def broken():
        yield sample_run()[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_run_file(path, HEADER, broken())
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.jsonl"]


def test_run_files_get_the_usual_permissions(tmp_path: Path):
    import os

    umask = os.umask(0o022)
    try:
        path = write_run_file(tmp_path / "run.jsonl", HEADER, sample_run())
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_version_1_file_reads_with_its_message_events_as_text(tmp_path: Path):
    header, events = read_run_file(V1_FILE)
    assert (header.run_id, header.parent_id, header.forked_at) == ("r_v1fixture000001", None, None)
    assert [e.type for e in events] == [
        "execution:started", "text:delta", "text:delta", "text", "usage", "execution:complete"]
    text = events[3]
    assert isinstance(text, ev.Text) and text.data == ev.TextData(step_id="s1", text="Tides come and go.")
    assert text.to_dict()["type"] == "text"
    run = wb.load(V1_FILE)
    assert run.state.status == "complete" and [s.text for s in run.state.messages] == ["Tides come and go."]
    # Saved again, it is a version-2 file with the same events under the new name.
    again = write_run_file(tmp_path / "v2.jsonl", header, events).read_text().splitlines()
    assert json.loads(again[0])["version"] == 2 and json.loads(again[0])["strategy"] == "react"
    old = V1_FILE.read_text().splitlines()
    assert again[1:-1] == [line.replace('"type":"message"', '"type":"text"') for line in old[1:-1]]
    assert json.loads(again[-1]) == {**json.loads(old[-1]), "data": {**json.loads(old[-1])["data"], "costUsd": None}}


def test_a_stream_or_store_line_of_type_message_is_read_as_text():
    line = '{"id":4,"runId":"r_x","type":"message","ts":"t","data":{"stepId":"s1","text":"hi","phaseId":"p1"}}'
    event = ev.parse_event(line)
    assert isinstance(event, ev.Text) and event.data.phase_id == "p1"
    assert event.to_json() == line.replace('"message"', '"text"')


def test_a_forked_run_s_header_keeps_its_parent(tmp_path: Path):
    forked = RunHeader(run_id="r_f", task="t", model="simulated", created_at="c", parent_id="r_p", forked_at=12)
    path = write_run_file(tmp_path / "f.jsonl", forked, sample_run())
    assert json.loads(path.read_text().splitlines()[0])["parentId"] == "r_p"
    assert read_run_file(path)[0] == forked


def test_the_shipped_run_file_stays_version_1_and_notebooks_read_it_as_text():
    """notebooks/runs/coffee-shop.jsonl is kept as a version-1 file: notebook 04 loading it proves compatibility."""
    shipped = Path(__file__).resolve().parent.parent / "notebooks" / "runs" / "coffee-shop.jsonl"
    lines = shipped.read_text().splitlines()
    assert json.loads(lines[0])["version"] == 1 and sum('"type":"message"' in line for line in lines) > 0
    run = wb.load(shipped)
    assert run.state.status == "complete" and {e.type for e in run.events} >= {"text"}
    assert "message" not in {e.type for e in run.events}
