"""Tool parameters and JSON results as a collapsible tree, and the copy buttons, in a real Chromium.

The page is the exported view of a run (``export_html``), served from a ``localhost`` address
so that it is a secure context with the clipboard (what JupyterLab on localhost is). Copying
is checked by reading the clipboard back: the exact text, not what the page shows.
"""

from __future__ import annotations

import json

import pytest
from browser import ARTIFACTS, chromium

import workbench as wb
from workbench.core import events as ev
from workbench.notebook.widget import export_html

URL = "http://localhost:8765/run.html"
LIVE = "[data-testid=live-view] "
CONTENT = "# Notes\n\nThe first line of the notes, long enough to wrap across the box.\nA second line.\n\nThe end."
PARAMS = {
    "path": "notes/today.md",
    "content": CONTENT,
    "options": {"mode": "append", "tags": ["work", "draft"], "retries": 3, "force": True, "owner": None},
}
RESULT = {"ok": True, "written": 88, "files": ["notes/today.md"]}
THOUGHT = "I should write the notes first.\nThen list the workspace."
ANSWER = "The notes are written.\n\nSee `notes/today.md`."


def tree_run() -> wb.Run:
    """A finished run of one phase: a thought, a call with nested parameters and a JSON result, a listing."""
    run = wb.Run(run_id="r_tree", task="Write the notes", model="simulated", strategy="plan",
                 created_at="2026-01-01T00:00:00.000Z")
    add = run.log.append
    add(ev.ExecutionStartedData(task=run.task, started_at="2026-01-01T00:00:00.000Z", model="simulated", strategy="plan"))
    add(ev.PlanCreatedData(plan=ev.Plan(goal="Write the notes.", phases=[
        ev.PlanPhase(id="p1", name="Write", description="Write them.")])))
    add(ev.PhaseStartData(phase_id="p1", phase_name="Write", phase_index=0))
    add(ev.ThinkingData(thought=THOUGHT, iteration=1, step_id="s1", phase_id="p1"))
    add(ev.ToolStartData(tool_name="write_file", params=PARAMS, tool_use_id="toolu_1", phase_id="p1"))
    add(ev.ToolCompleteData(tool_name="write_file", result=json.dumps(RESULT), duration=2.0, tool_use_id="toolu_1"))
    add(ev.ToolStartData(tool_name="list_files", params={"path": "."}, tool_use_id="toolu_2", phase_id="p1"))
    add(ev.ToolCompleteData(tool_name="list_files", result="notes/\nnotes/today.md  88 bytes", duration=1.0,
                            tool_use_id="toolu_2"))
    add(ev.PhaseCompleteData(phase_id="p1", phase_name="Write", summary="Written."))
    add(ev.ExecutionCompleteData(result=ANSWER, duration=100.0, tokens_used=ev.Usage(input=10, output=20)))
    return run


