"""What a person sees: the run view in a real Chromium, through Playwright.

The exported page (``export_html``) is the view with no Jupyter at all; a small harness page
drives the same module live, as the kernel would, to check following, Stop and windowing.
Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import time

import pytest
from browser import ARTIFACTS, checked_page

import workbench as wb
from workbench.core import events as ev
from workbench.notebook.widget import export_html
from workbench.notebook.widget.bundle import STATIC, front_end
from workbench.notebook.widget.messages import merged_items

LIVE = "[data-testid=live-view] "
SNAP = "[data-testid=inspector-view] [data-testid=snapshot-view] "


@pytest.fixture
def page(browser):
    with checked_page(browser, 1100, 900) as page:
        yield page


@pytest.fixture(scope="module")
def finished() -> wb.Run:
    run = wb.run("Create a landing page for a coffee shop", model="simulated")
    run.wait(timeout=30)
    return run


def first(run: wb.Run, type_: str) -> int:
    return next(e.id for e in run.events if e.type == type_)


# --- the exported page ---------------------------------------------------------------------


def test_exported_page_shows_the_whole_run(page, finished, tmp_path):
    path = tmp_path / "run.html"
    export_html(finished, path)
    page.goto(path.as_uri())
    page.wait_for_selector(LIVE + "[data-testid=status][data-status=complete]")
    header = page.locator(LIVE + "[data-testid=header]")
    assert finished.task in header.inner_text()
    assert page.locator(LIVE + "[data-testid=status]").inner_text() == "complete"
    assert page.locator(LIVE + "[data-testid=tokens]").inner_text().startswith(f"{finished.state.tokens.input:,} in")
    assert not page.locator(LIVE + "[data-testid=stop]").count()  # nothing to stop offline

    phases = page.locator(LIVE + "[data-testid=phase]")
    assert phases.count() == len(finished.state.phases)
    for i, phase in enumerate(finished.state.phases.values()):
        item = phases.nth(i)
        assert item.get_attribute("data-state") == "done"
        assert item.locator("[data-testid=phase-name]").inner_text() == phase.name
        assert item.is_visible()
    assert "5 of 5 phases done" in page.locator(LIVE + "[data-testid=goal]").inner_text()
    result = page.locator(LIVE + "[data-testid=result]")
    assert result.is_visible() and "The landing page is ready" in result.inner_text()

    # Finished phases are closed; opening one shows its steps in order.
    p1 = phases.nth(0)
    assert not p1.locator("[data-testid=step]").first.is_visible()
    p1.locator("summary").first.click()
    steps = p1.locator("[data-testid=step]")
    steps.first.wait_for()
    expected = [s for s in finished.state.items_of("p1")]
    assert steps.count() == len(expected)
    assert [steps.nth(i).get_attribute("data-kind") for i in range(len(expected))] == [s.kind for s in expected]
    thought = expected[0].text
    text = p1.locator("[data-testid=thinking-text]").first
    assert text.is_visible() and text.inner_text() == thought
    tool = next(s for s in expected if s.kind == "tool")
    call = p1.locator("[data-testid=step][data-kind=tool]").first
    assert call.locator("[data-testid=tool-name]").inner_text() == tool.tool_name
    assert call.locator("[data-testid=tool-result]").inner_text() == tool.result
    assert "ms" in call.locator("[data-testid=step-state]").inner_text()
    call.locator(".wb-params summary").click()
    keys = call.locator("[data-testid=tool-params] [data-testid=tree-key]")
    keys.first.wait_for()
    assert keys.all_inner_texts() == list(tool.params)  # the parameters as a tree, keys shown

    # The inspector: the run as it stood after an early event.
    page.click("[data-testid=inspector-toggle]")
    page.wait_for_selector(SNAP + "[data-testid=status]")
    slider = page.locator("[data-testid=inspector-slider]")
    assert slider.get_attribute("max") == str(len(finished.events))
    k = first(finished, "phase:complete")  # the end of the first phase
    slider.fill(str(k))
    page.wait_for_selector(f"[data-testid=envelope][data-id='{k}']")
    assert page.locator(SNAP + "[data-testid=phase][data-state=done]").count() == 1
    assert page.locator(SNAP + "[data-testid=phase][data-state=pending]").count() == len(finished.state.phases) - 1
    assert page.locator(SNAP + "[data-testid=status]").inner_text() == "running"
    assert json.loads(page.locator("[data-testid=envelope]").inner_text()) == finished.events[k - 1].to_dict()
    assert page.locator("[data-testid=inspector-position]").inner_text() == f"event {k:,} of {len(finished.events):,}"
    selected = page.locator("[data-testid=event-list] .wb-sel")
    assert selected.get_attribute("data-id") == str(k) and selected.get_attribute("data-type") == "phase:complete"

    # ◀ steps back one event; the running phase is open in the snapshot.
    page.click("[data-testid=inspector-prev]")
    page.wait_for_selector(f"[data-testid=envelope][data-id='{k - 1}']")
    assert page.locator(SNAP + "[data-testid=phase][data-state=running]").count() == 1
    assert page.locator(SNAP + "[data-testid=phase][data-state=running]").get_attribute("open") is not None
    assert page.locator(SNAP + "[data-testid=phase][data-state=done]").count() == 0

    # Filter the list by type; ▶ then jumps between events of the shown types.
    page.click("[data-testid=type-filter] >> text=none")
    page.check("[data-testid=type-filter] input[data-type='tool:start']")
    rows = page.locator("[data-testid=event-list] [data-testid=event-row]")
    assert rows.count() > 0
    assert {rows.nth(i).get_attribute("data-type") for i in range(rows.count())} == {"tool:start"}
    page.click("[data-testid=inspector-next]")
    after_k = next(e.id for e in finished.events[k - 1:] if e.type == "tool:start")
    page.wait_for_selector(f"[data-testid=envelope][data-id='{after_k}']")
    assert json.loads(page.locator("[data-testid=envelope]").inner_text())["type"] == "tool:start"

    # Clicking an event in the list selects it.
    target = rows.nth(0)
    target_id = target.get_attribute("data-id")
    target.click()
    page.wait_for_selector(f"[data-testid=envelope][data-id='{target_id}']")
    assert page.locator("[data-testid=inspector-slider]").input_value() == target_id

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(LIVE + ".wb-body").evaluate("b => b.scrollTop = 0")
    page.screenshot(path=str(ARTIFACTS / "widget-export.png"), full_page=True)


def test_a_large_run_renders_quickly_and_stays_responsive(page, tmp_path):
    run = synthetic_run(10_000)
    path = tmp_path / "big.html"
    export_html(run, path)
    began = time.monotonic()
    page.goto(path.as_uri())
    page.wait_for_selector(LIVE + "[data-testid=status][data-status=complete]")
    elapsed = time.monotonic() - began
    assert elapsed < 3.0, f"10,000 events took {elapsed:.2f} s"
    ping = time.monotonic()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")
    assert time.monotonic() - ping < 0.5
    # A phase of hundreds of steps keeps only the newest 100 in the DOM, the rest behind a button.
    phase = page.locator(LIVE + "[data-testid=phase]").first
    phase.locator("summary").first.click()
    steps = phase.locator("[data-testid=step]")
    steps.first.wait_for()
    n = len(run.state.items_of("p1"))
    assert steps.count() == 100
    more = phase.locator("[data-testid=show-earlier]")
    assert more.inner_text() == f"Show {n - 100:,} earlier steps"
    more.click()
    assert steps.count() == 200 and more.inner_text() == f"Show {n - 200:,} earlier steps"
    assert page.locator(LIVE + "[data-testid=step]").count() <= 300


# --- the live view, driven as the kernel would ---------------------------------------------

HARNESS = """<!doctype html>
<html><head><meta charset="utf-8"><style>%(css)s</style>
<style>#app .wb-root { --wb-max-height: 260px; }</style></head>
<body style="margin:0;padding:8px"><div id="app"></div>
<script type="module">
const listeners = new Set();
window.toKernel = [];
const traits = %(traits)s;
const model = {
  get: (name) => traits[name],
  on(name, fn) { if (name === "msg:custom") listeners.add(fn); },
  off(name, fn) { listeners.delete(fn); },
  send(msg) { window.toKernel.push(msg); },
};
window.deliver = (msg) => { for (const fn of listeners) fn(msg, []); };
const module = await import(URL.createObjectURL(new Blob([%(js)s], { type: "text/javascript" })));
window.cleanup = module.default.render({ model, el: document.getElementById("app") });
window.harnessReady = true;
</script></body></html>"""


def open_harness(page, run: wb.Run) -> None:
    traits = {"run_id": run.id, "task": run.task, "model": run.model, "strategy": run.strategy}
    js = json.dumps(front_end()).replace("<", "\\u003c")
    page.set_content(HARNESS % {"css": (STATIC / "run_view.css").read_text("utf-8"),
                                "traits": json.dumps(traits), "js": js})
    page.wait_for_function("window.harnessReady === true")
    assert page.evaluate("window.toKernel") == [{"kind": "ready"}]


def deliver(page, events: list[ev.Event]) -> None:
    page.evaluate("m => deliver(m)", {"kind": "events", "events": merged_items(events)})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_live_view_follows_stops_and_applies_each_event_once(browser, finished):
    page = browser.new_page(viewport={"width": 900, "height": 520})
    try:
        open_harness(page, finished)
        events = list(finished.events)
        p2_start = next(e.id for e in events if e.type == "phase:start" and e.data.phase_id == "p2")
        deliver(page, events[: p2_start + 40])
        assert page.locator(LIVE + "[data-testid=status]").inner_text() == "running"
        running = page.locator(LIVE + "[data-testid=phase][data-state=running]")
        assert running.count() == 1 and running.get_attribute("data-phase-id") == "p2"
        assert running.get_attribute("open") is not None  # the running phase is open…
        assert page.locator(LIVE + "[data-testid=phase][data-phase-id=p1]").get_attribute("open") is None  # …done ones not
        assert page.locator(LIVE + "[data-testid=elapsed]").inner_text().startswith("elapsed")

        # Duplicates and out-of-order batches change nothing: each event applies once, in order.
        before = page.locator(LIVE + "[data-testid=step]").count()
        deliver(page, events[10:p2_start + 40])
        assert page.locator(LIVE + "[data-testid=step]").count() == before
        a, b = p2_start + 40, p2_start + 120
        deliver(page, events[b:b + 30])  # arrives early: held back
        deliver(page, events[a:b])
        assert page.locator(LIVE + "[data-testid=event-count]").inner_text() == f"{b + 30:,} events"

        body = page.locator(LIVE + ".wb-body")
        at_bottom = "b => b.scrollHeight - b.scrollTop - b.clientHeight < 4"
        assert body.evaluate("b => b.scrollHeight > b.clientHeight + 50")
        assert body.evaluate(at_bottom)  # following the newest activity

        # Scrolling up to read stops following; nothing jumps while events keep coming.
        body.hover()
        page.mouse.wheel(0, -300)
        # mouse.wheel does not wait for the scroll: wait until it has moved the view off the bottom.
        page.wait_for_function("(b => b.scrollHeight - b.scrollTop - b.clientHeight >= 4)"
                               "(document.querySelector('[data-testid=live-view] .wb-body'))")
        page.wait_for_selector(LIVE + "[data-testid=follow]", state="visible")
        top = body.evaluate("b => b.scrollTop")
        deliver(page, events[b + 30:b + 200])
        assert body.evaluate("b => b.scrollTop") == top
        assert not body.evaluate(at_bottom)
        page.click(LIVE + "[data-testid=follow]")
        assert body.evaluate(at_bottom)
        assert page.locator(LIVE + "[data-testid=follow]").is_hidden()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-live.png"), full_page=True)

        # Stop sends cancel once and disables itself.
        stop = page.locator(LIVE + "[data-testid=stop]")
        assert stop.is_enabled()
        stop.click()
        assert stop.is_disabled()
        stop.click(force=True)
        assert page.evaluate("window.toKernel.filter(m => m.kind === 'cancel').length") == 1

        deliver(page, events[b + 200:])
        assert page.locator(LIVE + "[data-testid=status]").inner_text() == "complete"
        assert stop.is_hidden()
        assert page.locator(LIVE + "[data-testid=result]").is_visible()
    finally:
        page.close()


def test_a_failed_run_shows_its_error_and_the_failed_phase(browser, finished):
    events = list(finished.events)
    cut = next(e.id for e in events if e.type == "tool:start" and e.data.phase_id == "p2")
    failed = wb.Run(run_id="r_failed", task=finished.task, model="simulated", strategy="plan",
                    created_at=finished.created_at)
    failed.log.extend(events[:cut])
    failed.log.append(ev.ModelRetryData(attempt=1, reason="529 overloaded_error", delay_ms=1000))
    failed.log.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type="overloaded_error", message="The API is overloaded."),
                                            stack=None))
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        open_harness(page, failed)
        deliver(page, list(failed.events))
        assert page.locator(LIVE + "[data-testid=status]").inner_text() == "error"
        error = page.locator(LIVE + "[data-testid=error]")
        assert error.is_visible()
        assert error.locator("[data-testid=error-type]").inner_text() == "overloaded_error"
        assert error.locator("[data-testid=error-message]").inner_text() == "The API is overloaded."
        phase = page.locator(LIVE + "[data-testid=phase][data-phase-id=p2]")
        assert phase.get_attribute("data-state") == "failed" and phase.get_attribute("open") is not None
        assert phase.locator("[data-testid=step][data-kind=tool]").get_attribute("data-status") == "interrupted"
        assert "529 overloaded_error" in phase.locator("[data-testid=step][data-kind=retry]").inner_text()
        assert page.locator(LIVE + "[data-testid=phase][data-phase-id=p3]").get_attribute("data-state") == "pending"
    finally:
        page.close()


# --- a long synthetic run --------------------------------------------------------------------


def synthetic_run(target: int, phases: int = 5) -> wb.Run:
    """A finished run of about ``target`` events: phases of many thinking, tool and message steps."""
    run = wb.Run(run_id="r_synthetic", task="A long synthetic run", model="simulated", strategy="plan",
                 created_at="2026-01-01T00:00:00.000Z")
    t0 = 1_780_000_000.0
    clock = iter(range(10**7))

    def add(data: ev.EventData) -> None:
        run.log.append(data, ts=ev.utc_timestamp(t0 + next(clock) * 0.002))

    add(ev.ExecutionStartedData(task=run.task, started_at=ev.utc_timestamp(t0), model="simulated", strategy="plan"))
    add(ev.PlanCreatedData(plan=ev.Plan(goal="Exercise the view.", phases=[
        ev.PlanPhase(id=f"p{i + 1}", name=f"Phase {i + 1}", description="Many small steps.") for i in range(phases)])))
    per_phase = (target - 3) // phases
    step = 0
    for p in range(phases):
        pid = f"p{p + 1}"
        add(ev.PhaseStartData(phase_id=pid, phase_name=f"Phase {p + 1}", phase_index=p))
        end = len(run.log) + per_phase - 2
        while len(run.log) < end:
            step += 1
            kind = step % 3
            if kind == 0:
                sid = f"s{step}"
                words = [f"thought {step}.{i} " for i in range(min(8, end - len(run.log)))]
                for w in words[:-1]:
                    add(ev.ThinkingDeltaData(step_id=sid, delta=w, phase_id=pid))
                add(ev.ThinkingData(thought="".join(words[:-1]), iteration=step, step_id=sid, phase_id=pid))
            elif kind == 1 and end - len(run.log) >= 2:
                tid = f"toolu_{step}"
                add(ev.ToolStartData(tool_name="read_file", params={"path": f"notes/{step}.md"}, tool_use_id=tid, phase_id=pid))
                add(ev.ToolCompleteData(tool_name="read_file", result=f"contents {step}", duration=1.5, tool_use_id=tid))
            else:
                add(ev.TextData(step_id=f"m{step}", text=f"Step {step} done.", phase_id=pid))
        add(ev.PhaseCompleteData(phase_id=pid, phase_name=f"Phase {p + 1}", summary="Done."))
    add(ev.ExecutionCompleteData(result="All done.", duration=1000.0, tokens_used=ev.Usage(input=10, output=20)))
    return run
