"""A notebook saved in JupyterLab carries the summary of the finished run, not of the moment it was shown.

The run is shown by the first cell, which ends at once; it ends while the second cell waits for
it. Ctrl+S then saves what GitHub and nbviewer will show: the summary must be the finished run's.

Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import re

from jupyter_process import STARTUP_S, Jupyter
from test_jupyterlab import browser, code_cell, lab  # noqa: F401 (fixtures)

CELLS = ['import workbench as wb\n\nrun = wb.run("Write a haiku", model="simulated", options={"pace": 300})\nrun',
         "state = run.wait(60)\nstate.status"]


def test_a_notebook_saved_in_jupyterlab_shows_the_finished_run(browser, lab: Jupyter) -> None:  # noqa: F811
    from playwright.sync_api import expect

    notebook = {"cells": [code_cell(c) for c in CELLS], "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path = lab.root / "saved.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    page = browser.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/saved.ipynb?token={lab.token}")
        expect(page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName")).to_have_text(
            re.compile("Python 3"), timeout=STARTUP_S * 1000)
        indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=STARTUP_S * 1000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        expect(page.locator(".jp-OutputArea-output", has_text="'complete'")).to_be_visible(timeout=60_000)
        expect(page.locator("[data-testid=status]")).to_have_text("complete")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=10_000)
        page.locator(".jp-NotebookPanel .jp-Notebook").click()
        page.keyboard.press("Control+s")
        expect(page.locator(".jp-NotebookPanel-toolbar, .jp-Toolbar").first).to_be_visible()
        page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=10_000)
    finally:
        page.close()
    saved = json.loads(path.read_text("utf-8"))
    html = "".join(saved["cells"][0]["outputs"][0]["data"]["text/html"])
    assert re.search(r'data-status="complete"', html), html[:500]
    assert "Saved while the run was going on" not in html
