"""Pictures of the live view in a real JupyterLab and Notebook 7, light and dark.

Shared by ``tests/test_screenshots_browser.py`` (every front end and theme, saved under
``test-artifacts/``) and ``scripts/readme_screenshot.py`` (the README's ``docs/live-view.png``).
One ``jupyter lab`` server serves both front ends (Notebook 7 is a server extension of the
same server); the theme is JupyterLab's own setting, written to the server's settings folder
before a page opens. Each picture is of one notebook cell: the code and its live view, taken
while the run goes on (a phase done, one running, a tool call on screen). Only ``data-testid``
hooks are read, so a restyled view still works here.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from jupyter_process import STARTUP_S, Jupyter

Front = Literal["lab", "notebook"]
Theme = Literal["light", "dark"]

THEMES: dict[Theme, str] = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
TASK = "Plan a picnic for twelve people"
PACE = 60
"""About 16 s of streaming for this task: long enough to catch it live with a phase done."""
CELL = f'import workbench as wb\n\nrun = wb.run("{TASK}", model="simulated", options={{"pace": {PACE}}})\nrun'

LIVE_JS = """(task) => {
  const v = [...document.querySelectorAll("[data-testid=live-view]")]
    .filter((v) => v.querySelector("[data-testid=task]").textContent === task).pop();
  if (!v) return null;
  const shown = (el) => el.checkVisibility();
  const phases = [...v.querySelectorAll("[data-testid=phase]")].map((p) => p.dataset.state);
  const tools = [...v.querySelectorAll("[data-testid=step][data-kind=tool]")].filter(shown);
  const status = v.querySelector("[data-testid=status]").dataset.status;
  return status === "running" && phases.includes("done") && phases.includes("running") && tools.length > 0
    ? { status, phases } : null;
}"""


def set_theme(jupyter: Jupyter, theme: Theme) -> None:
    """JupyterLab's theme setting (read by JupyterLab and Notebook 7 alike when a page opens), and no news toast."""
    folder = Path(jupyter.env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "themes.jupyterlab-settings").write_text(json.dumps({"theme": THEMES[theme]}), encoding="utf-8")
    (folder / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}), encoding="utf-8")


def write_notebook(jupyter: Jupyter, name: str) -> str:
    cell = {"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {}, "execution_count": None,
            "outputs": [], "source": CELL}
    notebook = {"cells": [cell], "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    (jupyter.root / name).write_text(json.dumps(notebook), encoding="utf-8")
    return name


def kernel_idle(jupyter: Jupyter, name: str) -> bool:
    for session in jupyter.api("GET", "/api/sessions"):
        if session.get("path") == name and session["kernel"].get("execution_state") == "idle":
            return True
    return False


COLOURS_JS = """(view) => {
  const luminance = (css) => {
    const [r, g, b] = css.match(/[0-9.]+/g).slice(0, 3).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const root = view.closest(".wb-root") || view;
  const title = view.querySelector("[data-testid=task]");
  return { background: luminance(getComputedStyle(root).backgroundColor), text: luminance(getComputedStyle(title).color) };
}"""


def take(browser: Any, jupyter: Jupyter, front: Front, theme: Theme, path: Path, *, width: int = 1100) -> dict[str, float]:
    """Open a fresh notebook in ``front`` with ``theme``, run its cell, and save the cell, live, to ``path``.

    Returns the luminance (0 to 1) of the view's background and of its title's text.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    set_theme(jupyter, theme)
    name = write_notebook(jupyter, f"shot-{front}-{theme}-{uuid.uuid4().hex[:6]}.ipynb")
    where = f"lab/tree/{name}" if front == "lab" else f"notebooks/{name}"
    page = browser.new_page(viewport={"width": width, "height": 1000}, device_scale_factor=1)
    try:
        page.goto(f"{jupyter.url}/{where}?token={jupyter.token}")
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=STARTUP_S * 1000)
        if front == "lab":  # the file browser folded away: the notebook gets the page's width
            current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
            if current.count():
                current.first.click()
        if theme == "dark":
            expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=10_000)
        deadline = time.monotonic() + STARTUP_S
        while not kernel_idle(jupyter, name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel of {name} did not start in {STARTUP_S:.0f} s")
            time.sleep(0.2)
        for attempt in range(2):  # a front end may still be connecting to the kernel it just started
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            try:
                page.wait_for_selector("[data-testid=live-view]", timeout=15_000)
                break
            except PlaywrightTimeout:
                if attempt:
                    raise
        page.wait_for_function(LIVE_JS, arg=TASK, timeout=45_000, polling=50)
        cell = page.locator(".jp-CodeCell", has=page.locator("[data-testid=live-view]")).first
        cell.scroll_into_view_if_needed()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        path.parent.mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(path), animations="disabled")
        return page.locator("[data-testid=live-view]").last.evaluate(COLOURS_JS)
    finally:
        page.close()
