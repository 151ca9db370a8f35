""""Fork from here" in a real JupyterLab, through ipywidgets: the comm, the synced traits, the keys.

A notebook runs ``wb.run(...)``; once it has ended, the test opens the Inspector, keeps only the
``tool:complete`` events, steps to the first, forks there with a message sent by Ctrl+Enter (which
JupyterLab would take as "run the cell" if it got out of the view), and finds the fork in the
same output under a tab strip, live and then complete; the parent's tab shows the parent again.
Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import re
from typing import Any

from browser import ARTIFACTS
from jupyter_process import STARTUP_S, Jupyter
from test_jupyterlab import browser, code_cell, handle_interruptions, lab  # noqa: F401 (fixtures)

NOTEBOOK = "fork.ipynb"
LIVE = "[data-testid=live-view]"


def test_a_person_forks_a_run_from_the_inspector_in_jupyterlab(browser: Any, lab: Jupyter) -> None:  # noqa: F811
    from playwright.sync_api import expect

    cell = ('import workbench as wb\n\nrun = wb.run("Write a haiku about tides", model="simulated", '
            'options={"pace": 300})\nrun')
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
        output = page.locator(".jp-OutputArea-output:has(.wb-root)").last
        status = output.locator(f"{LIVE} [data-testid=status]")
        count = output.locator(f"{LIVE} [data-testid=event-count]")
        expect(status).to_have_text("complete", timeout=60_000)
        parent_count = count.inner_text()

        # The Inspector, only tool:complete listed, at the first of them (◀ ▶ skip the types not listed).
        output.locator("[data-testid=inspector-toggle]").click()
        expect(output.locator("[data-testid=inspector-position]")).to_have_text(re.compile(r"^event ([\d,]+) of \1$"))
        output.locator("[data-testid=type-filter] button", has_text="none").click()
        output.locator("[data-testid=type-filter] input[data-type='tool:complete']").check()
        slider = output.locator("[data-testid=inspector-slider]")
        slider.focus()
        page.keyboard.press("Home")
        output.locator("[data-testid=inspector-next]").click()
        envelope = output.locator("[data-testid=envelope]")
        expect(envelope).to_contain_text('"type": "tool:complete"')
        at = json.loads(envelope.inner_text())["id"]

        output.locator("[data-testid=fork-open]").click()
        message = output.locator("[data-testid=fork-message]")
        message.fill("Make the last line about the moon")
        message.press("Control+Enter")

        # The fork, in the same output: tabs, where it came from, live and then complete.
        tabs = output.locator("[data-testid=fork-tab]")
        expect(tabs).to_have_count(2, timeout=15_000)
        expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
        parent_id, fork_text = tabs.nth(0).inner_text(), tabs.nth(1).inner_text()
        assert re.fullmatch(r"fork r_[0-9a-f]{16}", fork_text) and fork_text != f"fork {parent_id}"
        expect(output.locator("[data-testid=forked-from]")).to_have_text(re.compile(
            rf"^Forked from {parent_id} at event {at}: events 1 to {at} are copied from it, .*"
            "your message \u201cMake the last line about the moon\u201d\\.$"))
        expect(status).to_have_text("complete", timeout=60_000)
        fork_count = count.inner_text()
        assert int(fork_count.split()[0].replace(",", "")) > at + 1

        # Back to the parent and forward again.
        tabs.nth(0).click()
        expect(count).to_have_text(parent_count)
        expect(output.locator("[data-testid=forked-from]")).to_be_hidden()
        tabs.nth(1).click()
        expect(count).to_have_text(fork_count)

        # Ctrl+Enter stayed in the view: the one cell ran once.
        assert page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").count() == 1
        expect(page.locator(".jp-NotebookPanel .jp-InputPrompt").first).to_have_text("[1]:")
        ARTIFACTS.mkdir(exist_ok=True)
        output.screenshot(path=str(ARTIFACTS / "jupyterlab-fork.png"))
        assert not errors, errors
    finally:
        page.close()
