"""What a person sees of the agent's output, in Chromium: Markdown rendered (and nothing hostile
surviving it), the workspace, the files the run wrote, each opening inline or in Jupyter.

Skipped when /usr/bin/chromium is missing, unless WORKBENCH_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import ARTIFACTS, checked_page
from test_widget_browser import HARNESS, deliver

import workbench as wb
from workbench.core import events as ev
from workbench.notebook.files import file_content, files_note
from workbench.notebook.widget import export_html
from workbench.notebook.widget.bundle import STATIC, front_end

LIVE = "[data-testid=live-view] "

HOSTILE = """## Summary

- first point
- second point

```python
print("hi")
```

<script>window.pwned = 1</script>
<img src=x onerror="window.pwned = 2">
[bad](javascript:window.pwned=3) and [docs](https://example.com/docs)
<div onclick="window.pwned = 4">raw block</div>
"""


@pytest.fixture
def page(browser):
    with checked_page(browser, 1000, 900) as page:
        yield page


def markdown_run() -> wb.Run:
    run = wb.Run(run_id="r_md", task="Write it up", model="simulated", strategy="react",
                 created_at="2026-01-01T00:00:00.000Z")
    run.log.append(ev.ExecutionStartedData(task=run.task, started_at="2026-01-01T00:00:00.000Z", model="simulated",
                                           strategy="react"))
    run.log.append(ev.TextDeltaData(step_id="m1", delta="### Step *one*"))
    run.log.append(ev.TextData(step_id="m1", text="### Step *one*\n\n1. read\n2. write"))
    run.log.append(ev.ExecutionCompleteData(result=HOSTILE, duration=5, tokens_used=ev.Usage()))
    run.log.close()
    return run


def test_the_result_and_messages_show_as_markdown_and_nothing_hostile_survives(page, tmp_path):
    path = tmp_path / "md.html"
    export_html(markdown_run(), path)
    page.goto(path.as_uri())
    page.wait_for_selector(LIVE + "[data-testid=status][data-status=complete]")
    result = page.locator(LIVE + "[data-testid=result-text]")
    assert result.locator("h2").inner_text() == "Summary"
    assert result.locator("ul > li").all_inner_texts() == ["first point", "second point"]
    assert result.locator("pre > code").inner_text() == 'print("hi")\n'
    assert result.locator("h2").is_visible() and result.locator("pre").is_visible()
    # Raw HTML shows as text; no element, handler or javascript: link of the model's makes it in.
    assert "<script>window.pwned = 1</script>" in result.inner_text()
    assert result.locator("script, img, div[onclick], [onerror]").count() == 0
    links = result.locator("a")
    assert links.count() == 1
    assert (links.get_attribute("href"), links.get_attribute("target"), links.get_attribute("rel")) == (
        "https://example.com/docs", "_blank", "noopener noreferrer")
    assert page.evaluate("window.pwned") is None
    message = page.locator(LIVE + "[data-testid=message-text]")
    assert message.locator("h3").inner_text() == "Step one" and message.locator("h3 em").inner_text() == "one"
    assert message.locator("ol > li").all_inner_texts() == ["read", "write"]
    # No workspace here and no file written (an agent of one's own, say): the view says nothing of files.
    assert page.locator(LIVE + "[data-testid=files]").is_hidden()

    # The inspector's view at the last event shows the same rendering (its raw envelopes carry no HTML).
    page.click("[data-testid=inspector-toggle]")
    snap = "[data-testid=inspector-view] [data-testid=result-text] "
    page.wait_for_selector(snap + "h2")
    assert page.locator(snap + "ul > li").count() == 2


def test_a_streaming_message_shows_its_raw_text_until_it_is_whole(browser):
    run = markdown_run()
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        open_harness(page, run)
        deliver(page, list(run.events)[:2])
        text = page.locator(LIVE + "[data-testid=message-text]")
        assert text.inner_text() == "### Step *one*" and text.locator("h3").count() == 0
        deliver(page, list(run.events)[2:3])
        assert text.locator("h3").inner_text() == "Step one"
    finally:
        page.close()


@pytest.fixture(scope="module")
def trip(tmp_path_factory) -> wb.Run:
    workspace = tmp_path_factory.mktemp("root") / "work" / "trip"
    run = wb.run("Plan a three-day trip to Lisbon", model="simulated", options={"workspace": str(workspace), "pace": 0})
    run.wait(timeout=30)
    return run


def test_the_exported_page_lists_the_workspace_and_files_and_a_file_expands_inline(page, trip, tmp_path):
    path = tmp_path / "trip.html"
    export_html(trip, path)
    page.goto(path.as_uri())
    page.wait_for_selector(LIVE + "[data-testid=files]")
    files = page.locator(LIVE + "[data-testid=files]")
    assert files.is_visible()
    assert files.locator("[data-testid=workspace]").inner_text() == str(Path(trip.workspace).resolve())
    names = files.locator("[data-testid=file-name]").all_inner_texts()
    assert names == ["notes/brief.md", "notes/research.md", "notes/outline.md", "three-day-trip-plan.md"]
    assert files.locator("[data-testid=file-open]").count() == 0  # no Jupyter here
    last = files.locator("[data-testid=file]").nth(3)
    content = last.locator("[data-testid=file-content]")
    assert not content.is_visible()
    last.locator("summary").click()
    content.locator("h1").wait_for()
    assert content.is_visible()
    assert content.locator("h1").inner_text() == Path(trip.workspace, "three-day-trip-plan.md").read_text().splitlines()[0][2:]
    ARTIFACTS.mkdir(exist_ok=True)
    files.screenshot(path=str(ARTIFACTS / "widget-files.png"))


HARNESS_IN_JUPYTER = '<script id="jupyter-config-data" type="application/json">%s</script>'


def open_harness(page, run: wb.Run, config: dict | None = None, url: str | None = None) -> None:
    traits = {"run_id": run.id, "task": run.task, "model": run.model, "strategy": run.strategy}
    js = json.dumps(front_end()).replace("<", "\\u003c")
    html = HARNESS % {"css": (STATIC / "run_view.css").read_text("utf-8"), "traits": json.dumps(traits), "js": js}
    if config is not None:
        html = html.replace('<div id="app">', HARNESS_IN_JUPYTER % json.dumps(config) + '<div id="app">', 1)
    if url is None:
        page.set_content(html)
    else:  # served at a Jupyter-like address, for a view that reads its own URL
        page.route(url, lambda route: route.fulfill(body=html, content_type="text/html"))
        page.goto(url)
    page.wait_for_function("window.harnessReady === true")


@pytest.mark.parametrize("app", ["JupyterLab", "Jupyter Notebook"])
def test_in_jupyter_a_file_under_the_server_root_opens_there_and_expands_from_the_kernel(browser, trip, app):
    root = str(Path(trip.workspace).resolve().parent.parent)
    note = {"kind": "files", **files_note(trip)}
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        if app == "JupyterLab":  # Lab's page config names the server's root
            open_harness(page, trip, {"serverRoot": root, "baseUrl": "/user/ana/", "appName": app})
            prefix = "lab/tree/"
        else:  # Notebook 7's does not: the kernel runs in the notebook's folder, named in the page's URL
            open_harness(page, trip, {"baseUrl": "/user/ana/", "appName": app},
                         url="http://jupyter.test/user/ana/notebooks/work/My%20trip.ipynb")
            note["cwd"] = root + "/work"
            prefix = "edit/"
        deliver(page, list(trip.events))
        page.evaluate("m => deliver(m)", note)
        file = page.locator(LIVE + "[data-testid=file]").nth(0)
        assert file.locator("[data-testid=file-open]").get_attribute("href") == f"/user/ana/{prefix}work/trip/notes/brief.md"
        file.locator("summary").click()
        page.wait_for_function("window.toKernel.some(m => m.kind === 'file')")  # toggle fires after the click
        asked = page.evaluate("window.toKernel.filter(m => m.kind === 'file')")
        assert [(m["path"], m["requestId"].count(":")) for m in asked] == [("notes/brief.md", 1)]
        page.evaluate("m => deliver(m)", {"kind": "file", "requestId": asked[0]["requestId"],
                                           **file_content(trip, "notes/brief.md")})
        heading = Path(trip.workspace, "notes/brief.md").read_text().splitlines()[0].removeprefix("# ")
        assert file.locator("[data-testid=file-content] h1").inner_text() == heading
        file.locator("summary").click()  # closing and opening again asks no more
        file.locator("summary").click()
        page.wait_for_function("document.querySelector('[data-testid=file]').open")
        page.evaluate("() => new Promise(r => setTimeout(r, 50))")
        assert page.evaluate("window.toKernel.filter(m => m.kind === 'file').length") == 1

        # In a hidden folder (the default ~/.workbench) Jupyter would refuse to open it: no link.
        hidden = {**note, "workspace": root + "/.workbench/trip", "workspaceHome": None}
        page.evaluate("m => deliver(m)", hidden)
        assert page.locator(LIVE + "[data-testid=file-name]").count() == 4
        assert page.locator(LIVE + "[data-testid=file-open]").count() == 0
    finally:
        page.close()


def test_a_run_on_a_server_says_its_workspace_is_not_here(browser, trip):
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        open_harness(page, trip, {"serverRoot": "/", "baseUrl": "/", "appName": "JupyterLab"})
        deliver(page, list(trip.events))
        note = files_note(trip)
        page.evaluate("m => deliver(m)", {**note, "kind": "files", "where": "server", "workspace": None,
                                           "workspaceHome": None})
        files = page.locator(LIVE + "[data-testid=files]")
        assert files.locator("[data-testid=workspace]").inner_text() == (
            "on the server: this run's files are not on this machine")
        assert files.locator("[data-testid=file-name]").count() == 4
        assert files.locator("[data-testid=file-open]").count() == 0
    finally:
        page.close()
