"""The numbers a researcher looks for: time and tokens per phase and per model call, cost, "Now:".

The reducer derives them from the events' timestamps (workbench/core/progress.py), so a
hand-written log with chosen timestamps folds to numbers worked out here by hand. Cost comes
from one price table (workbench/core/pricing.py); a Claude model run against the simulator over
a real socket gets the cost computed by hand from its tokens, the simulator's own model none.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

import workbench as wb
from workbench.cli.terminal import TerminalView
from workbench.core import events as ev
from workbench.core import pricing
from workbench.core.log import RunLog
from workbench.core.reducer import fold
from workbench.simulator import Simulator, serve

T0 = "2026-12-02T10:00:00"


def at(ms: int) -> str:
    """The timestamp ``ms`` milliseconds after T0."""
    seconds, rest = divmod(ms, 1000)
    return f"{T0[:-2]}{seconds:02d}.{rest:03d}Z"


def hand_run() -> list[ev.Event]:
    """A planned run of two phases and five model calls, each event at a chosen time (ms after T0)."""
    log = RunLog("r_numbers")

    def a(ms: int, data: ev.EventData) -> None:
        log.append(data, ts=at(ms))

    a(0, ev.ExecutionStartedData(task="Write a poem", started_at=at(0), model="claude-sonnet-4-6", strategy="plan"))
    a(40, ev.ThinkingDeltaData(step_id="s1", delta="Plan it.", phase_id=None))  # 3: call 0 starts at 0
    a(60, ev.ThinkingData(thought="Plan it.", iteration=1, step_id="s1", phase_id=None))
    a(100, ev.UsageData(input=100, output=50))
    a(100, ev.PlanCreatedData(plan=ev.Plan(goal="A poem", phases=[
        ev.PlanPhase(id="p1", name="Draft", description="write it"),
        ev.PlanPhase(id="p2", name="Polish", description="fix it"),
    ])))
    a(110, ev.PhaseStartData(phase_id="p1", phase_name="Draft", phase_index=0))
    a(130, ev.ThinkingDeltaData(step_id="s2", delta="Rhymes ", phase_id="p1"))  # 7: call 1 starts at 110
    a(140, ev.ThinkingDeltaData(step_id="s2", delta="first.", phase_id="p1"))
    a(150, ev.ThinkingData(thought="Rhymes first.", iteration=1, step_id="s2", phase_id="p1"))
    a(200, ev.UsageData(input=300, output=80, cache_read=1000, cache_write=200))
    a(200, ev.ToolStartData(tool_name="write_file", params={"path": "poem.md", "content": "…"}, tool_use_id="t1",
                            phase_id="p1"))
    a(250, ev.ToolCompleteData(tool_name="write_file", result="Wrote 10 bytes", duration=50.0, tool_use_id="t1"))
    a(300, ev.TextDeltaData(step_id="s3", delta="Drafted.", phase_id="p1"))  # 13: call 2 starts at 250
    a(320, ev.TextData(step_id="s3", text="Drafted.", phase_id="p1"))
    a(350, ev.UsageData(input=500, output=100, cache_read=1000, cache_write=200))
    a(350, ev.PhaseCompleteData(phase_id="p1", phase_name="Draft", summary="Drafted"))
    a(360, ev.PhaseStartData(phase_id="p2", phase_name="Polish", phase_index=1))
    a(400, ev.ModelRetryData(attempt=1, reason="529 overloaded_error", delay_ms=20))  # 18: call 3 starts again here
    a(480, ev.UsageData(input=600, output=110, cache_read=1000, cache_write=200))  # it streamed nothing
    a(490, ev.PhaseCompleteData(phase_id="p2", phase_name="Polish", summary="Polished"))
    a(520, ev.TextDeltaData(step_id="s4", delta="A poem", phase_id=None))  # 21: call 4 (the answer) starts at 490
    a(530, ev.TextData(step_id="s4", text="A poem", phase_id=None))
    a(600, ev.UsageData(input=700, output=150, cache_read=1000, cache_write=200))
    a(600, ev.ExecutionCompleteData(result="A poem", duration=600.0,
                                    tokens_used=ev.Usage(input=700, output=150, cache_read=1000, cache_write=200),
                                    cost_usd=0.0054))
    return list(log.events)


def usage(input: int = 0, output: int = 0, cache_read: int = 0, cache_write: int = 0) -> dict[str, int]:
    return {"input": input, "output": output, "cacheRead": cache_read, "cacheWrite": cache_write}


def test_model_calls_are_timed_from_the_event_before_their_first_output_to_their_usage():
    calls = fold(hand_run()).to_dict()["modelCalls"]
    assert calls == [
        {"phaseId": None, "index": 0, "startedAt": at(0), "ttft": 40, "duration": 100, "tokens": usage(100, 50)},
        {"phaseId": "p1", "index": 1, "startedAt": at(110), "ttft": 20, "duration": 90,
         "tokens": usage(200, 30, 1000, 200)},
        {"phaseId": "p1", "index": 2, "startedAt": at(250), "ttft": 50, "duration": 100, "tokens": usage(200, 20)},
        {"phaseId": "p2", "index": 3, "startedAt": at(400), "ttft": None, "duration": 80, "tokens": usage(100, 10)},
        {"phaseId": None, "index": 4, "startedAt": at(490), "ttft": 30, "duration": 110, "tokens": usage(100, 40)},
    ]


def test_each_phase_has_its_time_and_the_tokens_of_its_model_calls():
    state = fold(hand_run())
    figures = [(p.id, p.started_at, p.ended_at, p.duration, p.tokens) for p in state.phases.values()]
    assert figures == [
        ("p1", at(110), at(350), 240, ev.Usage(input=400, output=50, cache_read=1000, cache_write=200)),
        ("p2", at(360), at(490), 130, ev.Usage(input=100, output=10)),
    ]
    live = fold(hand_run()[:12])  # p1 runs: no end yet, the tokens of its first call
    assert (live.phases["p1"].duration, live.phases["p1"].tokens) == (None, ev.Usage(input=200, output=30, cache_read=1000,
                                                                                      cache_write=200))


def test_now_says_what_the_agent_is_doing_after_each_event():
    events = hand_run()
    nows = [fold(events[:k]).now for k in range(len(events) + 1)]
    assert nows == [
        "", "planning", "planning", "planning", "planning",  # no plan yet: the first call makes it
        "waiting for the model", "waiting for the model",  # plan:created, phase:start
        "thinking", "thinking", "waiting for the model", "waiting for the model",  # deltas, thinking, usage
        "calling write_file", "waiting for the model",  # tool:start, tool:complete
        "writing", "waiting for the model", "waiting for the model", "waiting for the model",
        "waiting for the model", "retrying the model", "waiting for the model", "waiting for the model",
        "writing", "waiting for the model", "waiting for the model", "done",
    ]
    cancelled = events[:11] + [ev.make_event(ev.ExecutionCancelledData(reason="stop", duration=220.0), id=12,
                                             run_id="r_numbers", ts=at(220))]
    state = fold(cancelled)
    assert state.now == "cancelled"
    assert (state.phases["p1"].status, state.phases["p1"].duration) == ("cancelled", 110)  # it ended with the run
    assert len(state.model_calls) == 2  # the call under way never reached its usage


def test_a_run_file_folds_to_the_numbers_the_live_run_had(tmp_path: Path):
    run = wb.run("Create a landing page for a coffee shop", model="simulated")
    run.wait(timeout=30)
    loaded = wb.load(run.save(tmp_path / "run.jsonl"))
    assert loaded.state.to_dict()["modelCalls"] == run.state.to_dict()["modelCalls"]
    assert [p.duration for p in loaded.state.phases.values()] == [p.duration for p in run.state.phases.values()]
    calls = run.state.model_calls
    assert len(calls) == 16 and all(c.duration >= 0 and (c.ttft or 0) <= c.duration for c in calls)
    assert sum(c.tokens.input for c in calls) == run.state.tokens.input  # the calls' tokens add up to the run's
    assert sum(c.tokens.output for c in calls) == run.state.tokens.output


def test_to_pandas_has_a_table_of_phases_and_one_of_model_calls():
    run = wb.Run(run_id="r_numbers", task="Write a poem", model="claude-sonnet-4-6", strategy="plan",
                 created_at=at(0))
    run.log.extend(hand_run())
    phases = run.to_pandas("phases")
    assert list(phases["phase_id"]) == ["p1", "p2"]
    assert list(phases["duration"]) == [240, 130]
    assert list(phases["model_calls"]) == [2, 1] and list(phases["tool_calls"]) == [1, 0]
    assert list(phases["input_tokens"]) == [400, 100] and list(phases["cache_read_tokens"]) == [1000, 0]
    assert str(phases["started_at"].dtype).startswith("datetime64")
    calls = run.to_pandas("calls")
    assert list(calls["phase_id"].fillna("-")) == ["-", "p1", "p1", "p2", "-"]
    assert list(calls["duration"]) == [100, 90, 100, 80, 110]
    assert calls["ttft"].tolist()[:3] == [40, 20, 50] and pandas_isna(calls["ttft"].tolist()[3])
    assert list(calls["output_tokens"]) == [50, 30, 20, 10, 40]
    assert len(run.to_pandas()) == len(run.events)  # the default table is still one row per event
    with pytest.raises(wb.UserError, match="'events', 'phases' and 'calls'"):
        run.to_pandas("steps")


def pandas_isna(value: object) -> bool:
    import pandas

    return bool(pandas.isna(value))


# --- cost ----------------------------------------------------------------------------------


def by_hand(tokens: ev.Usage, input: float, output: float, cache_read: float, cache_write: float) -> float:
    return (tokens.input * input + tokens.output * output + tokens.cache_read * cache_read
            + tokens.cache_write * cache_write) / 1_000_000


@pytest.fixture
def fresh_prices(monkeypatch: pytest.MonkeyPatch):
    """The default table, and WORKBENCH_PRICES read again, for each test; put back afterwards."""
    monkeypatch.delenv("WORKBENCH_PRICES", raising=False)
    monkeypatch.setattr(pricing, "_overrides", {})
    monkeypatch.setattr(pricing, "_env_read", False)


def test_cost_comes_from_the_one_price_table(fresh_prices):
    tokens = ev.Usage(input=700, output=150, cache_read=1000, cache_write=200)
    assert pricing.cost_usd("claude-sonnet-4-6", tokens) == pytest.approx(0.0054, rel=1e-12)  # 2100+2250+300+750 µ$
    assert pricing.cost_usd("claude-opus-4-1-20250805", tokens) == pytest.approx(by_hand(tokens, 15, 75, 1.5, 18.75))
    assert pricing.cost_usd("claude-opus-4-20250514", tokens) == pytest.approx(by_hand(tokens, 15, 75, 1.5, 18.75))
    assert pricing.cost_usd("claude-opus-4-6", tokens) == pytest.approx(by_hand(tokens, 5, 25, 0.5, 6.25))
    assert pricing.cost_usd("claude-haiku-4-5", tokens) == pytest.approx(by_hand(tokens, 1, 5, 0.1, 1.25))
    for unknown in ("simulated", "claude-haiku-5-5", "claude-future-9"):
        assert pricing.cost_usd(unknown, tokens) is None  # no price is no cost, not a cost of 0
    assert pricing.CHECKED == "2026-12-02"


def test_prices_can_be_overridden_in_code_and_by_the_environment(fresh_prices, monkeypatch, tmp_path: Path):
    tokens = ev.Usage(input=1_000_000, output=1_000_000)
    wb.set_prices({"claude-sonnet-4-6": {"input": 1, "output": 2}, "claude-opus": None})
    assert pricing.cost_usd("claude-sonnet-4-6", tokens) == 3.0
    assert pricing.cost_usd("claude-sonnet-4-5", tokens) == 18.0  # the family's row still holds
    assert pricing.cost_usd("claude-opus-4-6", tokens) == 30.0  # a longer prefix of the table wins over None
    wb.set_prices({"claude-opus-4": None})
    assert pricing.cost_usd("claude-opus-4-6", tokens) is None
    with pytest.raises(wb.UserError, match="'input' and 'output'"):
        wb.set_prices({"claude-x": {"input": 1}})
    with pytest.raises(wb.UserError, match="must be a number >= 0"):
        wb.set_prices({"claude-x": {"input": 1, "output": -2}})
    wb.set_prices(None)
    assert pricing.cost_usd("claude-sonnet-4-6", tokens) == 18.0

    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"claude-sonnet-4": {"input": 2, "output": 4, "cacheRead": 0.2, "cacheWrite": 2.5}}))
    monkeypatch.setattr(pricing, "_env_read", False)
    monkeypatch.setenv("WORKBENCH_PRICES", str(table))
    assert pricing.cost_usd("claude-sonnet-4-6", tokens) == 6.0
    assert pricing.view_prices()["checked"] == "2026-12-02"
    assert ["claude-sonnet-4", {"input": 2.0, "output": 4.0, "cacheRead": 0.2, "cacheWrite": 2.5}] in pricing.view_prices()["table"]


def test_the_recorder_fills_in_the_cost_of_a_claude_model(fresh_prices):
    with wb.record("Answer", model="claude-sonnet-4-6") as rec:
        rec.usage(input=700, output=150, cache_read=1000, cache_write=200)
        rec.finish("done")
    assert rec.run.events[-1].data.cost_usd == pytest.approx(0.0054, rel=1e-12)
    with wb.record("Answer") as custom:  # a model of one's own has no price
        custom.usage(input=700, output=150)
        custom.finish("done")
    assert custom.run.events[-1].data.cost_usd is None


async def test_a_claude_model_run_costs_its_tokens_at_list_prices(fresh_prices, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    key = "sk-ant-api03-numbers-test-key-0123456789abcdef"
    async with serve(Simulator(api_key=key)) as base_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        run = wb.run("Write a haiku about tides", model="claude-sonnet-4-6", strategy="react")
        await asyncio.wait_for(run.wait_async(), 30)
    end = run.events[-1].data
    assert isinstance(end, ev.ExecutionCompleteData), end
    assert end.tokens_used.input > 0 and end.cost_usd == pytest.approx(by_hand(end.tokens_used, 3, 15, 0.3, 3.75), rel=1e-12)
    assert run.state.cost_usd == end.cost_usd

    simulated = wb.run("Write a haiku about tides", model="simulated", strategy="react")
    await asyncio.wait_for(simulated.wait_async(), 30)
    assert simulated.events[-1].data.cost_usd is None and simulated.state.cost_usd is None


def test_the_cli_last_line_shows_time_tokens_and_cost():
    out = io.StringIO()
    view = TerminalView(out, color=False)
    for event in hand_run():
        view.feed(event)
    assert "Complete in 0.6 s · tokens: 700 in, 150 out, 1,000 cache read, 200 cache write · $0.0054" in out.getvalue()
    out = io.StringIO()
    view = TerminalView(out, color=False)
    for event in hand_run()[:15]:
        view.feed(event)
    view.feed(ev.make_event(ev.ExecutionCancelledData(reason="stopped", duration=400.0), id=16, run_id="r", ts=at(400)))
    assert out.getvalue().splitlines()[-1] == ("Cancelled after 0.4 s · tokens: 500 in, 100 out, 1,000 cache read, "
                                               "200 cache write: stopped")
