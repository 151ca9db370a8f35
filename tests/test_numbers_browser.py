"""What a person sees of the numbers: "Now:" in the header while live, time and tokens per phase, cost.

A paced simulator run is fed to the live view as the kernel's pump feeds it (merged items, as they
arrive), with a write_file that takes a while, so the header can be caught while the run is in
that call. Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import time
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.sync_api import expect
from browser import ARTIFACTS, checked_page
from test_numbers import hand_run
from test_widget_browser import HARNESS

import workbench as wb
from workbench.agent.tools.workspace import write_file as builtin_write_file
from workbench.core import events as ev
from workbench.core.pricing import cost_usd, view_prices
from workbench.notebook.widget.bundle import STATIC, front_end
from workbench.notebook.widget.messages import merged_items

LIVE = "[data-testid=live-view] "
SLOW = 1.5  # seconds each write_file takes


@wb.tool
def write_file(path: str, content: str) -> str:
    """Write a text file in the workspace, replacing it if it exists.

    Args:
        path: The file to write, relative to the workspace, e.g. 'notes/plan.md'.
        content: The complete new content of the file.
    """
    time.sleep(SLOW)  # a slow disk: long enough to see the call from the browser
    return builtin_write_file(path, content)


@pytest.fixture
def page(browser):
    with checked_page(browser, 1000, 800) as page:
        yield page


def open_view(page, run_id: str, task: str, model: str, strategy: str) -> None:
    traits = {"run_id": run_id, "task": task, "model": model, "strategy": strategy, "prices": view_prices()}
    js = json.dumps(front_end()).replace("<", "\\u003c")
    page.set_content(HARNESS % {"css": (STATIC / "run_view.css").read_text("utf-8"),
                                "traits": json.dumps(traits), "js": js})
    page.wait_for_function("window.harnessReady === true")


def deliver(page, events: list[ev.Event]) -> None:
    if events:
        page.evaluate("m => deliver(m)", {"kind": "events", "events": merged_items(events)})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def fmt_ms(ms: float) -> str:
    """dom.js's fmtMs, for the durations of these runs (under a minute). JavaScript's toFixed and
    Math.round take a half upwards (6.25 → "6.3"), where Python's format and round take it to even."""
    def half_up(value: float, places: str) -> Decimal:
        return Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP)

    if ms < 1000:
        return f"{half_up(ms, '0.1')} ms" if ms < 10 else f"{half_up(ms, '1')} ms"
    return f"{half_up(ms / 1000, '0.1')} s"


def in_write_file(events: list[ev.Event]) -> str | None:
    """The toolUseId of the write_file call a run is in after ``events``, if it is in one."""
    open_calls = {e.data.tool_use_id: e.data.tool_name for e in events if e.type == "tool:start"}
    for e in events:
        if e.type == "tool:complete":
            open_calls.pop(e.data.tool_use_id, None)
    return next((id_ for id_, name in open_calls.items() if name == "write_file"), None)


