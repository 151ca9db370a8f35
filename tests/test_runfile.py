"""Run files: header then envelopes; readers refuse what they cannot read and name the line."""

import json
from pathlib import Path

import pytest
from test_reducer import sample_run

from workbench.core import events as ev
from workbench.core.runfile import RunHeader, iter_run_file, read_run_file, write_run_file
from workbench.errors import RunFileError

HEADER = RunHeader(run_id="r_test", task="Write a poem", model="simulated", created_at="2026-11-24T10:00:00.000Z")


def test_write_then_read_gives_the_same_events(tmp_path: Path):
    events = sample_run()
    path = write_run_file(tmp_path / "run.jsonl", HEADER, events)
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "workbench-run", "version": 1, "runId": "r_test",
                                    "task": "Write a poem", "model": "simulated", "createdAt": "2026-11-24T10:00:00.000Z"}
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
        (('{"format": "workbench-run", "version": 2}',), r"line 1: this run file has version 2, newer"),
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
