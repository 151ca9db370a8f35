"""Search in the run view, in a real Chromium: it keeps the steps that hold the text, marks it,
counts it, and Escape clears it; on a live run it keeps up as steps stream in.

The expected count is worked out here from the run's state, by the rule the README gives:
thinking, messages, tool names, parameters (keys and values) and results, case ignored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from browser import ARTIFACTS
from test_widget_browser import deliver, open_harness

import workbench as wb
from workbench.core.reducer import RunState, fold
from workbench.notebook.widget import export_html

LIVE = "[data-testid=live-view] "
TASK = "Create a landing page for a coffee shop"
QUERY = "OUTLINE.md"


@pytest.fixture(scope="module")
def finished() -> wb.Run:
    run = wb.run(TASK, model="simulated")
    run.wait(timeout=30)
    return run


def leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for key, child in value.items() for text in [key, *leaves(child)]]
    if isinstance(value, list):
        return [text for child in value for text in leaves(child)]
    return [value if isinstance(value, str) else json.dumps(value)]


def texts(step: Any) -> list[str]:
    if step.kind == "thinking":
        return [] if step.redacted else [step.text]
    if step.kind == "message":
        return [step.text]
    result = [] if step.result is None else [step.result if isinstance(step.result, str) else json.dumps(step.result, indent=2)]
    return [step.tool_name, *leaves(step.params), *result]


def hits(state: RunState, query: str) -> dict[str | None, int]:
    """Occurrences of ``query`` by phase id (None: steps outside phases)."""
    out: dict[str | None, int] = {}
    for step in state.steps.values():
        n = sum(text.lower().count(query.lower()) for text in texts(step))
        out[step.phase_id] = out.get(step.phase_id, 0) + n
    return out


def matches(n: int) -> str:
    return f"{n:,} match{'' if n == 1 else 'es'}"


def test_search_keeps_marks_and_counts_the_matching_steps(browser, finished, tmp_path):
    expected = hits(finished.state, QUERY)
    total = sum(expected.values())
    assert total >= 3 and sum(1 for n in expected.values() if n) >= 2  # in some phases, not all
    path = tmp_path / "run.html"
    export_html(finished, path)
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(LIVE + "[data-testid=status][data-status=complete]")
        box = page.locator(LIVE + "[data-testid=search-input]")
        box.fill(QUERY)
        count = page.locator(LIVE + "[data-testid=search-count]")
        assert count.inner_text() == matches(total)

        # Phases with matches are open and show only their matching steps; the others are hidden.
        for phase_id, n in expected.items():
            if phase_id is None:
                continue
            phase = page.locator(f"{LIVE}[data-testid=phase][data-phase-id={phase_id}]")
            assert phase.is_visible() == (n > 0), phase_id
            if not n:
                continue
            assert phase.get_attribute("open") is not None
            shown = phase.locator("[data-testid=step]:visible")
            assert shown.count() == sum(
                1 for s in finished.state.items_of(phase_id) if any(QUERY.lower() in t.lower() for t in texts(s)))
            for i in range(shown.count()):
                assert shown.nth(i).locator("[data-testid=search-hit]").count() >= 1
        marks = page.locator(LIVE + "[data-testid=search-hit]:visible")
        assert marks.count() == total
        assert {t.lower() for t in marks.all_inner_texts()} == {QUERY.lower()}
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-search.png"), full_page=True)

        # No match at all: nothing shown, and it says so.
        box.fill("no such text anywhere")
        assert count.inner_text() == "0 matches"
        assert page.locator(LIVE + "[data-testid=step]:visible").count() == 0

        # Escape clears it: every phase back, closed as it was, no marks left.
        box.fill(QUERY)
        box.press("Escape")
        assert box.input_value() == "" and count.inner_text() == ""
        phases = page.locator(LIVE + "[data-testid=phase]")
        assert phases.count() == len(finished.state.phases)
        for i in range(phases.count()):
            assert phases.nth(i).is_visible() and phases.nth(i).get_attribute("open") is None
        assert page.locator(LIVE + "[data-testid=search-hit]").count() == 0
    finally:
        page.close()


def test_search_keeps_up_with_a_live_run(browser, finished):
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        open_harness(page, finished)
        events = list(finished.events)
        query = "notes/"
        deliver(page, events[:3])
        box = page.locator(LIVE + "[data-testid=search-input]")
        box.fill(query)
        count = page.locator(LIVE + "[data-testid=search-count]")
        seen = []
        for k in range(3, len(events), 40):
            deliver(page, events[k:k + 40])
            expected = sum(hits(fold(events[:k + 40]), query).values())
            assert count.inner_text() == matches(expected)
            seen.append(expected)
        assert seen[0] < seen[-1]  # matches arrived while searching
        # Phases that ended while searched stay open: every match is in sight, marked.
        assert page.locator(LIVE + "[data-testid=search-hit]:visible").count() == seen[-1]
        assert page.locator(LIVE + "[data-testid=status]").inner_text() == "complete"
    finally:
        page.close()
