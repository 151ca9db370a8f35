"""The smaller things a person reads in the run view, in a real Chromium (issue 11, point 13).

A thinking step closes and opens from its header (click or Enter); "model call N" says what
it counts; a cancelled phase has a grey ⊘ apart from a failed phase's red ✕; ``list_files``
of "." reads "workspace root"; the Wrap-up section says what it is.
"""

from __future__ import annotations

import time

import pytest
from test_view_tree_browser import THOUGHT, tree_run

import workbench as wb
from workbench.core import events as ev
from workbench.core.reducer import fold
from workbench.notebook.summary import summary_html
from workbench.notebook.widget import export_html

LIVE = "[data-testid=live-view] "
TASK = "Create a landing page for a coffee shop"


@pytest.fixture
def open_run(browser, tmp_path):
    pages = []

    def open_(run: wb.Run):
        path = tmp_path / f"{run.id}.html"
        export_html(run, path)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        pages.append(page)
        page.goto(path.as_uri())
        page.wait_for_selector(LIVE + "[data-testid=status]:not([data-status=starting])")
        page.wait_for_function("() => !document.querySelector('[data-testid=status][data-status=running]')")
        return page

    yield open_
    for page in pages:
        page.close()


def cancelled_run() -> wb.Run:
    run = wb.run(TASK, model="simulated", options={"pace": 400})
    deadline = time.monotonic() + 30
    while not any(e.type == "phase:start" and e.data.phase_id == "p2" for e in run.events):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.cancel("stopped by the test")
    run.wait(timeout=30)
    return run


def failed_run() -> wb.Run:
    finished = wb.run(TASK, model="simulated")
    finished.wait(timeout=30)
    events = list(finished.events)
    cut = next(e.id for e in events if e.type == "tool:start" and e.data.phase_id == "p2")
    run = wb.Run(run_id="r_failed", task=TASK, model="simulated", strategy="plan", created_at=finished.created_at)
    run.log.extend(events[:cut])
    run.log.append(ev.ExecutionErrorData(error=ev.ErrorInfo(type="overloaded_error", message="The API is overloaded.")))
    return run


def icon(page, phase_id: str) -> dict[str, str]:
    return page.locator(f"{LIVE}[data-testid=phase][data-phase-id={phase_id}] .wb-icon").evaluate(
        "i => ({mark: getComputedStyle(i, '::after').content, background: getComputedStyle(i).backgroundColor})")


def test_a_thinking_step_closes_and_opens_from_its_header(open_run):
    page = open_run(tree_run())
    page.locator(LIVE + "[data-testid=phase] summary").first.click()
    step = page.locator(LIVE + "[data-testid=step][data-kind=thinking]")
    text = step.locator("[data-testid=thinking-text]")
    head = step.locator(".wb-step-head")
    line = text.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert text.bounding_box()["height"] >= 2 * line - 1  # open: both lines of the thought
    assert head.get_attribute("aria-expanded") == "true" and head.get_attribute("role") == "button"
    head.click()
    assert head.get_attribute("aria-expanded") == "false"
    assert abs(text.bounding_box()["height"] - line) <= 2  # closed: its first line only
    assert text.inner_text().startswith(THOUGHT.split("\n")[0])
    head.focus()
    page.keyboard.press("Enter")
    assert head.get_attribute("aria-expanded") == "true"
    assert text.bounding_box()["height"] >= 2 * line - 1
    # "model call N" is explained where it is shown.
    detail = step.locator(".wb-step-detail")
    assert detail.inner_text() == "model call 1"
    assert detail.get_attribute("title") == "The 1st call to the model in this phase"
    assert "iteration" not in page.locator(LIVE).inner_text()


def test_list_files_of_the_workspace_says_so(open_run):
    page = open_run(tree_run())
    page.locator(LIVE + "[data-testid=phase] summary").first.click()
    listing = page.locator(LIVE + "[data-testid=step][data-kind=tool]").nth(1)
    assert listing.locator("[data-testid=tool-name]").inner_text() == "list_files"
    assert listing.locator(".wb-tool-arg").inner_text() == "workspace root"


def test_the_wrap_up_section_says_what_it_is(open_run):
    run = wb.run(TASK, model="simulated")
    run.wait(timeout=30)
    page = open_run(run)
    assert "5 of 5 phases done" in page.locator(LIVE + "[data-testid=goal]").inner_text()
    wrap = page.locator(LIVE + "[data-testid=section][data-section=after]")
    assert wrap.locator("[data-testid=section-name]").inner_text() == "Wrap-up"
    explained = wrap.locator("[data-testid=phase-summary]")
    assert explained.is_visible()
    assert explained.inner_text() == "After the plan's phases: the model writes the final answer."


def test_a_cancelled_phase_is_marked_apart_from_a_failed_one(open_run):
    cancelled = cancelled_run()
    assert [p.status for p in cancelled.state.phases.values()][:3] == ["complete", "cancelled", "pending"]
    page = open_run(cancelled)
    phase = page.locator(LIVE + "[data-testid=phase][data-phase-id=p2]")
    assert phase.get_attribute("data-state") == "cancelled" and phase.get_attribute("open") is not None
    stopped = icon(page, "p2")
    assert stopped["mark"] == '"⊘"'

    failed = failed_run()
    assert fold(failed.events).phases["p2"].status == "failed"
    page = open_run(failed)
    assert page.locator(LIVE + "[data-testid=phase][data-phase-id=p2]").get_attribute("data-state") == "failed"
    broke = icon(page, "p2")
    assert broke["mark"] == '"✕"'
    assert broke["background"] != stopped["background"]  # red, not the cancelled grey

    # The saved notebook's summary marks them apart too.
    assert "⊘ " in summary_html(cancelled.state) and "⊘" not in summary_html(failed.state)
    assert "✗ " in summary_html(failed.state)
