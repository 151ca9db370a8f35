"""What a person sees of ``wb.diff(a, b)``, in a real Chromium: the exported page opened offline,
and the widget live, its kernel side (``DiffView``) pumped into a page as the kernel would.

Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import pytest
from browser import ARTIFACTS, checked_page
from forks import EDITED, FORK_RESULT, first_tool_complete, hand_fork, simulated

import workbench as wb
from workbench.core.handle import Run
from workbench.notebook.diff import DiffView
from workbench.notebook.diff.bundle import diff_css, diff_front_end

VIEW = "[data-testid=diff-view] "


@pytest.fixture(scope="module")
def parent() -> Run:
    return simulated(1)


@pytest.fixture(scope="module")
def fork(parent: Run) -> Run:
    return hand_fork(parent, first_tool_complete(parent, 0).id,
                     result_of=first_tool_complete(parent, 1).data.tool_use_id, result=EDITED, final=FORK_RESULT)


@pytest.fixture
def page(browser):
    with checked_page(browser, 1200, 900) as page:
        yield page


def visible(page: Any, selector: str) -> int:
    return page.evaluate("s => [...document.querySelectorAll(s)].filter((e) => e.checkVisibility()).length", selector)


def test_the_exported_page_shows_where_and_how_a_fork_parts_offline(page, parent, fork, tmp_path):
    at = fork.forked_at
    view = wb.diff(parent, fork)
    diff = view.diff
    path = view.to_html(tmp_path / "diff.html")
    assert path == tmp_path / "diff.html"
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_selector(VIEW + "[data-testid=diff-prefix]")
    assert all(url.startswith(("file:", "blob:", "data:")) for url in requests), requests

    side_a, side_b = page.locator(VIEW + "[data-testid=diff-side-a]"), page.locator(VIEW + "[data-testid=diff-side-b]")
    assert side_a.locator("[data-testid=diff-run-id]").inner_text() == parent.id
    assert side_b.locator("[data-testid=diff-run-id]").inner_text() == fork.id
    assert side_b.locator("[data-testid=diff-status]").inner_text() == "complete"
    assert side_b.locator("[data-testid=diff-fork]").inner_text() == (
        f"forked from {parent.id} at event {at} (a message added: 'try again')")
    assert not side_a.locator("[data-testid=diff-fork]").count()

    # the shared prefix: one line, its steps folded away until it is opened
    assert page.locator(VIEW + "[data-testid=diff-prefix-text]").inner_text() == f"{at} shared events: 4 steps, 1 tool call"
    pairs = sum(len(row.steps) for row in diff.rows)
    assert visible(page, VIEW + "[data-testid=diff-step]") == pairs - 4
    assert visible(page, VIEW + "[data-testid=diff-row]") == len(diff.rows) - 1  # planning is wholly shared

    # the divergence, marked right before the first step after the fork point
    mark = page.locator(VIEW + "[data-testid=diff-divergence]")
    assert mark.is_visible()
    assert mark.locator("[data-testid=diff-divergence-where]").inner_text() == (
        f"A: event {at + 1}, thinking:delta of step s4 · B: event {at + 2}, thinking:delta of step s4")
    assert mark.locator("[data-testid=diff-divergence-fork]").inner_text() == (
        f"B was forked from A at event {at}: a message added: 'try again'")
    after = mark.evaluate("m => m.nextElementSibling.querySelector('[data-testid=diff-text]').innerText")
    assert after == fork.state.steps["s4"].text

    # the changed tool result, highlighted on both sides
    changed = page.locator(VIEW + "[data-testid=diff-step][data-changes=result]")
    assert changed.count() == 1
    assert changed.locator("[data-testid=diff-changes]").inner_text() == "result differs"
    edited = first_tool_complete(parent, 1).data
    cell_a, cell_b = changed.locator(".wb-diff-cell-a"), changed.locator(".wb-diff-cell-b")
    assert cell_a.locator("[data-testid=diff-tool]").inner_text() == cell_b.locator("[data-testid=diff-tool]").inner_text() == "write_file"
    assert cell_a.locator("[data-testid=diff-tool-result]").inner_text() == edited.result
    assert cell_b.locator("[data-testid=diff-tool-result]").inner_text() == EDITED
    assert cell_b.locator("ins").all_inner_texts() == ["12 characters", " (the fork's own)"]
    assert cell_a.locator("del").count() == 1 and cell_a.locator("ins").count() == 0
    assert cell_a.locator("del").evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    # every other step after the fork point is alike: no change said, none highlighted
    assert page.locator(VIEW + "[data-testid=diff-changes]").count() == 1

    # the final results, as a word diff
    result = page.locator(VIEW + "[data-testid=diff-result]")
    assert result.get_attribute("data-same") == "false"
    assert result.locator("[data-testid=diff-result-a]").inner_text() == parent.result
    assert result.locator("[data-testid=diff-result-b]").inner_text() == FORK_RESULT

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "diff-export.png"), full_page=True)
    page.locator(VIEW + "[data-testid=diff-prefix-toggle]").click()
    assert visible(page, VIEW + "[data-testid=diff-step]") == pairs
    assert visible(page, VIEW + "[data-testid=diff-row]") == len(diff.rows)
    assert page.locator(VIEW + "[data-testid=diff-prefix-toggle]").inner_text() == "▾ hide"


# --- the widget, live ----------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>%(css)s</style></head>
<body style="margin:0;padding:8px"><div id="app"></div>
<script type="module">
const module = await import(URL.createObjectURL(new Blob([%(js)s], { type: "text/javascript" })));
const listeners = new Set();
window.toKernel = [];
const model = {
  get: () => undefined,
  on(name, fn) { if (name === "msg:custom") listeners.add(fn); },
  off(name, fn) { listeners.delete(fn); },
  send(msg) { window.toKernel.push(msg); },
};
window.deliver = (msg) => { for (const fn of listeners) fn(msg, []); };
module.default.render({ model, el: document.getElementById("app") });
window.pageReady = true;
</script></body></html>"""


