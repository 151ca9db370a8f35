"""``wb.compare(runs)`` and ``wb.sweep(...)``: the rows of real runs (the simulator, and a Claude model
id answered by the simulator over HTTP), a sweep's product and its concurrency, a server's per-user
limit waited for, and the live view's kernel side (rows refreshed, a row opening its run)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from servers import LoopThread, start_server
from test_reducer import sample_run

import workbench as wb
from workbench.notebook.diff import DiffView
from workbench.core.comparison import CompareRow, Entry, comparison_rows, differing_options, first_line, progress_line
from workbench.core.progress import ts_ms
from workbench.core.reducer import fold
from workbench.errors import UserError
from workbench.notebook.compare import Comparison
from workbench.notebook.compare.view import CompareView
from workbench.notebook.widget import RunView
from workbench.simulator import Simulator, serve

KEY = "sk-ant-api03-compare-test-key-0123456789abcdef"
CLAUDE = "claude-sonnet-4-5"
TASK = "Write a haiku about tides"
COLUMNS = ["run_id", "status", "model", "seed", "phases_done", "phases_total", "tool_calls", "tool_errors", "tokens",
           "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "duration_ms", "result"]


@pytest.fixture
async def claude_by_simulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """Claude model ids answered by the simulator over real HTTP, as the SDK reaches the API."""
    async with serve(Simulator(api_key=KEY)) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        yield base_url


def run_spans(runs: list[wb.Run]) -> list[tuple[int, int]]:
    """Each run's (execution:started, terminal event) times in ms, from its own events."""
    return [(ts_ms(run.events[0].ts), ts_ms(run.events[-1].ts)) for run in runs]


def most_at_once(spans: list[tuple[int, int]]) -> int:
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


# --- the rows, pure --------------------------------------------------------------------------------


def test_rows_of_folded_states_say_everything_and_only_the_options_that_differ():
    state = fold(sample_run())
    entries = [
        Entry(model="simulated", options={"seed": 1, "maxIterations": 5}, state=state, run_id="r_a"),
        Entry(model="simulated", options={"seed": 2, "maxIterations": 5}, state=state, run_id="r_b"),
        Entry(model=CLAUDE, options={"maxIterations": 5}, error="model 'x' needs an Anthropic API key: set it\nmore"),
        Entry(model=CLAUDE, options={"seed": 3, "maxIterations": 5}),
    ]
    rows = comparison_rows(entries)
    assert rows[0] == CompareRow(0, "r_a", "complete", "simulated", {"seed": 1}, phases_done=2, phases_total=2,
                                 tool_calls=2, tool_errors=1, input_tokens=200, output_tokens=40, duration_ms=1234.0,
                                 result="A poem")
    assert rows[0].tokens == 240
    assert rows[2] == CompareRow(2, "", "not started", CLAUDE, {"seed": None},
                                 result="model 'x' needs an Anthropic API key: set it")
    assert rows[3] == CompareRow(3, "", "queued", CLAUDE, {"seed": 3})
    assert progress_line(rows) == "3 of 4 done, 0 running, 1 queued, 1 failed"
    assert list(rows[1].to_dict()) == COLUMNS


def test_a_running_run_counts_its_time_so_far_from_its_events():
    events = sample_run()[:9]  # up to the first usage, in phase 1
    state = fold(events)
    started = Entry(model="simulated", options={}, state=state, run_id="r_a")
    [row] = comparison_rows([started], [events[-1].ts])
    assert (row.status, row.phases_done, row.tool_calls, row.result, row.cost_usd) == ("running", 0, 1, "", None)
    assert row.duration_ms == ts_ms(events[-1].ts) - ts_ms(state.started_at or "")  # its start as it says
    assert comparison_rows([started])[0].duration_ms is None
    assert progress_line([row]) == "0 of 1 done, 1 running, 0 queued"


