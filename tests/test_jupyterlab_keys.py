"""Keys in the run view stay in the view, in a real JupyterLab (issue 11, point 8).

JupyterLab acts on keys that bubble up to its document: in command mode the arrow keys move
between cells. With the Inspector's slider focused, the arrow keys, Home and End must move
the Inspector by events and leave the notebook's active cell where it is; typing in the search
box must not run JupyterLab's shortcuts either. Skipped without Chromium (see tests/browser.py).
"""

from __future__ import annotations

import json
import math
import re

from jupyter_process import STARTUP_S
from test_jupyterlab import browser, code_cell, handle_interruptions, lab  # noqa: F401 (fixtures)

NOTEBOOK = "keys.ipynb"
RUN_CELL = ('import workbench as wb\n\nrun = wb.run("Create a landing page for a coffee shop", model="simulated")\n'
            "run.wait(timeout=60)\nrun")
LIVE = "[data-testid=live-view]"


def active_cell(page) -> int:
    return page.evaluate("""() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')]
        .findIndex((c) => c.classList.contains('jp-mod-active'))""")


def test_the_inspector_slider_takes_its_keys_in_jupyterlab(browser, lab):  # noqa: F811
    from playwright.sync_api import expect

    cells = [code_cell(RUN_CELL), code_cell("after = 1"), code_cell("later = 2")]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lab.root / NOTEBOOK).write_text(json.dumps(notebook), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
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
        expect(view.locator("[data-testid=status]")).to_have_text("complete", timeout=60_000)
        n = int(view.locator("[data-testid=event-count]").inner_text().split()[0].replace(",", ""))
        assert n > 100

        page.locator("[data-testid=inspector-toggle]").click()
        position = page.locator("[data-testid=inspector-position]")
        expect(position).to_have_text(f"event {n:,} of {n:,}")
        slider = page.locator("[data-testid=inspector-slider]")
        slider.focus()
        expect(page.locator(".jp-Notebook.jp-mod-commandMode")).to_have_count(1)
        cell = active_cell(page)
        assert cell == 0  # the cell whose output holds the view

        def press(key: str, k: int) -> None:
            page.keyboard.press(key)
            expect(position).to_have_text(f"event {k:,} of {n:,}")
            page.wait_for_selector(f"[data-testid=envelope][data-id='{k}']")
            assert slider.input_value() == str(k)
            assert active_cell(page) == cell, f"{key} moved the notebook's active cell"

        press("ArrowLeft", n - 1)
        press("ArrowRight", n)
        press("ArrowDown", n - 1)  # in command mode, JupyterLab's "select the cell below"
        press("ArrowUp", n)
        press("Home", 1)
        press("ArrowRight", 2)
        press("End", n)
        press("PageDown", n - max(1, math.floor(n / 10 + 0.5)))  # as JavaScript's Math.round (112.5 -> 113)
        assert slider.evaluate("s => s === document.activeElement")

        # Typing in the search box: letters are text, not JupyterLab's shortcuts (A inserts a cell above).
        cells_before = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").count()
        search = view.locator("[data-testid=search-input]")
        search.focus()
        page.keyboard.type("ab")
        page.keyboard.press("ArrowDown")
        assert search.input_value() == "ab"
        assert page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").count() == cells_before
        assert active_cell(page) == cell
        assert not errors, errors
    finally:
        page.close()
