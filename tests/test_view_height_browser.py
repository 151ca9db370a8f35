"""The live view holds still: its height stays the same while a run goes on, and its body follows.

A paced simulator run is fed to the view as it happens (the harness of test_widget_browser,
which stands in for the kernel's side of the widget). The view's outer height is measured
after every batch of events: once it has its size it must not change, although phases open
and close. The body follows the newest step until the reader scrolls up, and follows again
once they scroll back to the bottom. Its corner resizes it, past its default height too.
"""

from __future__ import annotations

import time

from browser import ARTIFACTS
from test_widget_browser import LIVE, deliver, open_harness

import workbench as wb
from workbench.core import events as ev

TASK = "Create a landing page for a coffee shop"
BODY = LIVE + ".wb-body"
AT_BOTTOM = "b => b.scrollHeight - b.scrollTop - b.clientHeight < 4"


def outer_height(page) -> float:
    return page.locator(".wb-root").evaluate("r => r.getBoundingClientRect().height")


def feed_live(page, run: wb.Run, sent: int) -> list[ev.Event]:
    """Deliver the events the run has made since ``sent``; return them."""
    events = list(run.events)[sent:]
    if events:
        deliver(page, events)
    return events


def use_default_height(page) -> None:
    """The harness makes the body short for its own tests; measure the default a person gets."""
    page.evaluate("() => document.querySelectorAll('style')[1].remove()")


def test_the_live_view_keeps_its_height_and_follows(browser):  # noqa: F811
    run = wb.run(TASK, model="simulated", options={"pace": 400})
    page = browser.new_page(viewport={"width": 900, "height": 900})
    try:
        open_harness(page, run)
        use_default_height(page)
        body = page.locator(BODY)
        heights: list[float] = []
        phases_seen: list[str] = []
        sent = 0
        scrolled_at = None
        resumed = False
        while True:
            finished = run.state.finished
            sent += len(feed_live(page, run, sent))
            if sent:
                heights.append(outer_height(page))
                phases_seen.append(page.locator(LIVE + "[data-testid=phase][data-state=done]").count())
            following = page.locator(LIVE + "[data-testid=follow]").is_hidden()
            overflowing = body.evaluate("b => b.scrollHeight > b.clientHeight + 40")
            if overflowing and following and scrolled_at is None:
                assert body.evaluate(AT_BOTTOM), "a following view shows the newest step"
            done_phases = phases_seen[-1] if phases_seen else 0
            if scrolled_at is None and done_phases >= 2 and overflowing:
                # The reader scrolls up: the view stops following, and stays where they are.
                body.hover()
                page.mouse.wheel(0, -250)
                page.wait_for_function(f"({AT_BOTTOM})(document.querySelector('{BODY}')) === false")
                page.wait_for_selector(LIVE + "[data-testid=follow]", state="visible")
                scrolled_at = body.evaluate("b => b.scrollTop")
            elif scrolled_at is not None and not resumed:
                assert body.evaluate("b => b.scrollTop") == scrolled_at, "nothing moves under a reader"
                if done_phases >= 3:
                    # Back at the bottom by hand: following again, without the button.
                    body.hover()
                    page.mouse.wheel(0, 100_000)
                    page.wait_for_selector(LIVE + "[data-testid=follow]", state="hidden")
                    resumed = True
            elif resumed and not finished:
                assert body.evaluate(AT_BOTTOM), "following again after scrolling back to the bottom"
            if finished and sent == len(run.events):
                break
            time.sleep(0.05)
        assert page.locator(LIVE + "[data-testid=status]").inner_text() == "complete"
        assert scrolled_at is not None and resumed, "the run ended before the reader could scroll"
        # Measured while it filled in, across phases: how often depends on the machine's load, not the view.
        assert len(heights) >= 10 and len(set(phases_seen)) >= 3, f"{len(heights)} measurements over phases {sorted(set(phases_seen))}"
        assert phases_seen[-1] == len(run.state.phases) >= 3  # phases closed while measured
        # Its size is reached with the first events; from then on it holds within 2 px.
        settled = heights[1:]
        assert max(settled) - min(settled) <= 2, f"the view's height moved: {sorted(set(round(h) for h in settled))}"
        assert 480 <= settled[0] <= 700, settled[0]

        # Its corner resizes it, taller than the default too.
        box = body.bounding_box()
        before = box["height"]
        page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + 197, steps=8)
        page.mouse.up()
        after = body.bounding_box()["height"]
        assert abs(after - (before + 200)) <= 4, (before, after)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-steady.png"), full_page=True)
    finally:
        page.close()
