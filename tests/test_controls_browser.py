"""A person taking part in a run from the notebook view, in a real Chromium against live widgets.

Two views of one run, each of its own kernel-side ``RunView`` (as two outputs of ``run`` in a
notebook), bridged by ``live_widget.LivePage``; the run is the orchestrator with the simulator
behind the real SDK, with ``approve: ["write_file"]``. One view approves, pauses, steps, edits,
talks to the agent and denies, by mouse and by keyboard; the other follows at once.
Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import time

from browser import ARTIFACTS, checked_page
from live_widget import LivePage
from test_widget_controls import supervised_run

from workbench.notebook.widget import export_html

LIVE = "[data-testid=live-view] "
JUPYTERLAB_DARK = """:root {
  --jp-layout-color0: #111111; --jp-layout-color1: #212121; --jp-layout-color2: #424242;
  --jp-ui-font-color0: #ffffff; --jp-ui-font-color1: rgba(255, 255, 255, 0.87); --jp-ui-font-color2: rgba(255, 255, 255, 0.54);
  --jp-border-color1: #616161; --jp-border-color2: #424242; --jp-brand-color1: #1976d2;
  --jp-success-color1: #4caf50; --jp-error-color1: #f44336; --jp-warn-color1: #ff9800; --jp-cell-editor-background: #212121;
}
body { background: #111111; }"""
HEARD = "The person supervising this run says: \u201cMake the last line about the moon\u201d. I will take that into account."


def test_approve_pause_step_edit_talk_and_deny_from_the_widget_while_a_second_view_follows(browser, tmp_path):
    run = supervised_run(tmp_path)
    with checked_page(browser, 1100, 1000) as page:
        live = LivePage(page)
        try:
            a, b = live.add(run) + LIVE, live.add(run) + LIVE
            drive(live, page, run, a, b)
            exported(page, run, tmp_path)
        finally:
            live.close()
            if not run.done:
                run.cancel()
                run.wait(timeout=10)


def decisions(live: LivePage, view: str) -> list[str]:
    return live.page.locator(view + "[data-testid=decision] .wb-decided-what").all_inner_texts()


def drive(live: LivePage, page, run, a: str, b: str) -> None:
    # The first write_file waits: both views show it with its parameters; the header says why.
    live.shown(a + "[data-testid=approval]")
    live.shown(b + "[data-testid=approval]")
    editor = page.locator(a + "[data-testid=approval-params]")
    assert json.loads(editor.input_value()) == {"path": "notes.txt", "content": "moon pulls the water"}
    live.text(a + "[data-testid=now]", "Now: waiting for your decision on write_file")
    assert page.locator(a + "[data-testid=status]").inner_text() == "paused"
    assert page.locator(a + "[data-testid=step][data-status=waiting] [data-testid=step-state]").inner_text() == (
        "waiting for your decision")
    ARTIFACTS.mkdir(exist_ok=True)
    first_view = page.locator("[data-view='0']")
    first_view.screenshot(path=str(ARTIFACTS / "controls-waiting-light.png"))
    dark = page.add_style_tag(content=JUPYTERLAB_DARK)  # the view takes JupyterLab's theme from its variables
    first_view.screenshot(path=str(ARTIFACTS / "controls-waiting-dark.png"))
    dark.evaluate("style => style.remove()")

    # Pause by keyboard while the call waits: the run will hold at its next boundary.
    pause = page.locator(a + "[data-testid=control-pause]")
    pause.focus()
    page.keyboard.press("Enter")
    live.text(a + "[data-testid=control-pause]", "Pausing…")
    assert page.locator(a + "[data-testid=control-step]").is_disabled()

    # Approve in the first view: the second drops its buttons and says "Approved" at once.
    page.click(a + "[data-testid=approve]")
    clicked = time.monotonic()
    live.until("v => !document.querySelector(v + '[data-testid=approval]') && !!document.querySelector(v + '[data-testid=decision]')", b)
    assert time.monotonic() - clicked < 1.0
    assert decisions(live, b) == decisions(live, a) == ["Approved"]

    # Paused before the next model call: Resume and Step now; Step by keyboard (Space).
    live.text(a + "[data-testid=now]", "Now: paused before the next model call")
    live.text(b + "[data-testid=now]", "Now: paused before the next model call")
    assert pause.is_disabled() and page.locator(a + "[data-testid=control-resume]").is_enabled()
    page.locator(a + "[data-testid=control-step]").focus()
    page.keyboard.press(" ")
    live.text(a + "[data-testid=now]", "Now: paused before calling write_file")
    # the focus came back to Step (it was disabled while the run went on), so Space steps again
    live.until("v => document.activeElement === document.querySelector(v + '[data-testid=control-step]')", a)
    assert page.locator(a + "[data-testid=step][data-kind=tool]").count() == 2

    # Resume: the second write_file waits for its decision.
    page.click(a + "[data-testid=control-resume]")
    live.shown(a + "[data-testid=approval]")
    live.text(a + "[data-testid=now]", "Now: waiting for your decision on write_file")
    assert json.loads(editor.input_value()) == {"path": "draft.txt", "content": "moon pulls the water"}
    edit = page.locator(a + "[data-testid=edit]")
    assert edit.is_disabled()  # nothing edited yet
    problem = page.locator(a + "[data-testid=approval-error]")
    # Not JSON: said at once, and Edit sends nothing.
    editor.fill('{"path": "haiku.txt",')
    assert problem.inner_text().startswith("Not valid JSON: ")
    edit.click()
    assert page.evaluate("() => apps[0].toKernel.filter((m) => m.kind === 'decide').length") == 0
    editor.fill('["haiku.txt"]')
    assert problem.inner_text() == 'The parameters must be a JSON object, such as {"path": "notes.md"}.'
    # JSON that the tool's schema refuses: the kernel's words under the editor; the call keeps waiting.
    editor.fill('{"path": "haiku.txt"}')
    assert problem.is_hidden()
    edit.click()
    live.text(a + "[data-testid=approval-error]",
              "the edited params do not fit the schema of write_file: params: 'content' is a required property")
    assert run.waiting and run.state.now == "waiting for your decision on write_file"
    assert edit.is_enabled() and page.locator(a + "[data-testid=approve]").is_enabled()
    # A good edit, sent with Ctrl+Enter from the editor.
    editor.fill(json.dumps({"path": "haiku.txt", "content": "the sea breathes out"}))
    editor.press("Control+Enter")
    live.until("v => document.querySelectorAll(v + '[data-testid=decision]').length === 2", b)
    assert decisions(live, a) == ["Approved", "Edited: ran with other parameters"]
    edited = page.locator(b + "[data-testid=decision-params]")
    assert json.loads(edited.inner_text()) == {"path": "haiku.txt", "content": "the sea breathes out"}

    # The third write_file waits; meanwhile, a message to the agent (Shift+Enter is a new line, Enter sends).
    live.until("v => !!document.querySelector(v + '[data-testid=approval]')", a)
    say = page.locator(a + "[data-testid=say-text]")
    say.focus()
    page.keyboard.type("Make the last line")
    page.keyboard.press("Shift+Enter")
    assert say.input_value() == "Make the last line\n"
    say.fill("Make the last line about the moon")
    page.keyboard.press("Enter")
    live.text(b + "[data-testid=step][data-kind=user] [data-testid=user-text]", "Make the last line about the moon")
    assert say.input_value() == ""
    # An empty message is refused here, with a reason.
    page.keyboard.press("Enter")
    assert page.locator(a + "[data-testid=say-error]").inner_text() == "Write a message first."

    # Deny with a note: the tool does not run, the model reads the note and the message.
    page.fill(a + "[data-testid=approval-note]", "one copy is enough")
    page.click(a + "[data-testid=deny]")
    live.text(a + "[data-testid=status]", "complete", timeout=20)
    live.text(b + "[data-testid=status]", "complete")
    # The first phase has closed as the run went on: open it to read what happened there.
    draft = page.locator(a + "[data-testid=phase][data-phase-id=p1]")
    draft.locator("summary").first.click()
    denied = live.shown(a + "[data-testid=phase][data-phase-id=p1] [data-testid=step][data-status=denied]")
    assert denied.locator("[data-testid=step-state]").inner_text() == "denied"
    assert denied.locator("[data-testid=decision-note]").inner_text() == "Note: one copy is enough"
    # The model's next thought says it heard the message and the denial.
    thoughts = draft.locator("[data-testid=thinking-text]").all_inner_texts()
    assert thoughts[-1].startswith(HEARD + " They denied my call to write_file with the note \u201cone copy is enough\u201d")
    assert draft.locator("[data-testid=step][data-kind=user] [data-testid=user-text]").inner_text() == (
        "Make the last line about the moon")

    # The run has ended: the controls go; the Inspector lists the new events as any other.
    assert not page.locator(a + "[data-testid=control-pause]").is_visible()
    assert not page.locator(a + "[data-testid=say-text]").is_visible()
    assert not (run.workspace / "extra.txt").exists() and (run.workspace / "haiku.txt").read_text() == "the sea breathes out"
    view = a.removesuffix(LIVE)
    page.click(view + "[data-testid=inspector-toggle]")
    live.until("v => !!document.querySelector(v + '[data-testid=type-filter] input[data-type=\"user:message\"]')", view)
    types = set(page.locator(view + "[data-testid=type-filter] input[data-type]").evaluate_all(
        "inputs => inputs.map((i) => i.dataset.type)"))
    assert types >= {"execution:paused", "execution:resumed", "tool:approval", "tool:decision", "user:message"}
    page.click(view + "[data-testid=type-filter] >> text=none")
    page.check(view + "[data-testid=type-filter] input[data-type='tool:decision']")
    page.check(view + "[data-testid=type-filter] input[data-type='user:message']")
    live.until("v => document.querySelectorAll(v + '[data-testid=event-list] [data-testid=event-row]').length === 4", view)
    rows = page.locator(view + "[data-testid=event-list] [data-testid=event-row] .wb-ev-sum")
    assert rows.all_inner_texts() == [
        "approve", 'edit · {"path":"haiku.txt","content":"the sea breathes out"}',
        "Make the last line about the moon", "deny · note: one copy is enough"]
    page.screenshot(path=str(ARTIFACTS / "controls-finished.png"), full_page=True)


def exported(page, run, tmp_path) -> None:
    """The exported page shows what was decided and said, and takes no controls."""
    path = tmp_path / "run.html"
    export_html(run, path)
    page.goto(path.as_uri())
    page.wait_for_selector(LIVE + "[data-testid=status][data-status=complete]")
    assert page.locator("[data-testid=controls], [data-testid=say], [data-testid=approval]").count() == 0
    page.locator(LIVE + "[data-testid=phase][data-phase-id=p1] summary").first.click()
    page.wait_for_selector(LIVE + "[data-testid=decision]")
    assert page.locator(LIVE + "[data-testid=decision] .wb-decided-what").all_inner_texts() == [
        "Approved", "Edited: ran with other parameters", "Denied: the tool did not run"]
    assert page.locator(LIVE + "[data-testid=user-text]").inner_text() == "Make the last line about the moon"