def test_differing_options_and_first_lines():
    assert differing_options([{"seed": 1, "pace": 0}, {"seed": 2, "pace": 0}]) == ["seed"]
    assert differing_options([{"seed": 1}, {}]) == ["seed"]  # not set is a value of its own
    assert differing_options([{"faults": [{"request": 1}]}, {"faults": [{"request": 2}]}]) == ["faults"]
    assert differing_options([{"seed": 1}]) == [] and differing_options([]) == []
    assert first_line("\n\n  Done: it works.  \nand more") == "Done: it works."
    assert first_line(None) == "" and first_line("x" * 300, 10) == "x" * 9 + "…"


# --- compare: runs given --------------------------------------------------------------------------


async def test_compare_gives_one_row_per_run_with_its_figures_and_to_pandas_the_table(claude_by_simulator: str):
    runs = [wb.run(TASK, model="simulated", options={"seed": 1}), wb.run(TASK, model=CLAUDE, options={"seed": 2})]
    comparison = wb.compare(runs)
    assert isinstance(comparison, Comparison) and comparison.runs == runs
    await asyncio.wait_for(comparison.wait_async(), 60)
    assert comparison.done and comparison.progress() == "2 of 2 done, 0 running, 0 queued"
    rows = comparison.rows()
    for row, run in zip(rows, runs):
        state = run.state
        assert (row.run_id, row.status, row.model, row.options) == (run.id, "complete", run.model, run.options)
        assert row.phases_total == len(state.phases) > 0 and row.phases_done == row.phases_total
        assert row.tool_calls == len(state.tool_calls) > 0
        assert row.tool_errors == sum(1 for call in state.tool_calls if call.is_error)
        assert (row.input_tokens, row.output_tokens) == (state.tokens.input, state.tokens.output)
        assert row.duration_ms == state.duration and row.result == (state.result or "").strip().splitlines()[0]
    assert rows[0].cost_usd is None  # the simulator has no price
    assert rows[1].cost_usd == runs[1].state.cost_usd and rows[1].cost_usd > 0

    frame = comparison.to_pandas()
    assert list(frame.columns) == COLUMNS
    assert list(frame["seed"]) == [1, 2] and list(frame["model"]) == ["simulated", CLAUDE]
    assert list(frame["tokens"]) == [r.tokens for r in rows] and list(frame["result"]) == [r.result for r in rows]
    assert math.isnan(frame["cost_usd"].iloc[0]) and frame["cost_usd"].iloc[1] == rows[1].cost_usd  # no price: NaN


def test_compare_takes_a_list_of_runs():
    for bad, says in (([], "at least one run"), ("r_1", "list of runs"), ([1], "not int")):
        with pytest.raises(UserError, match=says):
            wb.compare(bad)  # type: ignore[arg-type]
    loaded = wb.Run(run_id="r_test", task="Write a poem", model="simulated", strategy="plan", created_at="")
    loaded.log.extend(sample_run())
    assert wb.compare([loaded]).wait(1).rows()[0].result == "A poem"


# --- sweep ------------------------------------------------------------------------------------------


async def test_a_sweep_of_2_models_by_3_seeds_completes_with_6_rows(claude_by_simulator: str):
    # Paced, so that four go at once even on a busy machine (the same pace for all: no column of its own).
    comparison = wb.sweep(TASK, models=["simulated", CLAUDE], seeds=[1, 2, 3], options=[{"pace": 1000}],
                          strategy="react", concurrency=4)
    assert len(comparison) == 6  # every row is there at once, queued
    await asyncio.wait_for(comparison.wait_async(), 90)
    rows = comparison.rows()
    assert [(r.model, r.options) for r in rows] == [(m, {"seed": s}) for m in ("simulated", CLAUDE) for s in (1, 2, 3)]
    assert [r.status for r in rows] == ["complete"] * 6 and all(r.run_id and r.result for r in rows)
    assert [(run.model, run.options.get("seed")) for run in comparison.runs] == [(r.model, r.options["seed"]) for r in rows]
    assert comparison.progress() == "6 of 6 done, 0 running, 0 queued"
    assert list(comparison.to_pandas()["seed"]) == [1, 2, 3, 1, 2, 3]
    assert comparison.sweeper is not None and comparison.sweeper.most_going == 4
    assert most_at_once(run_spans(comparison.runs)) <= 4