class DiffPage:
    """A page showing one ``DiffView``, its messages carried both ways by :meth:`pump`."""

    def __init__(self, page: Any, a: Run, b: Run) -> None:
        self.page = page
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.view = DiffView.__new__(DiffView)
        self.view.send = lambda content, buffers=None: self.outbox.put(json.loads(json.dumps(content)))  # type: ignore[method-assign]
        page.set_content(PAGE % {"css": diff_css(), "js": json.dumps(diff_front_end()).replace("<", "\\u003c")})
        page.wait_for_function("window.pageReady === true")
        self.view.__init__(a, b)  # type: ignore[misc]

    def pump(self) -> None:
        while True:
            try:
                content = self.outbox.get_nowait()
            except queue.Empty:
                break
            self.page.evaluate("msg => deliver(msg)", content)
        for content in self.page.evaluate("() => toKernel.splice(0)"):
            self.view._handle_custom_msg(content, [])

    def until(self, js: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = self.page.evaluate(js)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {js}")
            time.sleep(0.02)


def test_the_widget_follows_a_live_run_until_it_ends(page, parent):
    live = wb.run(parent.task, model="simulated", options={"seed": 2, "pace": 1500})
    shown = DiffPage(page, parent, live)
    try:
        shown.until("() => document.querySelector('[data-testid=diff-view]').dataset.live === 'true'")
        status = page.locator(VIEW + "[data-testid=diff-side-b] [data-testid=diff-status]")
        assert status.inner_text() == "running"
        seen = set()
        deadline = time.monotonic() + 60
        while page.locator(VIEW).get_attribute("data-live") != "false" and time.monotonic() < deadline:
            shown.pump()
            seen.add(page.locator(VIEW + "[data-testid=diff-side-b]").inner_text())
            time.sleep(0.05)
        assert len(seen) >= 2  # it changed while the run went on
        assert status.inner_text() == "complete"
        assert live.done
        # seeds 1 and 2 part in their first thinking step
        assert page.locator(VIEW + "[data-testid=diff-divergence]").is_visible()
        outline = page.locator(VIEW + "[data-testid=diff-row][data-key='-|phase:p2']")
        assert outline.locator(".wb-diff-row-title").all_inner_texts() == ["—", "2. Outline the guide"]
        assert outline.locator("[data-testid=diff-changes]").all_inner_texts() == ["only in B"] * len(
            live.state.items_of("p2"))
        assert shown.view.messages_sent >= 3
    finally:
        shown.view.close()
        live.cancel()


def test_a_run_against_itself_shows_no_difference(page, parent):
    shown = DiffPage(page, parent, parent)
    try:
        shown.until("() => !!document.querySelector('[data-testid=diff-prefix-text]')")
        n = len(parent.events)
        text = page.locator(VIEW + "[data-testid=diff-prefix-text]").inner_text()
        assert text.startswith(f"All {n:,} events alike: 3 phases") and text.endswith(": no difference but timing")
        assert not page.locator(VIEW + "[data-testid=diff-divergence]").count()
        assert not page.locator(VIEW + "[data-testid=diff-changes]").count()
        assert visible(page, VIEW + "[data-testid=diff-step]") == 0  # all of it is the folded prefix
        assert page.locator(VIEW + "[data-testid=diff-result] [data-testid=diff-result-same]").inner_text() == parent.result
        page.locator(VIEW + "[data-testid=diff-prefix-toggle]").click()
        assert visible(page, VIEW + "[data-testid=diff-step]") == len(parent.state.steps)
    finally:
        shown.view.close()


def test_a_diff_of_two_long_runs_renders_and_opens_its_prefix(page, tmp_path):
    from test_widget_browser import synthetic_run

    a = synthetic_run(10_000)
    events = [e.model_copy(update={"run_id": "r_other"}) for e in synthetic_run(10_000).events]
    changed = next(i for i, e in enumerate(events) if i >= 5000 and e.type == "tool:complete")
    events[changed] = events[changed].model_copy(
        update={"data": events[changed].data.model_copy(update={"result": "changed"})})
    b = Run(run_id="r_other", task=a.task, model=a.model, strategy=a.strategy, created_at=a.created_at)
    b.log.extend(events)
    b.log.close()
    # Two long runs must diff and render; how fast is for a benchmark, not a timed test.
    path = wb.diff(a, b).to_html(tmp_path / "long.html")
    page.goto(path.as_uri())
    page.wait_for_selector(VIEW + "[data-testid=diff-divergence]")
    assert page.locator(VIEW + "[data-testid=diff-divergence-where]").inner_text() == (
        f"A: event {changed + 1}, tool:complete read_file · B: event {changed + 1}, tool:complete read_file")
    step = page.locator(VIEW + "[data-testid=diff-step][data-changes=result]")
    assert step.count() == 1 and step.locator(".wb-diff-cell-b ins").inner_text() == "changed"
    page.locator(VIEW + "[data-testid=diff-prefix-toggle]").click()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")
    assert visible(page, VIEW + "[data-testid=diff-step]") == len(a.state.steps)
