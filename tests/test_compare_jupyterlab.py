"""A sweep in a real JupyterLab: the issue's "done when" as a person sees it.

A notebook cell runs ``wb.sweep`` of 2 × 3 settings and shows the comparison; the table fills in while
the runs go, its progress line counting, and ends with six complete rows. A click on a row opens that
run's view below the table, through ipywidgets as JupyterLab renders it; ticking two rows and Diff
replaces it with their diff. Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import re

from browser import ARTIFACTS
from jupyter_process import STARTUP_S
from test_jupyterlab import browser, code_cell, handle_interruptions, lab  # noqa: F401 (fixtures)

NOTEBOOK = "sweep.ipynb"
CELL = ("import workbench as wb\n\n"
        'table = wb.sweep("Write a haiku about tides", seeds=[1, 2, 3], strategy="react", concurrency=2,\n'
        '                 options=[{"maxIterations": 8, "pace": 300}, {"maxIterations": 9, "pace": 300}])\n'
        "table")
ROWS = "[data-testid=compare-row]"


def test_a_sweep_of_six_fills_a_live_table_whose_rows_open_their_runs_in_jupyterlab(browser, lab):  # noqa: F811
    from playwright.sync_api import expect

    cells = [code_cell(CELL), code_cell('print("kernel sees:", table.wait(60).progress())')]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
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

        # Live: six rows at once, the progress line counting while two go at a time.
        progress = page.locator("[data-testid=compare-progress]")
        expect(page.locator(ROWS)).to_have_count(6, timeout=30_000)
        expect(progress).to_have_text(re.compile(r"^[0-5] of 6 done, 2 running, [0-4] queued$"), timeout=30_000)
        heads = page.locator(".wb-cmp-table th").all_inner_texts()
        assert heads[:6] == ["", "#", "status", "model", "maxIterations", "seed"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "compare-jupyterlab-live.png"))
        expect(progress).to_have_text("6 of 6 done, 0 running, 0 queued", timeout=60_000)
        statuses = [row.get_attribute("data-status") for row in page.locator(ROWS).all()]
        assert statuses == ["complete"] * 6
        seeds = [row.locator("td").nth(5).inner_text() for row in page.locator(ROWS).all()]
        assert seeds == ["1", "1", "2", "2", "3", "3"]
        expect(page.locator(".jp-OutputArea-output", has_text="kernel sees: 6 of 6 done, 0 running, 0 queued")
               ).to_be_visible(timeout=30_000)

        # Every row opens its own run's view below the table.
        run_ids = [row.get_attribute("data-run-id") for row in page.locator(ROWS).all()]
        assert len(set(run_ids)) == 6 and all(run_ids)
        live = page.locator("[data-testid=live-view]")
        for index in range(6):
            page.locator(ROWS).nth(index).locator("td").nth(2).click()
            expect(live).to_have_count(1)
            expect(live.locator("[data-testid=status]")).to_have_text("complete")
            expect(page.locator(ROWS).nth(index)).to_have_class(re.compile(r"\bwb-cmp-opened\b"))
        page.screenshot(path=str(ARTIFACTS / "compare-jupyterlab-open.png"), full_page=True)
        page.locator(ROWS).nth(5).locator("td").nth(2).click()  # again: closed
        expect(live).to_have_count(0)

        # Two ticked rows and Diff: their diff.
        page.locator(ROWS).nth(0).locator("input[type=checkbox]").check()
        page.locator(ROWS).nth(3).locator("input[type=checkbox]").check()
        page.locator("[data-testid=compare-diff]").click()
        expect(page.locator("[data-testid=diff-view]")).to_contain_text(run_ids[0])
        expect(page.locator("[data-testid=diff-view]")).to_contain_text(run_ids[3])
        assert errors == []
    finally:
        page.close()
