"""The notebook-facing API: tables, replay, the static summary, the display bundle and the magic."""

from __future__ import annotations

import asyncio
import time

import pytest

import workbench as wb
from workbench.notebook.display import mimebundle
from workbench.notebook.summary import summary_html


@pytest.fixture(scope="module")
def finished() -> wb.Run:
    run = wb.run("Create a landing page for a coffee shop", model="simulated")
    run.wait(timeout=30)
    return run


def test_to_pandas_has_one_row_per_event(finished: wb.Run):
    frame = finished.to_pandas()
    assert list(frame["id"]) == list(range(1, len(finished.events) + 1))
    assert list(frame["type"]) == [e.type for e in finished.events]
    assert str(frame["ts"].dtype).startswith("datetime64")
    tools = frame[frame["type"] == "tool:complete"]
    assert set(tools["tool_name"]) >= {"write_file", "read_file"} and tools["duration"].notna().all()
    thoughts = frame[frame["type"] == "thinking"]
    assert list(thoughts["text"]) == [s.text for s in finished.state.thinking_steps]
    assert frame.iloc[-1]["text"] == finished.state.result


async def test_replay_restreams_the_same_events_with_scaled_timing(finished: wb.Run):
    replay = finished.replay(speed=0)
    await asyncio.wait_for(replay.wait_async(), 10)
    assert [e.to_dict() for e in replay.events] == [e.to_dict() for e in finished.events]
    slow = wb.load(finished.save(finished.workspace / "run.jsonl")).replay(speed=0.001, max_gap=0.05)
    began = time.monotonic()
    seen = 0
    async for _ in slow.subscribe():
        seen += 1
        if seen == 5:
            break
    assert time.monotonic() - began >= 0.05  # it waits between events that were apart
    assert slow.cancel()
    await asyncio.wait_for(slow.wait_async(), 5)
    assert slow.done and len(slow.events) < len(finished.events)
    with pytest.raises(wb.UserError):
        finished.replay(speed=-1)


def test_summary_html_shows_the_plan_phases_and_result(finished: wb.Run):
    html = summary_html(finished.state)
    assert "Create a landing page for a coffee shop" in html and ">complete<" in html
    for phase in finished.state.phases.values():
        assert f"✓ {phase.name}" in html
    assert "tool calls" in html
    assert "The landing page is ready" in html
    assert "<script" not in html


def test_summary_html_escapes_and_shows_errors():
    with wb.record("<b>bold</b> task") as rec:
        rec.fail("it <broke>", error_type="agent_error")
    html = summary_html(rec.run.state)
    assert "&lt;b&gt;bold&lt;/b&gt; task" in html and "it &lt;broke&gt;" in html and ">error<" in html


def test_the_display_bundle_has_the_widget_and_the_static_summary(finished: wb.Run):
    view = finished.view()
    bundle = mimebundle(finished, view)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    assert bundle["text/html"] == summary_html(finished.state)
    assert bundle["text/plain"].startswith("<Run r_")
    view.close()


def test_the_agent_magic_runs_the_cell_as_a_task():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext workbench")
    result = ip.run_cell("%%agent --model simulated --strategy react --name my_run\nWrite a haiku about tides")
    run = ip.user_ns["my_run"]
    assert isinstance(run, wb.Run) and result.result is run
    assert run.task == "Write a haiku about tides" and run.strategy == "react"
    assert run.wait(timeout=30).status == "complete"
    bad = ip.run_cell("%%agent --model gpt-4\nWrite a haiku")
    assert bad.result is None


def test_a_run_shown_while_it_goes_is_shown_once_more_with_its_final_summary():
    import time

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    run = wb.run("Write a haiku about tides", model="simulated", strategy="react", options={"pace": 500})
    with capture_output() as captured:
        display(run)
        state = run.wait(60)
        deadline = time.monotonic() + 10
        while len(captured.outputs) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    first, last = captured.outputs
    assert not first.update and last.update and last.data["text/html"] == summary_html(state)
    assert last.data["application/vnd.jupyter.widget-view+json"] == first.data["application/vnd.jupyter.widget-view+json"]
