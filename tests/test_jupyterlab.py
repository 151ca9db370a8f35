"""A person using the quickstart in JupyterLab: a real server, a real kernel, a real Chromium.

The test copies ``notebooks/01-quickstart.ipynb`` (outputs cleared, its run slowed down so
the run can be watched) into a fresh JupyterLab, opens it in headless Chromium, runs all
cells from the Run menu and checks what a person sees in the run view: the status, the
plan's phases, thinking and tool calls, while the run is still going and at its end. A
second, slow run added at the end of the notebook is stopped with its Stop button; the
view and the kernel must both say it was cancelled. Screenshots go to ``test-artifacts/``.

Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import ast
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS, chromium
from jupyter_process import STARTUP_S, Jupyter, start_jupyter, stop_jupyter

import workbench as wb

QUICKSTART = Path(__file__).resolve().parent.parent / "notebooks" / "01-quickstart.ipynb"
NOTEBOOK = "01-quickstart.ipynb"
LIVE_PACE = 100
"""Pace of the quickstart's run here: about 14 s of streaming, long enough to watch it live
(the notebook's 150 gives about 9 s; 40 would make the whole test last about a minute)."""
SLOW_TASK = "Write a long report"
SLOW_CELL = f'import workbench as wb\n\nslow = wb.run("{SLOW_TASK}", model="simulated", options={{"pace": 20}})\nslow'
CHECK_CELL = 'print("kernel sees:", slow.state.status)'
LIVE = "[data-testid=live-view]"

# Everything the test reads from a run view, in one pass over the DOM (so a check such as
# "running, with a phase and some thinking" sees one consistent moment). Thinking and tool
# calls count only when shown: a finished phase is closed, and its steps are not on screen.
SNAPSHOT_JS = """(task) => {
  const views = [...document.querySelectorAll("[data-testid=live-view]")]
    .filter((v) => v.querySelector("[data-testid=task]").textContent === task);
  if (!views.length) return null;
  const v = views[views.length - 1];
  const all = (sel) => [...v.querySelectorAll(sel)];
  const text = (sel) => { const el = v.querySelector(sel); return el ? el.textContent : ""; };
  const shown = (el) => el.checkVisibility();  // false inside a closed phase, or when hidden
  const stop = v.querySelector("[data-testid=stop]");
  return {
    views: views.length,
    status: v.querySelector("[data-testid=status]").dataset.status,
    events: Number(text("[data-testid=event-count]").replace(/[^0-9]/g, "")),
    phases: all("[data-testid=phase]").map((p) => ({
      id: p.dataset.phaseId, state: p.dataset.state,
      name: p.querySelector("[data-testid=phase-name]").textContent })),
    progress: text("[data-testid=plan-progress]"),
    thinking: all("[data-testid=thinking-text]").filter(shown).map((t) => t.textContent).filter((t) => t.trim()),
    tools: all("[data-testid=step][data-kind=tool] [data-testid=tool-name]").filter(shown).map((t) => t.textContent),
    stopVisible: !!stop && shown(stop),
    cancelled: text("[data-testid=cancelled]"),
  };
}"""


# --- the notebook ------------------------------------------------------------------------------


@dataclass
class Quickstart:
    path: Path
    task: str
    """The task of the quickstart's run (read from its run cell)."""
    arguments: dict[str, Any]
    """The run call's other arguments that are plain literals (``model``, ``options``, …)."""


def find_run_call(source: str) -> tuple[ast.Call, ast.Constant] | None:
    """The ``wb.run("task", ..., options={"pace": N})`` call of a cell and its pace constant."""
    try:
        tree = compile(source, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError:  # an IPython magic, say: not the cell we look for
        return None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"):
            continue
        if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            continue
        for keyword in node.keywords:
            if keyword.arg == "options" and isinstance(keyword.value, ast.Dict):
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "pace" and isinstance(value, ast.Constant):
                        return node, value
    return None


def code_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {}, "execution_count": None,
            "outputs": [], "source": source}


def prepare_quickstart(root: Path) -> Quickstart:
    """Copy the quickstart into ``root``: outputs cleared, its run slowed, a slow run and a check added."""
    notebook = json.loads(QUICKSTART.read_text("utf-8"))
    task = None
    arguments: dict[str, Any] = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        source = "".join(cell["source"])
        found = find_run_call(source) if task is None else None
        if found:
            call, pace = found
            task = call.args[0].value  # type: ignore[attr-defined]
            for keyword in call.keywords:
                try:
                    arguments[keyword.arg or ""] = ast.literal_eval(keyword.value)
                except ValueError:
                    pass
            lines = source.splitlines(keepends=True)
            line = lines[pace.lineno - 1]  # the pace constant sits on one line
            start, end = _char_offset(line, pace.col_offset), _char_offset(line, pace.end_col_offset or 0)
            lines[pace.lineno - 1] = line[:start] + str(LIVE_PACE) + line[end:]
            cell["source"] = "".join(lines)
    if task is None:
        pytest.fail(f"{QUICKSTART.name} has no code cell calling wb.run(\"task\", ..., options={{\"pace\": N}}); "
                    "this test slows that run down to watch it live, so it needs one")
    notebook["cells"] += [code_cell(SLOW_CELL), code_cell(CHECK_CELL)]
    path = root / NOTEBOOK
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return Quickstart(path=path, task=task, arguments=arguments)


def _char_offset(line: str, utf8_offset: int) -> int:
    """``ast`` column offsets count UTF-8 bytes; turn one into a character index of ``line``."""
    return len(line.encode("utf-8")[:utf8_offset].decode("utf-8"))


# --- the JupyterLab server ------------------------------------------------------------------


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def lab(browser, tmp_path: Path) -> Iterator[Jupyter]:
    """A JupyterLab server in a subprocess, stopped afterwards with no kernel left behind.

    Depends on ``browser`` so that a machine without Chromium skips before starting a server.
    """
    pytest.importorskip("jupyterlab")
    lab = start_jupyter(tmp_path, "lab")
    try:
        yield lab
    finally:
        leftovers = stop_jupyter(lab)
    assert not leftovers, f"kernel processes were still running after the server stopped: {leftovers}"


# --- the page -----------------------------------------------------------------------------------


def handle_interruptions(page: Any, seen: list[str]) -> None:
    """Answer what JupyterLab may put in the way on a first visit, whenever it shows up."""

    def news(toast: Any) -> None:  # "Would you like to get notified about official Jupyter news?"
        seen.append("news toast: answered No")
        toast.get_by_role("button", name="No", exact=True).click()

    def dialog(box: Any) -> None:
        text = " ".join(box.inner_text().split())
        seen.append(f"dialog: {text[:200]}")
        if "kernel" in text.lower() and box.locator(".jp-Dialog-button.jp-mod-accept").count():
            box.locator(".jp-Dialog-button.jp-mod-accept").click()  # kernel selection: keep the proposed kernel
        else:
            page.keyboard.press("Escape")

    page.add_locator_handler(page.locator(".jp-Notification-Toast-default", has_text="Jupyter news"), news)
    page.add_locator_handler(page.locator(".jp-Dialog"), dialog)


def wait_for_view(page: Any, task: str, condition: str, timeout: float) -> dict[str, Any]:
    """The first snapshot of ``task``'s view for which the JS expression ``condition`` (of ``s``) holds."""
    handle = page.wait_for_function(
        f"(task) => {{ const s = ({SNAPSHOT_JS})(task); return s && ({condition}) ? s : null; }}",
        arg=task, timeout=timeout * 1000, polling=50)
    return handle.json_value()


def snapshot(page: Any, task: str) -> dict[str, Any] | None:
    return page.evaluate(f"(task) => ({SNAPSHOT_JS})(task)", task)


def view_of(page: Any, task: str) -> Any:
    return page.locator(LIVE).filter(has=page.locator("[data-testid=task]", has_text=task)).last


def screenshot(page: Any, view: Any, name: str) -> None:
    view.evaluate("v => v.scrollIntoView({block: 'center'})")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def expected_phase_names(quickstart: Quickstart) -> list[str]:
    """The plan of the quickstart's run, made here: the simulator gives the same run for the same call."""
    arguments = {k: v for k, v in quickstart.arguments.items() if k in ("model", "strategy", "options")}
    arguments["options"] = {k: v for k, v in dict(arguments.get("options") or {}).items() if k != "pace"}
    run = wb.run(quickstart.task, **arguments)
    return [phase.name for phase in run.wait(timeout=30).phases.values()]


def test_a_person_runs_the_quickstart_in_jupyterlab(browser, lab):
    from playwright.sync_api import expect

    quickstart = prepare_quickstart(lab.root)
    task = quickstart.task
    began = time.monotonic()
    timeline: list[str] = []

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:6.2f} s  {what}")

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page_errors: list[str] = []
    interruptions: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    handle_interruptions(page, interruptions)
    try:
        # --- open the notebook; wait for its kernel ------------------------------------------
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
        expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first).to_be_visible(timeout=STARTUP_S * 1000)
        kernel = page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName")
        expect(kernel).to_have_text(re.compile("Python 3"), timeout=STARTUP_S * 1000)
        expect(page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")).to_have_attribute(
            "data-status", "idle", timeout=STARTUP_S * 1000)
        mark("notebook open, kernel idle")

        # --- Run ▸ Run All Cells ------------------------------------------------------------
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        mark("Run All Cells")

        # While the run goes on: running, with at least one phase of the plan and some thinking…
        first = wait_for_view(page, task, "s.status === 'running' && s.phases.length > 0 && s.thinking.length > 0", 20)
        mark(f"live: {first['events']} events, {len(first['phases'])} phases, {len(first['thinking'])} thinking steps")
        assert first["stopVisible"], "a running run offers Stop"
        assert all(p["name"].strip() for p in first["phases"])
        # …then more: a tool call with its name, a finished phase, more events, still running.
        later = wait_for_view(
            page, task,
            f"s.status === 'running' && s.events > {first['events']} && s.tools.some((t) => t.trim())"
            " && s.phases.some((p) => p.state === 'done') && s.phases.some((p) => p.state === 'running')", 20)
        mark(f"live: {later['events']} events, tools {later['tools']}, "
             f"phases {[p['state'] for p in later['phases']]}")
        assert [p["name"] for p in later["phases"]] == [p["name"] for p in first["phases"]]
        assert sum(map(len, later["thinking"])) > 0
        screenshot(page, view_of(page, task), "jupyterlab-live.png")

        # --- the end of the run: every phase of the plan done ------------------------------
        done = wait_for_view(page, task, "s.status === 'complete'", 45)
        mark(f"complete: {done['events']} events")
        names = [p["name"] for p in done["phases"]]
        assert names == expected_phase_names(quickstart), "the view shows the plan's phases, in order"
        assert len(set(names)) == len(names) >= 2
        assert all(p["state"] == "done" for p in done["phases"]), done["phases"]
        assert done["progress"] == f"{len(names)} of {len(names)} phases done"
        assert not done["stopVisible"]
        assert done["events"] > later["events"]
        # The result as Markdown (a list, code), then the files the run wrote; its workspace lies
        # outside the server's root here, so no file offers to open in JupyterLab.
        result = view_of(page, task).locator("[data-testid=result-text]")
        expect(result.locator("li").first).to_be_visible()
        expect(result.locator("code").first).to_be_visible()
        files = view_of(page, task).locator("[data-testid=files]")
        expect(files.locator("[data-testid=file-name]").first).to_be_visible()
        assert files.locator("[data-testid=file-open]").count() == 0
        screenshot(page, view_of(page, task), "jupyterlab-complete.png")

        # --- Stop: the slow run at the end of the notebook ---------------------------------
        slow = wait_for_view(page, SLOW_TASK, "s.status === 'running' && s.phases.length > 0 && s.thinking.length > 0", 30)
        mark(f"slow run visibly running: {slow['events']} events")
        # Run All has reached the last cell, and the kernel has said what it saw before Stop.
        check = page.locator(".jp-CodeCell", has=page.get_by_text(CHECK_CELL, exact=True))
        check_output = check.locator(".jp-OutputArea-output")
        expect(check_output).to_have_text(re.compile(r"kernel sees: (pending|running)"), timeout=20_000)
        expect(page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")).to_have_attribute(
            "data-status", "idle", timeout=20_000)
        view = view_of(page, SLOW_TASK)
        stop = view.locator("[data-testid=stop]")
        clicked = time.monotonic()
        stop.click()
        expect(view.locator("[data-testid=status]")).to_have_text("cancelled", timeout=5_000)
        mark(f"Stop clicked; the view said cancelled after {time.monotonic() - clicked:.2f} s")
        ended = snapshot(page, SLOW_TASK)
        assert ended is not None and ended["status"] == "cancelled" and not ended["stopVisible"]
        assert ended["cancelled"].startswith("Cancelled"), ended["cancelled"]
        assert ended["events"] >= slow["events"]

        # The kernel agrees: run the check cell again.
        check.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        expect(check_output).to_have_text("kernel sees: cancelled", timeout=10_000)
        mark("the kernel says cancelled")
        screenshot(page, view, "jupyterlab-stopped.png")
        assert not page_errors, page_errors
        mark(f"interruptions handled: {interruptions or 'none'}")
        assert all(seen.startswith("news toast") for seen in interruptions), interruptions
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-failure.png"))
        print("\n".join(timeline), "\n--- server log ---\n" + lab.log_tail(), sep="\n")
        raise
    finally:
        page.close()
    print("\n".join(timeline))
