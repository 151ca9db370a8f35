""""Fork from here" in the run view's inspector, in a real Chromium: the notebook's and the web view's.

The notebook's view (``live_widget.LivePage``: a kernel-side ``RunView`` bridged to the page, no
Jupyter between) of a run of the orchestrator with the simulator behind the real SDK: a refused
fork says why by the form; a fork with an edited tool result and a message shows at once in the
same view, its copied events and then its live ones, under a tab strip that goes back to the parent.
The web view (a workshop's standalone server in a thread): an instructor forks from the page and the
fork is listed and shown; a participant watching the shared run is not offered the action.
Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from browser import ARTIFACTS, checked_page
from live_widget import LivePage
from servers import Served
from test_web_view import (  # noqa: F401 - fixtures
    INSTRUCTOR,
    PARTICIPANT,
    WAIT_MS,
    enter_token,
    http,
    log_of,
    loop,
    run_item,
    view,
    web_page,
    workshop,
)

import workbench as wb
from conftest import write_scenario
from workbench.core import events as ev

LIVE = "[data-testid=live-view] "
PACE = 150  # deltas a second: the fork's live part takes a few seconds, so the view shows it going


def two_calls_scenario(folder: Path) -> str:
    """A first phase whose first turn calls write_file twice, then a read_file."""
    def write(name: str, content: str) -> dict[str, Any]:
        return {"name": "write_file", "input": {"path": name, "content": content}}

    return write_scenario(
        folder / "two_calls.json",
        plan={"goal": "A haiku about tides", "phases": [{"name": "Draft"}, {"name": "Check"}]},
        phases=[
            [{"thinking": "Draft it and keep notes beside it.", "text": "Writing two files.",
              "toolCalls": [write("haiku.txt", "moon pulls the water"), write("notes.txt", "tides")]},
             {"thinking": "Both are saved.", "text": "Drafted."}],
            [{"thinking": "Read it back.", "toolCalls": [{"name": "read_file", "input": {"path": "haiku.txt"}}]},
             {"thinking": "It reads well.", "text": "Checked: the haiku reads well."}],
        ],
        final={"thinking": "Summarise.", "text": "Here is the haiku, saved in haiku.txt."},
    )


def event_count(live: LivePage, view: str) -> int:
    text = live.page.locator(view + LIVE + "[data-testid=event-count]").inner_text()
    return int(text.split()[0].replace(",", ""))


def inspect(live: LivePage, view: str, k: int) -> None:
    """Open the view's inspector (if closed) and move it to event ``k``, as the slider does."""
    if not live.page.evaluate("v => document.querySelector(v + '[data-testid=inspector]').open", view):
        live.page.click(view + "[data-testid=inspector-toggle]")
    live.page.evaluate("""([v, k]) => { const s = document.querySelector(v + '[data-testid=inspector-slider]');
                          s.value = String(k); s.dispatchEvent(new Event('input')); }""", [view, k])
    live.until("([v, k]) => document.querySelector(v + '[data-testid=envelope]').dataset.id === String(k)", [view, k])