@pytest.fixture(scope="module")
def page():
    html = export_html(tree_run())
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin="http://localhost:8765")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(URL, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
        page.goto(URL)
        page.wait_for_selector(LIVE + "[data-testid=status][data-status=complete]")
        page.locator(LIVE + "[data-testid=phase] summary").first.click()
        yield page
        context.close()
        assert not errors, errors


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_parameters_show_as_a_tree_that_opens_and_closes(page):
    call = page.locator(LIVE + "[data-testid=step][data-kind=tool]").first
    call.locator(".wb-params > summary").click()
    params = call.locator("[data-testid=tool-params]")
    keys = params.locator("[data-testid=tree-key]")
    keys.first.wait_for()
    assert keys.all_inner_texts() == ["path", "content", "options", "mode", "tags", "retries", "force", "owner"]
    options = params.locator("[data-testid=tree-row]", has=page.locator("[data-testid=tree-key]", has_text="options")).first
    assert options.locator(".wb-j-num").inner_text() == "3"
    assert options.locator(".wb-j-bool").inner_text() == "true"
    assert options.locator(".wb-j-null").inner_text() == "null"
    assert options.locator(".wb-j-str").all_inner_texts() == ['"append"', '"work"', '"draft"']
    # Scalars are coloured by type, from the theme's editor colours.
    colours = {cls: params.locator(cls).first.evaluate("e => getComputedStyle(e).color")
               for cls in (".wb-j-key", ".wb-j-num", ".wb-j-bool", ".wb-j-str")}
    assert len(set(colours.values())) == 4, colours

    # A toggle is a button: the keyboard closes and opens "options".
    toggle = options.locator("[data-testid=tree-toggle]").first
    assert toggle.evaluate("t => t.tagName") == "BUTTON" and toggle.get_attribute("aria-expanded") == "true"
    mode = options.locator("[data-testid=tree-key]", has_text="mode")
    assert mode.is_visible()
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "false" and mode.is_hidden()
    assert "{…} 5 keys" in toggle.inner_text()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true" and mode.is_visible()


def test_a_string_with_newlines_shows_on_several_lines(page):
    call = page.locator(LIVE + "[data-testid=step][data-kind=tool]").first
    if call.locator(".wb-params").get_attribute("open") is None:
        call.locator(".wb-params > summary").click()
    text = call.locator("[data-testid=tool-params] [data-testid=tree-text]")
    assert text.inner_text() == CONTENT
    assert "\\n" not in call.locator("[data-testid=tool-params]").inner_text()
    lines = text.evaluate("e => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))")
    assert lines >= CONTENT.count("\n") + 1
    # Narrow, it wraps between words: no word of it is split across two lines.
    call.evaluate("e => e.style.width = '260px'")
    broken = text.evaluate("""e => {
        const node = e.firstChild, range = document.createRange(), split = [];
        const words = [...node.data.matchAll(/\\S+/g)];
        for (const w of words) {
            range.setStart(node, w.index); range.setEnd(node, w.index + w[0].length);
            if (range.getClientRects().length > 1) split.push(w[0]);
        }
        return split;
    }""")
    call.evaluate("e => e.style.width = ''")
    assert broken == []


def test_a_json_result_is_a_tree_and_text_stays_text(page):
    calls = page.locator(LIVE + "[data-testid=step][data-kind=tool]")
    tree = calls.nth(0).locator("[data-testid=tool-result-tree]")
    assert tree.is_visible()
    assert tree.locator("[data-testid=tree-key]").all_inner_texts() == ["ok", "written", "files"]
    assert calls.nth(0).locator("[data-testid=tool-result]").is_hidden()
    listing = calls.nth(1)
    assert listing.locator("[data-testid=tool-result]").inner_text() == "notes/\nnotes/today.md  88 bytes"
    assert listing.locator("[data-testid=tool-result-tree]").is_hidden()


@pytest.mark.parametrize("where, expected", [
    ("params", json.dumps(PARAMS, indent=2)),
    ("result", json.dumps(RESULT)),
    ("thinking", THOUGHT),
    ("answer", ANSWER),
])
def test_copy_puts_the_exact_text_on_the_clipboard(page, where, expected):
    page.evaluate("navigator.clipboard.writeText('')")
    call = page.locator(LIVE + "[data-testid=step][data-kind=tool]").first
    button = {
        "params": call.locator("[data-testid=tool-params] [data-testid=copy]"),
        "result": call.locator(".wb-result-box > [data-testid=copy]"),
        "thinking": page.locator(LIVE + "[data-testid=step][data-kind=thinking] [data-testid=copy]"),
        "answer": page.locator(LIVE + "[data-testid=result] [data-testid=copy]"),
    }[where]
    if where == "params" and call.locator(".wb-params").get_attribute("open") is None:
        call.locator(".wb-params > summary").click()
    button.click()
    page.wait_for_function("b => b.textContent === 'copied'", arg=button.element_handle())
    assert clipboard(page) == expected
    if where == "thinking":  # the click copied; it did not also close the step
        assert page.locator(LIVE + "[data-testid=step][data-kind=thinking]").get_attribute("class").find("wb-collapsed") == -1
    if where == "answer":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-tree.png"), full_page=True)
