"""A view whose kernel is gone, in a real JupyterLab: the kernel restarts while three runs go on.

One notebook shows a run in the kernel and two runs on the Jupyter server (``wb.connect()``).
The kernel is restarted from JupyterLab's Kernel menu, as a person would. Then:

- the kernel's own run ended with the kernel: its view says so at once, its clock and spinners
  stop, Stop is disabled;
- the server's runs go on: their views follow them from the server's event stream (the page's
  own login, no token in widget state), one to its end, with exactly the server's event count;
  the other's Stop button still cancels it, now on the server.

A shutdown (Kernel ▸ Shut Down Kernel), in JupyterLab and in Notebook 7, is said the same way.

Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from browser import ARTIFACTS
from jupyter_process import STARTUP_S, Jupyter
from screenshots import kernel_idle
from test_jupyterlab import browser, code_cell, lab, view_of  # noqa: F401 (fixtures)

NOTEBOOK = "restart.ipynb"
LOCAL_TASK = "Write a long report"
FOLLOWED_TASK = "Plan a picnic for twelve people"
STOPPED_TASK = "Write a long essay"
CELLS = [
    f'import workbench as wb\n\nlocal = wb.run("{LOCAL_TASK}", model="simulated", options={{"pace": 20}})\nlocal',
    # About 28 s at this pace: still going once the others have started and the kernel has restarted.
    f'wb.connect()\nfollowed = wb.run("{FOLLOWED_TASK}", model="simulated", options={{"pace": 30}})\nfollowed',
    f'stopped = wb.run("{STOPPED_TASK}", model="simulated", options={{"pace": 15}})\nstopped',
]

VIEW_JS = """(task) => {
  const v = [...document.querySelectorAll("[data-testid=live-view]")]
    .find((v) => v.querySelector("[data-testid=task]").textContent === task);
  if (!v) return null;
  const text = (sel) => { const el = v.querySelector(sel); return el ? el.textContent : ""; };
  const stop = v.querySelector("[data-testid=stop]");
  const spinners = [...v.querySelectorAll(".wb-sec[data-state=running] .wb-icon")];
  return {
    status: v.querySelector("[data-testid=status]").dataset.status,
    events: Number(text("[data-testid=event-count]").replace(/[^0-9]/g, "")),
    elapsed: text("[data-testid=elapsed]"),
    line: text("[data-testid=kernel-line]"),
    stopShown: !!stop && stop.checkVisibility({ visibilityProperty: true }),
    stopEnabled: !!stop && stop.checkVisibility({ visibilityProperty: true }) && !stop.disabled,
    spinning: spinners.filter((s) => getComputedStyle(s).animationName !== "none").length,
    cancelled: text("[data-testid=cancelled]"),
    controls: [...v.querySelectorAll("[data-testid=controls], [data-testid=say]")]
      .filter((c) => c.checkVisibility({ visibilityProperty: true })).length,
  };
}"""


def view(page: Any, task: str, condition: str = "true", timeout: float = 30) -> dict[str, Any]:
    handle = page.wait_for_function(
        f"(task) => {{ const s = ({VIEW_JS})(task); return s && ({condition}) ? s : null; }}",
        arg=task, timeout=timeout * 1000, polling=50)
    return handle.json_value()


def server_runs(jupyter: Jupyter) -> dict[str, dict[str, Any]]:
    return {run["task"]: run for run in jupyter.api("GET", "/workbench/api/runs")["runs"]}


def test_views_say_the_kernel_restarted_and_server_runs_stay_live(browser, lab: Jupyter) -> None:  # noqa: F811
    from playwright.sync_api import expect

    notebook = {"cells": [code_cell(source) for source in CELLS], "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    (lab.root / NOTEBOOK).write_text(json.dumps(notebook), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    began = time.monotonic()
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
        expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first).to_be_visible(timeout=STARTUP_S * 1000)
        kernel = page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName")
        expect(kernel).to_have_text(re.compile("Python 3"), timeout=STARTUP_S * 1000)
        indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=STARTUP_S * 1000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        running = "s.status === 'running' && s.events > 5 && s.stopEnabled"
        local = view(page, LOCAL_TASK, running + " && s.spinning > 0")
        view(page, FOLLOWED_TASK, running)
        view(page, STOPPED_TASK, running)
        expect(indicator).to_have_attribute("data-status", "idle", timeout=20_000)
        assert not local["line"]
        assert local["controls"] == 2, "Pause / Resume / Step and the message box: the run is the kernel's own"
        ids = {task: run["id"] for task, run in server_runs(lab).items()}
        assert set(ids) == {FOLLOWED_TASK, STOPPED_TASK}, "the first run stays in the kernel"

        # --- Kernel ▸ Restart Kernel…, and the dialog's Restart ------------------------------------
        page.get_by_role("menuitem", name="Kernel", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel…")).first.click()
        page.locator(".jp-Dialog .jp-mod-accept", has_text="Restart").click()
        restarted = time.monotonic()

        # The kernel's run: gone with its kernel, and the view says so at once.
        gone = view(page, LOCAL_TASK, "s.line !== ''", timeout=10)
        said_after = time.monotonic() - restarted
        assert gone["line"] == "The kernel was restarted; the run went on in the kernel, so it stopped with it."
        assert gone["status"] == "interrupted"
        assert gone["stopShown"] and not gone["stopEnabled"], "Stop is shown, disabled"
        assert gone["spinning"] == 0, "no spinner turns"
        assert gone["controls"] == 0, "nothing can reach the run any more"
        time.sleep(2.5)
        still = view(page, LOCAL_TASK)
        assert still["elapsed"] == gone["elapsed"], "the clock stopped"
        assert still["events"] == gone["events"]

        # The server's runs: followed from the server by the page itself.
        attach = 'In the notebook, to attach again run wb.attach("{}")'
        followed = view(page, FOLLOWED_TASK, "s.line !== ''", timeout=10)
        assert followed["line"] == ("The kernel was restarted; the view follows the run from the server. "
                                    + attach.format(ids[FOLLOWED_TASK]))
        assert followed["status"] == "running" and followed["stopEnabled"]
        assert followed["controls"] == 0, "followed from the server, the view has no kernel to take controls"
        more = view(page, FOLLOWED_TASK, f"s.events > {followed['events']}", timeout=10)
        assert more["status"] == "running", "events keep coming after the restart"

        # Stop on the other one cancels it on the server.
        stopped = view_of(page, STOPPED_TASK)
        view(page, STOPPED_TASK, "s.line !== '' && s.stopEnabled", timeout=10)
        stopped.locator("[data-testid=stop]").click()
        cancelled = view(page, STOPPED_TASK, "s.status === 'cancelled'", timeout=15)
        assert cancelled["cancelled"].startswith("Cancelled: cancelled by "), cancelled["cancelled"]
        assert server_runs(lab)[STOPPED_TASK]["status"] == "cancelled"

        # The followed run, to its end: every event the server has, exactly once.
        done = view(page, FOLLOWED_TASK, "s.status === 'complete'", timeout=60)
        summary = server_runs(lab)[FOLLOWED_TASK]
        assert summary["status"] == "complete" and done["events"] == summary["eventCount"]
        assert done["line"] == ("The kernel was restarted; the view followed the run from the server to its end. "
                                + attach.format(ids[FOLLOWED_TASK]))
        assert not done["stopShown"]
        # The inspector reads the run's raw events from the server now: the kernel cannot answer.
        inspector = view_of(page, FOLLOWED_TASK).locator("xpath=..").locator("[data-testid=inspector]")
        inspector.locator("[data-testid=inspector-toggle]").click()
        expect(inspector.locator("[data-testid=inspector-position]")).to_have_text(
            f"event {done['events']:,} of {done['events']:,}", timeout=10_000)
        expect(inspector.locator("[data-testid=envelope]")).to_contain_text('"execution:complete"', timeout=10_000)
        ARTIFACTS.mkdir(exist_ok=True)
        view_of(page, LOCAL_TASK).evaluate("v => v.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-kernel-restarted.png"), full_page=True)
        assert not errors, errors
        print(f"the kernel's view said so {said_after:.2f} s after Restart; "
              f"the followed run ended {time.monotonic() - began:.1f} s into the test")
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "kernel-restart-failure.png"), full_page=True)
        print("--- server log ---\n" + lab.log_tail())
        raise
    finally:
        page.close()


@pytest.mark.parametrize("front", ["lab", "notebook"])
def test_a_view_says_its_kernel_was_shut_down(browser, lab: Jupyter, front: str) -> None:  # noqa: F811 (fixtures)
    """Kernel ▸ Shut Down Kernel, in JupyterLab and Notebook 7: no restart, so no comm is marked dead;
    the notebook's session says it."""
    from playwright.sync_api import expect

    if front == "notebook":
        pytest.importorskip("notebook", reason="Notebook 7 is not installed (pip install notebook)")

    notebook = {"cells": [code_cell(CELLS[0])], "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    (lab.root / NOTEBOOK).write_text(json.dumps(notebook), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"{lab.url}/{'lab/tree' if front == 'lab' else 'notebooks'}/{NOTEBOOK}?token={lab.token}")
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=STARTUP_S * 1000)
        deadline = time.monotonic() + STARTUP_S
        while not kernel_idle(lab, NOTEBOOK) and time.monotonic() < deadline:
            time.sleep(0.2)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        view(page, LOCAL_TASK, "s.status === 'running' && s.events > 5 && s.stopEnabled")
        page.get_by_role("menuitem", name="Kernel", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Shut Down Kernel")).first.click()
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count():
            accept.click()
        gone = view(page, LOCAL_TASK, "s.line !== ''", timeout=10)
        assert gone["line"] == "The kernel was shut down; the run went on in the kernel, so it stopped with it."
        assert gone["status"] == "interrupted" and not gone["stopEnabled"] and gone["spinning"] == 0
    finally:
        page.close()