def test_fork_from_the_inspector_shows_the_fork_in_the_same_view_with_tabs_back_to_the_parent(browser: Any, tmp_path: Path) -> None:
    run = wb.run("Write a haiku about tides", model="simulated",
                 options={"scenario": two_calls_scenario(tmp_path), "pace": PACE})
    run.wait(timeout=60)
    parent_events = list(run.events)
    calls = [e for e in parent_events if e.type == "tool:complete"]
    first_call, second_call = calls[0], calls[1]  # one turn's two calls: the turn ends with the second
    assert isinstance(first_call.data, ev.ToolCompleteData) and isinstance(second_call.data, ev.ToolCompleteData)
    assert second_call.id == first_call.id + 2
    fork: wb.Run | None = None
    with checked_page(browser, 1100, 1000) as page:
        live = LivePage(page)
        try:
            view = live.add(run)
            live.text(view + LIVE + "[data-testid=status]", "complete")
            assert page.locator(view + "[data-testid=fork-tabs]").is_hidden()

            # The first call of the turn: the turn has not ended there, so a fork at it copies up to the
            # plan's turn and cannot edit this call. The kernel's refusal shows by the form; no fork is made.
            inspect(live, view, first_call.id)
            assert page.locator(view + "[data-testid=fork-form]").is_hidden()
            page.click(view + "[data-testid=fork-open]")
            result = page.locator(view + "[data-testid=fork-result]")
            assert result.input_value() == "Wrote 20 bytes to haiku.txt"
            result.fill("Wrote nothing")
            page.click(view + "[data-testid=fork-submit]")
            plan_end = next(e.id for e in parent_events if e.type == "model:response")
            live.text(view + "[data-testid=fork-error]",
                      f"The fork was refused: tool call '{first_call.data.tool_use_id}' is not in the part of the run "
                      f"a fork at this event copies (events 1 to {plan_end}); its tool calls are none")
            assert len(live.views[0].family) == 1

            # The second call ends the turn: fork there with its result edited and a message, by keyboard.
            inspect(live, view, second_call.id)
            assert result.input_value() == "Wrote 5 bytes to notes.txt"
            assert page.locator(view + "[data-testid=fork-error]").is_hidden()
            result.fill("Wrote 5 bytes to notes.txt (the notes say: tides)")
            page.fill(view + "[data-testid=fork-message]", "Make the last line about the moon")
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("[data-view='0'] [data-testid=inspector]").screenshot(path=str(ARTIFACTS / "fork-form.png"))
            page.locator(view + "[data-testid=fork-message]").press("Control+Enter")

            # The view shows the fork at once: tabs, the line saying where it came from, its copied
            # events and then its live ones.
            live.until("v => document.querySelectorAll(v + '[data-testid=fork-tab]').length === 2", view)
            (fork_id,) = [run_id for run_id in live.views[0].family if run_id != run.id]
            fork = live.views[0].family[fork_id]
            tabs = page.locator(view + "[data-testid=fork-tab]")
            assert tabs.all_inner_texts() == [run.id, f"fork {fork_id}"]
            assert [tabs.nth(i).get_attribute("aria-selected") for i in range(2)] == ["false", "true"]
            live.text(view + "[data-testid=forked-from]",
                      f"Forked from {run.id} at event {second_call.id}: events 1 to {second_call.id} are copied from it, "
                      f"the rest is this run's own; at the fork point: your message \u201cMake the last line about the moon\u201d, "
                      f"the result of {second_call.data.tool_use_id} edited.")
            live.until(f"v => document.querySelector(v + '{LIVE}[data-testid=status]').innerText === 'running'"
                       f" && Number(document.querySelector(v + '{LIVE}[data-testid=event-count]').innerText.split(' ')[0]) > {second_call.id + 1}",
                       view, timeout=20)
            seen_live = event_count(live, view)
            assert not fork.done, "the fork had ended before its view showed it going on"
            live.text(view + LIVE + "[data-testid=status]", "complete", timeout=60)
            assert seen_live < len(fork.events) == event_count(live, view)
            page.locator("[data-view='0']").screenshot(path=str(ARTIFACTS / "fork-view.png"))
            assert page.locator(view + LIVE + "[data-testid=task]").inner_text() == "Write a haiku about tides"

            # The fork's log: the parent's events with the fork's id, then run:forked with the edits.
            forked = [e.to_dict() for e in fork.events]
            assert [{**e, "runId": run.id} for e in forked[: second_call.id]] == [e.to_dict() for e in parent_events[: second_call.id]]
            assert forked[second_call.id]["type"] == "run:forked"
            assert forked[second_call.id]["data"] == {
                "parentId": run.id, "at": second_call.id,
                "edits": {"toolResult": {"toolUseId": second_call.data.tool_use_id,
                                         "result": "Wrote 5 bytes to notes.txt (the notes say: tides)"},
                          "message": "Make the last line about the moon"}}
            # ... and its inspector shows that envelope exactly.
            inspect(live, view, second_call.id + 1)
            envelope = json.loads(page.locator(view + "[data-testid=envelope]").inner_text())
            assert envelope == forked[second_call.id]

            # Back to the parent: its events, no fork line; and forward to the fork again.
            tabs.nth(0).click()
            live.until("v => document.querySelectorAll(v + '[data-testid=fork-tab]')[0].getAttribute('aria-selected') === 'true'", view)
            live.until(f"([v, n]) => document.querySelector(v + '{LIVE}[data-testid=event-count]').innerText === n + ' events'",
                       [view, len(parent_events)])
            assert page.locator(view + "[data-testid=forked-from]").is_hidden()
            assert page.locator(view + LIVE + "[data-testid=status]").inner_text() == "complete"
            assert live.views[0].run_id == run.id
            tabs.nth(1).click()
            live.until(f"([v, n]) => document.querySelector(v + '{LIVE}[data-testid=event-count]').innerText === n + ' events'",
                       [view, len(fork.events)])
            assert page.locator(view + "[data-testid=forked-from]").is_visible()
            assert live.views[0].run_id == fork_id
        finally:
            live.close()
            for r in (run, fork):
                if r is not None and not r.done:
                    r.cancel()
                    r.wait(timeout=10)