def test_a_sweep_never_has_more_than_concurrency_runs_going():
    comparison = wb.sweep(TASK, seeds=[1, 2, 3, 4, 5, 6], options=[{"pace": 2000}], strategy="react", concurrency=2)
    comparison.wait(60)
    assert [r.status for r in comparison.rows()] == ["complete"] * 6
    spans = run_spans(comparison.runs)
    assert most_at_once(spans) == 2  # from the runs' own timestamps: two at a time, never three
    assert comparison.sweeper is not None and comparison.sweeper.most_going == 2
    starts = sorted(s for s, _ in spans)
    assert starts[2] >= min(e for _, e in spans)  # the third started only once one had ended


def test_options_and_seeds_multiply_and_a_run_that_cannot_start_is_a_row_saying_why():
    comparison = wb.sweep(TASK, models=["simulated", CLAUDE], options=[{"maxIterations": 5}, {"maxIterations": 6}],
                          strategy="react").wait(60)
    rows = comparison.rows()
    assert [(r.model, r.options, r.status) for r in rows] == [
        ("simulated", {"maxIterations": 5}, "complete"), ("simulated", {"maxIterations": 6}, "complete"),
        (CLAUDE, {"maxIterations": 5}, "not started"), (CLAUDE, {"maxIterations": 6}, "not started")]
    assert rows[2].result.startswith(f"model '{CLAUDE}' needs an Anthropic API key")
    assert len(comparison.runs) == 2 and comparison.progress() == "4 of 4 done, 0 running, 0 queued, 2 failed"


def test_sweep_arguments_are_checked_before_anything_starts():
    cases = [
        ({"models": []}, "models is an empty list"),
        ({"seeds": []}, "seeds is an empty list"),
        ({"options": []}, "options is an empty list"),
        ({"models": "simulated"}, "models must be a list"),
        ({"seeds": [1.5]}, "seeds must be whole numbers"),
        ({"options": [{"pace": 1}, "fast"]}, "options must be a list of option dicts"),
        ({"options": {"pace": 1}}, "options must be a list"),
        ({"seeds": [1], "options": [{"seed": 2}]}, "sets 'seed' while seeds"),
        ({"concurrency": 0}, "concurrency must be a whole number"),
        ({"concurrency": True}, "concurrency must be a whole number"),
    ]
    for kwargs, says in cases:
        with pytest.raises(UserError, match=says):
            wb.sweep(TASK, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="non-empty string"):
        wb.sweep("  ", seeds=[1])
    # What only the place a run starts can judge (here, or a server) is each row's outcome.
    rows = wb.sweep(TASK, seeds=[1, 2], strategy="wander").wait(30).rows()
    assert [(r.status, r.result) for r in rows] == [("not started", "unknown strategy 'wander': use one of plan, react")] * 2


def test_cancel_stops_a_sweep_its_queued_runs_never_start():
    comparison = wb.sweep(TASK, seeds=[1, 2, 3], options=[{"pace": 20}], strategy="react", concurrency=1)
    while not comparison.runs:
        comparison.sweeper.wait(0.01)  # type: ignore[union-attr]
    assert comparison.cancel() == 1
    comparison.wait(30)
    assert [r.status for r in comparison.rows()] == ["cancelled", "not started", "not started"]
    assert comparison.rows()[1].result == "the sweep was stopped before this run started"


def test_a_sweep_bigger_than_the_server_s_per_user_limit_completes_without_errors(tmp_path: Path):
    thread = LoopThread()
    served = thread.run(start_server(tmp_path, token="t0ken", max_runs_per_user=2))
    try:
        wb.connect(served.root, token="t0ken")
        comparison = wb.sweep(TASK, seeds=[1, 2, 3, 4, 5], options=[{"pace": 1000}], strategy="react", concurrency=4)
        comparison.wait(90)
        rows = comparison.rows()
        assert [r.status for r in rows] == ["complete"] * 5 and [r.options for r in rows] == [{"seed": s} for s in range(1, 6)]
        assert comparison.sweeper is not None and comparison.sweeper.refusals > 0  # the limit was met, and waited for
        assert most_at_once(run_spans(comparison.runs)) <= 2
        on_server = {summary["id"]: summary["status"] for summary in wb.runs()}
        assert on_server == {run.id: "complete" for run in comparison.runs}
    finally:
        wb.disconnect()
        thread.run(served.runner.cleanup())
        thread.close()


