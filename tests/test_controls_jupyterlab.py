"""The controls in a real JupyterLab: the issue's "done when" as a person would do it.

A notebook runs ``wb.run(..., options={"approve": ["write_file"]})``; the test, at the keyboard
where it can, pauses it while its first write_file waits, approves that call, steps, resumes,
edits the next call (Ctrl+Enter in the editor), tells the agent something (Enter) and denies the
last call with a note. The keys meant for the view must not reach the notebook: Enter, Shift+Enter
and Ctrl+Enter would otherwise edit or run the cell, so the cell must still have run only once.
Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import re

from browser import ARTIFACTS
from jupyter_process import STARTUP_S
from test_jupyterlab import browser, code_cell, handle_interruptions, lab  # noqa: F401 (fixtures)
from test_widget_controls import supervised_scenario

NOTEBOOK = "controls.ipynb"
LIVE = "[data-testid=live-view]"
HEARD = "The person supervising this run says: \u201cMake the last line about the moon\u201d. I will take that into account."


def test_a_person_approves_pauses_steps_edits_talks_and_denies_in_jupyterlab(browser, lab):  # noqa: F811
    from playwright.sync_api import expect

    scenario = supervised_scenario(lab.root)
    cell = ("import workbench as wb\n\n"
            f'run = wb.run("Write a haiku about tides", model="simulated", options={{"scenario": {scenario!r}, '
            '"approve": ["write_file"]})\nrun')
    notebook = {"cells": [code_cell(cell)], "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    (lab.root / NOTEBOOK).write_text(json.dumps(notebook), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    handle_interruptions(page, [])
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
        expect(page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName")).to_have_text(
            re.compile("Python 3"), timeout=STARTUP_S * 1000)
        expect(page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")).to_have_attribute(
            "data-status", "idle", timeout=STARTUP_S * 1000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        view = page.locator(LIVE).last
        now = view.locator("[data-testid=now]")

        # The first write_file stops the run and shows its call with Approve / Edit / Deny.
        approval = view.locator("[data-testid=approval]")
        expect(approval).to_be_visible(timeout=30_000)
        expect(now).to_have_text("Now: waiting for your decision on write_file")
        assert json.loads(view.locator("[data-testid=approval-params]").input_value())["path"] == "notes.txt"
        view.locator("[data-testid=control-pause]").focus()
        page.keyboard.press("Enter")
        expect(view.locator("[data-testid=control-pause]")).to_have_text("Pausing…")
        view.locator("[data-testid=approve]").focus()
        page.keyboard.press("Enter")
        expect(now).to_have_text("Now: paused before the next model call")
        view.locator("[data-testid=control-step]").focus()
        page.keyboard.press("Space")
        expect(now).to_have_text("Now: paused before calling write_file")
        view.locator("[data-testid=control-resume]").click()

        # The second: edited, sent with Ctrl+Enter (JupyterLab's "run the cell" if it got out).
        expect(now).to_have_text("Now: waiting for your decision on write_file")
        editor = view.locator("[data-testid=approval-params]")
        editor.fill(json.dumps({"path": "haiku.txt", "content": "the sea breathes out"}))
        editor.press("Control+Enter")
        expect(view.locator("[data-testid=decision] .wb-decided-what")).to_have_text(
            ["Approved", "Edited: ran with other parameters"])

        # The third waits: a message first (Shift+Enter a new line, Enter sends), then Deny with a note.
        expect(approval).to_be_visible()
        say = view.locator("[data-testid=say-text]")
        say.focus()
        page.keyboard.type("Make the last line")
        page.keyboard.press("Shift+Enter")
        assert say.input_value() == "Make the last line\n"
        say.fill("Make the last line about the moon")
        page.keyboard.press("Enter")
        expect(view.locator("[data-testid=step][data-kind=user] [data-testid=user-text]")).to_have_text(
            "Make the last line about the moon")
        view.locator("[data-testid=approval-note]").fill("one copy is enough")
        view.locator("[data-testid=deny]").click()
        expect(view.locator("[data-testid=status]")).to_have_text("complete", timeout=30_000)

        view.locator("[data-testid=phase][data-phase-id=p1] summary").first.click()
        draft = view.locator("[data-testid=phase][data-phase-id=p1]")
        expect(draft.locator("[data-testid=step][data-status=denied] [data-testid=decision-note]")).to_have_text(
            "Note: one copy is enough")
        assert draft.locator("[data-testid=thinking-text]").last.inner_text().startswith(HEARD)
        assert not view.locator("[data-testid=control-pause]").is_visible()  # a finished run takes no controls
        # None of those keys reached the notebook: its one cell ran once, and it is still the only one.
        assert page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").count() == 1
        expect(page.locator(".jp-NotebookPanel .jp-InputPrompt").first).to_have_text("[1]:")
        view.evaluate("v => v.scrollIntoView({block: 'start'})")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-controls.png"))
        assert not errors, errors
    finally:
        page.close()