# --- the web view: the same action, POST /runs/{id}/fork, the fork listed and shown ------------------


def inspect_in_page(page: Any, k: int) -> None:
    """Open the shown run's inspector and move it to event ``k``."""
    pane = "[data-testid=run-pane] "
    page.click(pane + "[data-testid=inspector-toggle]")
    page.evaluate("""([p, k]) => { const s = document.querySelector(p + '[data-testid=inspector-slider]');
                     s.value = String(k); s.dispatchEvent(new Event('input')); }""", [pane, k])
    page.wait_for_function("([p, k]) => document.querySelector(p + '[data-testid=envelope]').dataset.id === String(k)",
                           arg=[pane, k], timeout=WAIT_MS)


def test_in_the_web_view_an_instructor_forks_from_the_page_and_a_participant_is_not_offered_it(
        browser: Any, workshop: Served) -> None:  # noqa: F811
    task = "Write a haiku about tides"
    status, run = http(workshop.api + "/runs", "POST", {"task": task, "model": "simulated", "strategy": "plan"},
                       token=INSTRUCTOR)
    assert status == 201
    with (web_page(browser, expected=("status of 401",)) as ines, web_page(browser, expected=("status of 401",)) as ada):
        enter_token(ines, workshop.root, INSTRUCTOR)
        run_item(ines, task).click()
        view(ines, "s.status === 'complete'")
        parent_log = log_of(workshop.api, run["id"], INSTRUCTOR)
        tool = next(e for e in parent_log if e["type"] == "tool:complete")
        inspect_in_page(ines, tool["id"])
        pane = ines.locator("[data-testid=run-pane]")
        pane.get_by_test_id("fork-open").click()
        assert pane.get_by_test_id("fork-result").input_value() == (
            tool["data"]["result"] if isinstance(tool["data"]["result"], str) else json.dumps(tool["data"]["result"], indent=2))
        pane.get_by_test_id("fork-message").fill("Make the last line about the moon")
        pane.get_by_test_id("fork-submit").click()

        # The fork is listed, selected and shown: its address, its line, its events to its end.
        ines.wait_for_function(f"() => location.hash.length > 1 && location.hash !== '#{run['id']}'", timeout=WAIT_MS)
        fork_id = ines.evaluate("() => location.hash.slice(1)")
        item = ines.locator(f"[data-testid=run-item][data-run-id={fork_id}]")
        item.wait_for(timeout=WAIT_MS)
        assert "wv-selected" in (item.get_attribute("class") or "")
        ines.wait_for_function(
            "(t) => (document.querySelector('[data-testid=run-pane] [data-testid=forked-from]') || {}).textContent === t",
            arg=f"Forked from {run['id']} at event {tool['id']}: events 1 to {tool['id']} are copied from it, the rest is "
                f"this run's own; at the fork point: your message \u201cMake the last line about the moon\u201d.",
            timeout=WAIT_MS)
        done = view(ines, "s.status === 'complete'", timeout=30_000)
        fork_log = log_of(workshop.api, fork_id, INSTRUCTOR)
        assert done["events"] == len(fork_log) and done["task"] == task
        assert [{**e, "runId": run["id"]} for e in fork_log[: tool["id"]]] == parent_log[: tool["id"]]
        assert fork_log[tool["id"]]["type"] == "run:forked"
        assert fork_log[tool["id"]]["data"] == {"parentId": run["id"], "at": tool["id"], "edits": {"message": "Make the last line about the moon"}}
        item.get_by_text(f"fork of {run['id']} at event {tool['id']}").wait_for(timeout=WAIT_MS)

        # A participant watches the shared run: the inspector, and no fork.
        enter_token(ada, workshop.root, PARTICIPANT)
        run_item(ada, task).first.click()
        view(ada, "s.status === 'complete'")
        inspect_in_page(ada, tool["id"])
        assert ada.locator("[data-testid=run-pane] [data-testid=fork]").count() == 0