# --- the live view, kernel side ------------------------------------------------------------------------


def test_the_view_fills_in_live_at_most_four_times_a_second_and_a_row_opens_its_run():
    comparison = wb.sweep(TASK, seeds=[1, 2, 3], options=[{"pace": 500}], strategy="react", concurrency=2)
    view = comparison.view()
    try:
        assert isinstance(view, CompareView) and view.table.option_keys == ["seed"]
        statuses = [r["status"] for r in view.table.rows]  # at once: the third waits for one of two to end
        assert statuses[2] == "queued" and set(statuses) <= {"queued", "pending", "running"}
        comparison.wait(60)
        assert view._idle.wait(5)  # the pump ends with the runs, after a last refresh
        assert view.table.progress == "3 of 3 done, 0 running, 0 queued"
        assert [(r["runId"], r["status"], r["options"]) for r in view.table.rows] == [
            (run.id, "complete", {"seed": s}) for run, s in zip(comparison.runs, (1, 2, 3))]
        assert view.table.option_keys == ["seed"]
        first = comparison.runs[0]
        assert view.table.rows[0]["toolCalls"] == len(first.state.tool_calls)
        assert view.table.rows[0]["tokens"] == first.state.tokens.input + first.state.tokens.output
        span = (ts_ms(comparison.runs[-1].events[-1].ts) - ts_ms(first.events[0].ts)) / 1000
        assert 2 <= view.refreshes <= 2 + span / view.interval + 2  # at most 4 a second

        view._on_msg(view.table, {"kind": "open", "runId": first.id}, [])
        [shown] = view.detail.children
        assert isinstance(shown, RunView) and shown.run is first and view.table.opened == first.id
        view._on_msg(view.table, {"kind": "open", "runId": first.id}, [])  # again: closed
        assert view.detail.children == () and view.table.opened == ""
        second = comparison.runs[1]
        view._on_msg(view.table, {"kind": "diff", "runIds": [first.id, second.id]}, [])
        [diff] = view.detail.children
        assert view.table.diffed == [first.id, second.id]
        assert isinstance(diff, DiffView) and (diff.a, diff.b) == (first, second)
        view._on_msg(view.table, {"kind": "open", "runId": "r_nobody"}, [])
        assert view.detail.children == () and view.table.diffed == []
    finally:
        view.close()
    assert json.loads(json.dumps(view.table.rows)) == view.table.rows  # the rows are plain JSON (widget state)


def test_a_saved_notebook_shows_the_table_as_html():
    loaded = wb.Run(run_id="r_test", task="Write a poem", model="simulated", strategy="plan", created_at="")
    loaded.log.extend(sample_run())
    html = wb.compare([loaded])._repr_html_()
    assert "<p>1 of 1 done, 0 running, 0 queued</p>" in html
    assert "<td>complete</td><td>simulated</td><td>2/2</td><td>2</td><td>1</td><td>240</td><td></td><td>1.2 s</td>" in html
    assert repr(wb.compare([loaded])) == "<comparison of 1 runs: 1 of 1 done, 0 running, 0 queued>"


def test_a_comparison_shows_its_live_table_with_its_html_and_once_more_when_all_have_ended():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    comparison = wb.sweep(TASK, seeds=[1, 2], options=[{"pace": 500}], strategy="react")
    with capture_output() as captured:
        display(comparison)
        comparison.wait(60)
        deadline = time.monotonic() + 10
        while len(captured.outputs) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    first, last = captured.outputs
    assert "application/vnd.jupyter.widget-view+json" in first.data and not first.update
    assert "<p>0 of 2 done, " in first.data["text/html"] and first.data["text/plain"].startswith("<sweep of 2 runs: 0 of 2 done")
    assert last.update and last.data["text/html"] == comparison._repr_html_()
    assert "<p>2 of 2 done, 0 running, 0 queued</p>" in last.data["text/html"]
    assert last.data["application/vnd.jupyter.widget-view+json"] == first.data["application/vnd.jupyter.widget-view+json"]
