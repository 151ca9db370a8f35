"""The SQLite store: runs and events survive a restart; interrupted runs get a terminal event."""

import os
import sqlite3
from pathlib import Path

import pytest
from test_reducer import sample_run

from workbench.core import events as ev
from workbench.core.handle import Run
from workbench.core.log import RunLog
from workbench.core.store import RunStore, StoreInUse, fcntl


def make_run(run_id: str, owner: str, created: str) -> Run:
    return Run(run_id=run_id, task=f"task {run_id}", model="simulated", strategy="plan", created_at=created,
               owner=owner, log=RunLog(run_id))


def test_events_are_persisted_in_wal_mode_and_read_back(tmp_path: Path):
    store = RunStore(tmp_path / "runs.db")
    run = make_run("r_1", "ada", "2026-11-24T10:00:00.000Z")
    run.log.append(ev.ExecutionStartedData(task="t", started_at="x", model="simulated", strategy="plan"))
    store.add(run)  # events appended before add are written too
    for e in sample_run()[1:]:
        run.log.append(e.data)
    assert store.flush()
    store.close()
    assert sqlite3.connect(tmp_path / "runs.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    reopened = RunStore(tmp_path / "runs.db")
    loaded = reopened.load("r_1")
    assert [e.to_dict() for e in loaded.events] == [e.to_dict() for e in run.events]
    assert loaded.log.closed and loaded.owner == "ada"
    [summary] = reopened.summaries("ada")
    assert summary["status"] == "complete" and summary["eventCount"] == len(run.events)
    assert reopened.load("r_missing") is None
    reopened.close()


def test_summaries_are_per_owner_newest_first_with_shared_runs(tmp_path: Path):
    store = RunStore(tmp_path / "runs.db")
    store.add(make_run("r_a", "ada", "2026-11-24T10:00:00.000Z"))
    store.add(make_run("r_b", "ada", "2026-11-24T11:00:00.000Z"))
    store.add(make_run("r_c", "bob", "2026-11-24T12:00:00.000Z"), shared=True)
    assert [s["id"] for s in store.summaries("ada")] == ["r_b", "r_a"]
    assert [s["id"] for s in store.summaries("ada", include_shared=True)] == ["r_c", "r_b", "r_a"]
    assert [s["id"] for s in store.summaries("bob")] == ["r_c"]
    assert [s["id"] for s in store.summaries()] == ["r_c", "r_b", "r_a"]
    store.close()


def test_recover_closes_runs_left_running(tmp_path: Path):
    store = RunStore(tmp_path / "runs.db")
    run = make_run("r_1", "ada", "2026-11-24T10:00:00.000Z")
    store.add(run)
    run.log.append(ev.ExecutionStartedData(task="t", started_at="x", model="simulated", strategy="plan"))
    run.log.append(ev.ThinkingDeltaData(step_id="s1", delta="half"))
    store.close()  # the process stops mid-run

    again = RunStore(tmp_path / "runs.db")
    assert [r.id for r in again.recover()] == ["r_1"]
    assert again.flush()
    loaded = again.load("r_1")
    last = loaded.events[-1]
    assert (last.id, last.type, last.data.error.type) == (3, "execution:error", "interrupted")
    assert loaded.state.status == "interrupted"
    assert again.summaries("ada")[0]["status"] == "interrupted"
    assert again.recover() == []
    again.close()


@pytest.mark.skipif(fcntl is None, reason="stores are locked with fcntl (Linux, macOS)")
def test_a_store_has_one_owner_at_a_time(tmp_path: Path):
    first = RunStore(tmp_path / "runs.db")
    run = make_run("r_1", "ada", "2026-11-24T10:00:00.000Z")
    first.add(run)
    run.log.append(ev.ExecutionStartedData(task="t", started_at="x", model="simulated", strategy="plan"))
    assert first.flush()
    with pytest.raises(StoreInUse) as refused:  # it would take r_1 for a run its process left behind
        RunStore(tmp_path / "runs.db")
    message = str(refused.value)
    assert str(tmp_path / "runs.db") in message and f"pid {os.getpid()}" in message
    assert "--WorkbenchApp.store_path" in message and "--store" in message
    assert first.summaries("ada")[0]["status"] == "running"  # untouched: nothing was recovered
    first.close()
    again = RunStore(tmp_path / "runs.db")  # closing let it go
    assert [r.id for r in again.recover()] == ["r_1"]
    again.close()


def test_a_file_that_is_not_a_store_is_an_error_and_stays_free(tmp_path: Path):
    (tmp_path / "runs.db").write_bytes(b"this is not a database, it is a note to self\n" * 100)
    for _ in range(2):  # the same error both times: the failed open did not keep the file locked
        with pytest.raises(sqlite3.DatabaseError):
            RunStore(tmp_path / "runs.db")


def test_a_store_written_by_version_1_reads_its_message_events_as_text(tmp_path: Path):
    store = RunStore(tmp_path / "runs.db")
    run = make_run("r_1", "ada", "2026-11-24T10:00:00.000Z")
    store.add(run)
    for e in sample_run():
        run.log.append(e.data)
    assert store.flush()
    store.close()
    with sqlite3.connect(tmp_path / "runs.db") as db:  # as a version-1 workbench stored it
        db.execute("UPDATE events SET type = 'message', body = replace(body, '\"type\":\"text\"', '\"type\":\"message\"')"
                   " WHERE type = 'text'")
        assert db.execute("SELECT count(*) FROM events WHERE body LIKE '%\"type\":\"message\"%'").fetchone() == (1,)
    db.close()

    reopened = RunStore(tmp_path / "runs.db")
    loaded = reopened.load("r_1")
    assert [e.to_dict() for e in loaded.events] == [e.to_dict() for e in run.events]
    assert [s.text for s in loaded.state.messages] == ["Done"]
    reopened.close()