def test_the_header_says_what_the_agent_does_now_and_phases_show_their_time_and_tokens(page):
    run = wb.run("Create a landing page for a coffee shop", model="simulated", options={"pace": 2000},
                 tools=[write_file, "read_file", "list_files"])
    open_view(page, run.id, run.task, run.model, run.strategy)
    now = page.locator(LIVE + "[data-testid=now]")
    sent = 0
    seen_calling = False
    deadline = time.monotonic() + 60
    while not run.done or sent < len(run.events):
        assert time.monotonic() < deadline, "the run did not end"
        events = list(run.events)
        deliver(page, events[sent:])  # as the pump does: everything new, merged
        sent = len(events)
        call = in_write_file(events)  # as the page has it: the run may be further by now
        if call is not None and not seen_calling:
            page.wait_for_function("t => document.querySelector(t).textContent === 'Now: calling write_file'",
                                   arg=LIVE + "[data-testid=now]", timeout=SLOW * 1000 * 0.8)
            assert now.is_visible() and now.inner_text() == "Now: calling write_file"
            assert in_write_file(list(run.events)) == call  # still in that very call when the header said so
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "numbers-now-calling.png"))
            seen_calling = True
        time.sleep(0.05)
    assert seen_calling
    state = run.state
    assert state.status == "complete"
    assert now.is_hidden()  # no "Now:" once the run is over

    # Each phase row: its duration and its model calls' tokens, as the fold has them.
    rows = page.locator(LIVE + "[data-testid=phase]")
    assert rows.count() == len(state.phases)
    for i, phase in enumerate(state.phases.values()):
        assert phase.duration is not None and phase.duration > SLOW * 1000 * 0.9 * sum(
            1 for t in state.items_of(phase.id) if getattr(t, "tool_name", "") == "write_file")
        figures = rows.nth(i).locator("[data-testid=phase-figures]").inner_text()
        t = phase.tokens
        assert figures == f"{fmt_ms(phase.duration)} · {t.input:,} in · {t.output:,} out", figures

    # The header's detail: time, tokens, model calls, mean time to first token and latency; no cost.
    detail = page.locator(LIVE + "[data-testid=numbers-detail]").inner_text()
    calls = state.model_calls
    ttfts = [c.ttft for c in calls if c.ttft is not None]
    assert detail == " · ".join([
        f"time {fmt_ms(state.duration or 0)}",
        f"tokens {state.tokens.input:,} in · {state.tokens.output:,} out",
        f"{len(calls)} model calls",
        f"mean time to first token {fmt_ms(sum(ttfts) / len(ttfts))}",
        f"mean latency {fmt_ms(sum(c.duration for c in calls) / len(calls))}",
    ]), detail
    assert page.locator(LIVE + "[data-testid=cost]").is_hidden()  # the simulator has no price
    page.screenshot(path=str(ARTIFACTS / "numbers-after.png"))


def test_a_claude_run_shows_a_running_cost_estimate_then_its_cost(page):
    events = hand_run()  # claude-sonnet-4-6, with a cost of $0.0054 in its execution:complete
    open_view(page, "r_numbers", "Write a poem", "claude-sonnet-4-6", "plan")
    cost = page.locator(LIVE + "[data-testid=cost]")
    deliver(page, events[:11])  # in the write_file call, after two model calls
    assert page.locator(LIVE + "[data-testid=now]").inner_text() == "Now: calling write_file"
    tokens = ev.Usage(input=300, output=80, cache_read=1000, cache_write=200)
    estimate = cost_usd("claude-sonnet-4-6", tokens)
    assert estimate is not None
    expect(cost).to_have_text(f"≈ ${estimate:.4f}")  # retried: a loaded machine may draw a frame late
    detail = page.locator(LIVE + "[data-testid=numbers-detail]").inner_text()
    assert "tokens 300 in · 80 out · 1,000 cache read · 200 cache write" in detail
    assert f"cost ≈ ${estimate:.4f}" in detail and "2 model calls" in detail
    assert "mean time to first token 30 ms · mean latency 95 ms" in detail  # (40 + 20) / 2, (100 + 90) / 2
    p1 = page.locator(LIVE + "[data-testid=phase][data-phase-id=p1] [data-testid=phase-figures]")
    assert p1.inner_text() == "200 in · 30 out · 1,000 cache read · 200 cache write"  # running: no duration yet
    deliver(page, events[11:])
    expect(cost).to_have_text("$0.0054")  # what execution:complete says
    assert p1.inner_text() == "240 ms · 400 in · 50 out · 1,000 cache read · 200 cache write"

    # A run stopped before its end carries no costUsd: the view still estimates it, and says so.
    open_view(page, "r_stopped", "Write a poem", "claude-sonnet-4-6", "plan")
    stopped = events[:15] + [ev.make_event(ev.ExecutionCancelledData(reason="stopped", duration=400.0), id=16,
                                           run_id="r_numbers", ts=events[14].ts)]
    deliver(page, stopped)
    spent = cost_usd("claude-sonnet-4-6", ev.Usage(input=500, output=100, cache_read=1000, cache_write=200))
    assert spent is not None
    expect(cost).to_have_text(f"≈ ${spent:.4f}")
    assert page.locator(LIVE + "[data-testid=now]").is_hidden()
