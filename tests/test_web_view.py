"""The web view of runs (``workbench serve`` at ``/``, the Jupyter extension at ``{base_url}workbench/``),
in Chromium, against real servers.

The standalone servers run in a thread of this process (one with a token, one in workshop mode,
each shared by the module's tests); the restart test kills a real ``workbench serve`` with SIGKILL
and starts it again on the same port; Jupyter is a ``jupyter server`` subprocess with the extension
enabled as the installed package enables it. Runs are started over HTTP (as ``wb.connect`` or curl
would) or from the page, and what the page shows is checked against what the server says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser import checked_page
from jupyter_process import Jupyter, free_port, start_jupyter, stop_jupyter
from prometheus_client.parser import text_string_to_metric_families
from servers import LoopThread, Served, start_server

from workbench.notebook.web.assets import WEB_VIEW
from workbench.serving.service import Principal

TOKEN = "token-of-the-web-view-tests"
INSTRUCTOR = "instructor-token-of-the-web-view"
PARTICIPANT = "participant-token-of-the-web-view"
PEOPLE = {INSTRUCTOR: Principal("ines", "instructor"), PARTICIPANT: Principal("ada", "participant")}
SLOW = {"model": "simulated", "strategy": "plan", "options": {"pace": 150}}
"""A run that goes on for several seconds: long enough to be seen live, cancelled, or cut by a restart."""
WAIT_MS = 15_000

VIEW_JS = """() => {
  const v = document.querySelector("[data-testid=run-pane] [data-testid=live-view]");
  if (!v) return null;
  const text = (sel) => { const el = v.querySelector(sel); return el ? el.textContent : ""; };
  const stop = v.querySelector("[data-testid=stop]");
  const spinners = [...v.querySelectorAll(".wb-sec[data-state=running] .wb-icon, .wb-live .wb-step-state")];
  return {
    task: text("[data-testid=task]"),
    status: v.querySelector("[data-testid=status]").dataset.status,
    events: Number(text("[data-testid=event-count]").replace(/[^0-9]/g, "")),
    elapsed: text("[data-testid=elapsed]"),
    phases: v.querySelectorAll(".wb-sec").length,
    steps: v.querySelectorAll(".wb-step").length,
    stopShown: !!stop && stop.checkVisibility({ visibilityProperty: true }),
    spinning: spinners.filter((s) => getComputedStyle(s).animationName !== "none"
                                   || getComputedStyle(s, "::before").animationName !== "none").length,
  };
}"""


def view(page: Any, condition: str = "true", timeout: float = WAIT_MS) -> dict[str, Any]:
    """The run view's state once ``condition`` (JS over ``s``) holds."""
    handle = page.wait_for_function(f"() => {{ const s = ({VIEW_JS})(); return s && ({condition}) ? s : null; }}",
                                    timeout=timeout, polling=50)
    return handle.json_value()


def http(url: str, method: str = "GET", body: Any = None, token: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A request as a client outside the page would send it; the status and the JSON (or text) answer."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {**({"Authorization": f"Bearer {token}"} if token else {}),
            **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, raw, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        with error:
            status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
    return status, json.loads(raw) if kind.startswith("application/json") else raw.decode()


def log_of(api: str, run_id: str, token: str | None) -> list[dict[str, Any]]:
    status, text = http(f"{api}/runs/{run_id}/log", token=token)
    assert status == 200
    return [json.loads(line) for line in text.splitlines()[1:]]


@contextmanager
def web_page(browser: Any, expected: tuple[str, ...] = ()) -> Iterator[Any]:
    """A new page (tab) of ``browser``, like ``browser.checked_page``, except for the console lines
    Chromium writes for the refusals a test provokes (``expected``: e.g. "status of 401")."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        page.close()
    unexpected = [e for e in errors if not (e.startswith("Failed to load resource") and any(x in e for x in expected))]
    assert not unexpected, unexpected


def enter_token(page: Any, root: str, token: str) -> None:
    page.goto(root + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("token-submit").click()
    page.get_by_test_id("main").wait_for(state="visible", timeout=WAIT_MS)


def run_item(page: Any, task: str) -> Any:
    return page.locator("[data-testid=run-item]", has=page.get_by_test_id("run-task").get_by_text(task, exact=True))


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def standalone(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = loop.run(start_server(tmp_path_factory.mktemp("standalone"), token=TOKEN, web_view=WEB_VIEW))
    yield served
    loop.run(served.runner.cleanup())


@pytest.fixture(scope="module")
def workshop(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = loop.run(start_server(tmp_path_factory.mktemp("workshop"), tokens=PEOPLE, web_view=WEB_VIEW))
    yield served
    loop.run(served.runner.cleanup())


# --- standalone, one token ------------------------------------------------------------------------


def test_the_page_asks_for_the_token_once_and_keeps_it_for_the_tab(browser: Any, standalone: Served) -> None:
    status, page_html = http(standalone.root + "/")
    assert status == 200 and 'id="wb-config"' in page_html and TOKEN not in page_html  # public: no data in it
    assert http(standalone.api + "/me")[0] == 401  # but every data request needs the token
    status, module = http(standalone.root + "/web/app.js")  # its files are the package's, public too
    assert status == 200 and module.startswith("// Agent Workbench web view")
    assert [http(f"{standalone.root}/web/{name}")[0] for name in ("nothing.js", "index.html", "..%2Fassets.py")] == [404] * 3
    assert http(standalone.api + "/me", token=TOKEN) == (200, {"user": "owner", "role": "user", "canStart": True,
                                                               "canFork": True, "canReadMetrics": True})
    with web_page(browser, expected=("status of 401",)) as page:
        page.goto(standalone.root + "/")
        form = page.get_by_test_id("token-form")
        form.wait_for(state="visible")
        assert page.get_by_test_id("main").is_hidden()
        assert page.get_by_test_id("token-problem").is_hidden()  # asked, not yet refused

        page.get_by_test_id("token-input").fill("not-the-token")
        page.get_by_test_id("token-submit").click()
        problem = page.get_by_test_id("token-problem")
        problem.wait_for(state="visible")
        assert problem.text_content().startswith("The server refused that token (401): missing or wrong token")
        assert "not-the-token" not in (page.content())

        page.get_by_test_id("token-input").fill(TOKEN)
        page.get_by_test_id("token-submit").click()
        page.get_by_test_id("main").wait_for(state="visible")
        assert form.is_hidden() and page.get_by_test_id("who").text_content() == "owner"
        assert page.evaluate("() => location.href") == standalone.root + "/"  # never in the URL

        page.reload()  # the same tab: the token is kept, nothing is asked
        page.get_by_test_id("main").wait_for(state="visible")
        assert form.is_hidden()
        page.get_by_test_id("change-token").click()  # and it can be dropped
        form.wait_for(state="visible")
        assert page.evaluate("() => sessionStorage.length") == 0

    with web_page(browser, expected=("status of 401",)) as other:  # another tab (its own session) asks for it again
        other.goto(standalone.root + "/")
        other.get_by_test_id("token-form").wait_for(state="visible")


def test_a_server_without_a_token_opens_the_page_straight_away(browser: Any, loop: LoopThread, tmp_path: Path) -> None:
    served = loop.run(start_server(tmp_path, web_view=WEB_VIEW))  # loopback, one local user
    try:
        with checked_page(browser) as page:  # no refusal at all: nothing to ask
            page.goto(served.root + "/")
            page.get_by_test_id("main").wait_for(state="visible")
            assert page.get_by_test_id("token-form").is_hidden() and page.get_by_test_id("change-token").is_hidden()
            assert page.get_by_test_id("start-form").is_visible()
            page.get_by_test_id("runs").get_by_text("No runs yet.").wait_for()
    finally:
        loop.run(served.runner.cleanup())


def test_a_run_started_over_http_appears_in_the_list_and_fills_in_live(browser: Any, standalone: Served) -> None:
    with web_page(browser, expected=("status of 401",)) as page:
        enter_token(page, standalone.root, TOKEN)
        task = "Plan a three-day trip to Lisbon"
        status, run = http(standalone.api + "/runs", "POST", {"task": task, **SLOW, "options": {"pace": 600}}, token=TOKEN)
        assert status == 201
        item = run_item(page, task)
        item.wait_for(timeout=WAIT_MS)  # the list asks again on its own: nothing was clicked
        assert item.get_attribute("data-run-id") == run["id"] and item.get_attribute("data-status") == "running"
        item.click()
        assert page.evaluate("() => location.hash") == f"#{run['id']}"
        live = view(page, "s.status === 'running' && s.phases > 1 && s.steps > 0 && s.spinning > 0")
        assert live["task"] == task and live["stopShown"], "the owner can stop it"
        later = view(page, f"s.events > {live['events']}")  # still filling in, from the stream
        assert later["status"] in ("running", "complete")
        done = view(page, "s.status === 'complete'", timeout=30_000)
        events = log_of(standalone.api, run["id"], TOKEN)
        assert done["events"] == len(events) and events[-1]["type"] == "execution:complete"
        assert done["spinning"] == 0 and not done["stopShown"]
        assert done["phases"] >= live["phases"] and done["steps"] >= live["steps"]
        page.wait_for_function("(id) => document.querySelector(`[data-run-id=${id}]`).dataset.status === 'complete'",
                               arg=run["id"], timeout=WAIT_MS)

        # The result is Markdown: shown as the server's sanitized HTML (the kernel's code), never made HTML here.
        last = events[-1]["id"]
        status, rendered = http(f"{standalone.api}/runs/{run['id']}/markdown?from={last}&to={last}", token=TOKEN)
        assert status == 200 and set(rendered["html"]) == {str(last)}
        result = page.locator("[data-testid=run-pane] [data-testid=result] .wb-md")
        assert result.evaluate("(el) => el.innerHTML") == rendered["html"][str(last)]
        assert "<ol>" in rendered["html"][str(last)] and "<code>" in rendered["html"][str(last)]
        assert any(e["type"] == "text" for e in events)  # and so are the model's whole messages
        assert page.locator("[data-testid=run-pane] .wb-message .wb-md").count() >= 1
        assert http(f"{standalone.api}/runs/{run['id']}/markdown?from={last}&to={last}")[0] == 401
        assert http(f"{standalone.api}/runs/{run['id']}/markdown?from=0&to={last}", token=TOKEN)[0] == 400

        page.reload()  # the same run, whole, from the URL's #id
        again = view(page, "s.status === 'complete'")
        assert again["events"] == len(events) and again["task"] == task


def test_the_owner_starts_and_cancels_a_run_from_the_page(browser: Any, standalone: Served) -> None:
    with web_page(browser, expected=("status of 401", "status of 400")) as page:
        enter_token(page, standalone.root, TOKEN)
        task = "Write a long report on tides"
        page.get_by_test_id("start-task").fill(task)
        page.get_by_test_id("start-options").fill('{"pace": 100}')
        page.get_by_test_id("start").click()
        running = view(page, "s.status === 'running' && s.events > 3 && s.stopShown")
        assert running["task"] == task
        runs = http(standalone.api + "/runs", token=TOKEN)[1]["runs"]
        started = next(r for r in runs if r["task"] == task)
        assert (started["model"], started["strategy"]) == ("simulated", "plan")
        page.get_by_test_id("stop").click()
        cancelled = view(page, "s.status === 'cancelled'")
        assert cancelled["spinning"] == 0 and not cancelled["stopShown"]
        events = log_of(standalone.api, started["id"], TOKEN)
        assert events[-1]["type"] == "execution:cancelled" and cancelled["events"] == len(events)
        assert http(f"{standalone.api}/runs/{started['id']}", token=TOKEN)[1]["status"] == "cancelled"
        page.wait_for_function("(id) => document.querySelector(`[data-run-id=${id}]`).dataset.status === 'cancelled'",
                               arg=started["id"], timeout=1500)  # the list says so at once, not at its next beat

        quick = http(standalone.api + "/runs", "POST", {"task": "Write a haiku", "model": "simulated"}, token=TOKEN)[1]
        page.evaluate("(id) => { location.hash = id; }", quick["id"])  # a link to a run shows it
        assert view(page, "s.task === 'Write a haiku' && s.status === 'complete'")["events"] == len(
            log_of(standalone.api, quick["id"], TOKEN))
        page.go_back()  # and the address keeps the way back
        assert view(page, f"s.task === {json.dumps(task)} && s.status === 'cancelled'")["events"] == len(events)
        runs = http(standalone.api + "/runs", token=TOKEN)[1]["runs"]

        page.get_by_test_id("start-task").fill("Anything")
        page.get_by_test_id("start-options").fill("{pace: 1}")  # not JSON: said on the page, nothing sent
        page.get_by_test_id("start").click()
        assert page.get_by_test_id("start-problem").text_content().startswith("Options must be a JSON object")
        assert len(http(standalone.api + "/runs", token=TOKEN)[1]["runs"]) == len(runs)
        page.get_by_test_id("start-options").fill('{"colour": "red"}')  # the server's refusal, shown
        page.get_by_test_id("start").click()
        page.get_by_test_id("start-problem").get_by_text("The run was not started: options ['colour']").wait_for()
        page.screenshot(path="/tmp/web_view_owner.png")


def test_the_owner_takes_part_in_a_run_from_the_page(browser: Any, standalone: Served) -> None:
    """Decisions and messages from the web view go to the run's routes."""
    task = "Write a haiku about tides to a file"
    body = {"task": task, "model": "simulated", "strategy": "react", "options": {"approve": ["write_file"], "pace": 100}}
    status, run = http(standalone.api + "/runs", "POST", body, token=TOKEN)
    assert status == 201
    with web_page(browser, expected=("status of 401", "status of 400", "status of 409")) as page:
        enter_token(page, standalone.root, TOKEN)
        run_item(page, task).click()
        approval = page.locator("[data-testid=run-pane] [data-testid=approval]")
        approval.wait_for(timeout=WAIT_MS)
        assert view(page, "s.status === 'paused'")["stopShown"]
        editor = approval.get_by_test_id("approval-params")
        params = json.loads(editor.input_value())
        editor.fill(json.dumps({"path": params["path"]}))  # the server checks it against the tool's schema
        approval.get_by_test_id("edit").click()
        approval.get_by_test_id("approval-error").get_by_text("'content' is a required property").wait_for()
        approval.get_by_test_id("approval-note").fill("not now")
        approval.get_by_test_id("deny").click()
        page.locator("[data-testid=run-pane] [data-testid=decision-note]").get_by_text("Note: not now").wait_for()
        pane = page.locator("[data-testid=run-pane]")
        pane.get_by_test_id("say-text").fill("Make it rhyme")
        pane.get_by_test_id("say-send").click()
        pane.get_by_text("Message from owner").wait_for(timeout=WAIT_MS)  # in the run, from its own event
        pane.get_by_test_id("stop").click()
        ended = view(page, "['complete', 'cancelled'].includes(s.status)", timeout=30_000)
    events = log_of(standalone.api, run["id"], TOKEN)
    decisions = [e["data"] for e in events if e["type"] == "tool:decision"]
    assert [(d["decision"], d["note"], d["by"]) for d in decisions][:1] == [("deny", "not now", "owner")]
    assert [e["data"]["text"] for e in events if e["type"] == "user:message"] == ["Make it rhyme"]
    assert ended["events"] == len(events)


# --- workshop mode ---------------------------------------------------------------------------------


def test_in_a_workshop_participants_watch_and_instructors_start_and_cancel(browser: Any, workshop: Served) -> None:
    task = "Summarise the history of maps"
    status, run = http(workshop.api + "/runs", "POST", {"task": task, **SLOW}, token=INSTRUCTOR)
    assert status == 201
    assert http(workshop.api + "/me", token=PARTICIPANT)[1] == {"user": "ada", "role": "participant",
                                                                "canStart": False, "canFork": False,
                                                                "canReadMetrics": False}
    with (web_page(browser, expected=("status of 401", "status of 403")) as ada,  # 403: the refusals provoked below
          web_page(browser, expected=("status of 401",)) as ines):
        enter_token(ada, workshop.root, PARTICIPANT)
        enter_token(ines, workshop.root, INSTRUCTOR)
        assert ada.get_by_test_id("who").text_content() == "ada · participant"
        assert ines.get_by_test_id("who").text_content() == "ines · instructor"

        item = run_item(ada, task)
        item.wait_for(timeout=WAIT_MS)
        assert item.get_by_text("by ines").count() == 1  # a shared run: whose it is
        item.click()
        watching = view(ada, "s.status === 'running' && s.steps > 0")
        assert not watching["stopShown"], "a participant gets no Stop"
        assert ada.get_by_test_id("start-form").is_hidden() and ada.get_by_test_id("metrics").is_hidden()
        assert ada.locator("[data-testid=start], [data-testid=stop], [data-testid=controls], [data-testid=say]"
                           ).filter(visible=True).count() == 0  # nor Pause / Resume / Step, nor a message box
        # What the page does not offer, the server refuses anyway: a participant's requests, from the page's origin.
        refused = ada.evaluate("""async (id) => {
          const headers = { Authorization: `Bearer ${sessionStorage.getItem("workbench.webview.token")}`,
                            "Content-Type": "application/json" };
          const start = await fetch("api/runs", { method: "POST", headers, body: JSON.stringify({ task: "x" }) });
          const cancel = await fetch(`api/runs/${id}/cancel`, { method: "POST", headers });
          const metrics = await fetch("metrics", { headers });
          return [start.status, cancel.status, metrics.status];
        }""", run["id"])
        assert refused == [403, 403, 403]

        assert ines.get_by_test_id("start-form").is_visible() and ines.get_by_test_id("metrics").is_visible()
        run_item(ines, task).click()
        view(ines, "s.status === 'running' && s.stopShown")
        assert ines.get_by_test_id("control-pause").is_visible()  # the instructor's run: the controls too
        ines.get_by_test_id("stop").click()
        for page in (ines, ada):  # the participant sees the instructor's cancel, live
            ended = view(page, "s.status === 'cancelled'")
            assert ended["spinning"] == 0 and not ended["stopShown"]
        assert http(f"{workshop.api}/runs/{run['id']}", token=INSTRUCTOR)[1]["status"] == "cancelled"


# --- a server restart in the middle of a run --------------------------------------------------------


def _serve(tmp: Path, port: int) -> subprocess.Popen[str]:
    """A real ``workbench serve`` with the token, on ``port``; returns once it listens."""
    command = [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), "--store", str(tmp / "runs.db"),
               "--workspace-root", str(tmp / "ws")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "WORKBENCH_TOKEN": TOKEN, "NO_COLOR": "1"})
    assert process.stdout is not None
    seen = []
    while not (line := process.stdout.readline()).startswith("Stop with Ctrl-C"):
        assert line, f"workbench serve exited before listening: {''.join(seen)}"
        seen.append(line)
    assert f"Watch runs in a browser: http://127.0.0.1:{port}/ (it asks for the token once)\n" in seen
    return process


def test_a_server_killed_and_restarted_mid_run_leaves_the_run_interrupted_not_spinning(
        browser: Any, tmp_path: Path) -> None:
    port = free_port()
    root, api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api"
    server = _serve(tmp_path, port)
    restarted: subprocess.Popen[str] | None = None
    cut = ("ERR_CONNECTION_REFUSED", "ERR_INCOMPLETE_CHUNKED_ENCODING", "ERR_EMPTY_RESPONSE", "status of 401")
    try:
        with web_page(browser, expected=cut) as page:
            enter_token(page, root, TOKEN)
            task = "Write a guide to tide pools"
            run = http(api + "/runs", "POST", {"task": task, **SLOW}, token=TOKEN)[1]
            run_item(page, task).click()
            before = view(page, "s.status === 'running' && s.steps > 0 && s.spinning > 0")

            server.send_signal(signal.SIGKILL)  # no goodbye: the page learns it from the next requests
            server.wait(10)
            connection = page.get_by_test_id("connection")
            connection.get_by_text("The server is not answering; trying again…").wait_for(timeout=WAIT_MS)
            restarted = _serve(tmp_path, port)  # marks the run interrupted, as it was left going

            gone = view(page, "s.status === 'interrupted'", timeout=30_000)
            assert gone["spinning"] == 0 and not gone["stopShown"] and gone["events"] > before["events"]
            events = log_of(api, run["id"], TOKEN)
            assert events[-1]["type"] == "execution:error" and events[-1]["data"]["error"]["type"] == "interrupted"
            assert gone["events"] == len(events)
            time.sleep(1.2)  # the clock ticks every second
            assert view(page)["elapsed"] == gone["elapsed"], "the clock stopped"
            # The page goes on with the same token: the list comes back and says how the run ended.
            connection.wait_for(state="hidden", timeout=20_000)
            assert run_item(page, task).get_attribute("data-status") == "interrupted"
            assert page.get_by_test_id("token-form").is_hidden()
    finally:
        for process in (server, restarted):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(15)


# --- the metrics panel -------------------------------------------------------------------------------


def scraped(api_root: str, token: str) -> dict[str, float]:
    """The panel's figures, from a scrape of GET /metrics read with prometheus_client's own parser."""
    status, text = http(api_root + "/metrics", token=token)
    assert status == 200
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    total = lambda name: sum(s.value for s in samples if s.name == name)  # noqa: E731
    figures = {key: total(name) for key, name in (
        ("streams", "workbench_event_streams_open"), ("subscribers", "workbench_run_subscribers"),
        ("events", "workbench_events_appended_total"), ("frames", "workbench_sse_frames_sent_total"),
        ("bytes", "workbench_sse_bytes_sent_total"), ("resumes", "workbench_sse_resumes_total"),
        ("dropped", "workbench_sse_clients_dropped_total"), ("retries", "workbench_model_retries_total"))}
    figures.update({f"runs-{s.labels['status']}": s.value for s in samples if s.name == "workbench_runs"})
    return figures


PANEL_JS = """() => Object.fromEntries([...document.querySelectorAll("[data-testid^=metric-]")]
  .map((dd) => [dd.dataset.testid.slice(7), Number(dd.textContent.replace(/,/g, ""))]))"""


def panel_after_next_update(page: Any) -> dict[str, float]:
    """The panel's figures once it has read the metrics again (it does every few seconds)."""
    before = page.get_by_test_id("metrics").get_attribute("data-updated") or "0"
    page.wait_for_function("(t) => (document.querySelector('[data-testid=metrics]').dataset.updated || '0') !== t",
                           arg=before, timeout=WAIT_MS)
    return page.evaluate(PANEL_JS)


def test_the_metrics_panel_shows_the_server_s_figures(browser: Any, standalone: Served) -> None:
    with web_page(browser, expected=("status of 401",)) as page, web_page(browser, expected=("status of 401",)) as other:
        for tab in (page, other):
            enter_token(tab, standalone.root, TOKEN)
        run = http(standalone.api + "/runs", "POST", {"task": "Count the stars", **SLOW}, token=TOKEN)[1]
        for tab in (page, other):
            run_item(tab, "Count the stars").click()
            view(tab, "s.status === 'running' && s.events > 3")
        while_running = panel_after_next_update(page)
        assert (while_running["streams"], while_running["subscribers"]) == (2, 2), "the two tabs follow the run"
        assert while_running["runs-running"] >= 1
        other.close()
        assert http(f"{standalone.api}/runs/{run['id']}/cancel", "POST", token=TOKEN,
                    headers={"Content-Type": "application/json"})[0] == 202
        view(page, "s.status === 'cancelled'")
        quiet = panel_after_next_update(page)
        for _ in range(3):  # the streams close just after their last event: wait for them, then nothing moves
            if quiet["streams"] == 0:
                break
            quiet = panel_after_next_update(page)
        assert quiet == scraped(standalone.root, TOKEN)
        assert quiet["streams"] == quiet["subscribers"] == 0 and quiet["runs-cancelled"] >= 1
        assert quiet["events"] == sum(len(log_of(standalone.api, r["id"], TOKEN))
                                      for r in http(standalone.api + "/runs", token=TOKEN)[1]["runs"])


# --- the Jupyter extension: the same page, behind Jupyter's login ------------------------------------


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    server = start_jupyter(tmp_path_factory.mktemp("jupyter"), "server")
    yield server
    stop_jupyter(server)


def test_jupyter_serves_the_page_behind_its_login_and_it_shows_a_run_live(browser: Any, jupyter: Jupyter) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", jupyter.port, timeout=10)
    connection.request("GET", "/workbench/")  # not logged in: to Jupyter's login page, with nothing of ours
    answer = connection.getresponse()
    assert answer.status == 302 and answer.getheader("Location", "").startswith("/login?next=")
    assert b"wb-config" not in answer.read()
    connection.close()
    assert jupyter.request("GET", "/workbench/api/me").status == 403  # and its data needs the login too
    assert jupyter.request("GET", "/workbench/api/runs/r_0000000000000000/markdown?from=1&to=1").status == 403
    assert jupyter.request("GET", "/workbench/web/app.js").status == 200  # the page's files are public, as Jupyter's are
    page_answer = jupyter.request("GET", "/workbench/", headers={"Authorization": f"token {jupyter.token}"})
    assert page_answer.status == 200 and b'"mode":"jupyter"' in page_answer.body
    assert jupyter.token.encode() not in page_answer.body

    task = "Plan a picnic for twelve people"
    with checked_page(browser, width=1300) as page:
        page.goto(f"{jupyter.url}/workbench/?token={jupyter.token}")  # Jupyter logs the browser in (a cookie)
        page.get_by_test_id("main").wait_for(state="visible", timeout=WAIT_MS)
        page.goto(f"{jupyter.url}/workbench")  # the cookie is enough, and the address without the slash works
        page.get_by_test_id("main").wait_for(state="visible", timeout=WAIT_MS)
        assert page.evaluate("() => location.pathname") == "/workbench/"
        assert page.get_by_test_id("token-form").is_hidden() and page.get_by_test_id("change-token").is_hidden()
        me = jupyter.api("GET", "/workbench/api/me")
        assert page.get_by_test_id("who").text_content() == me["user"] and me["canStart"]

        run = jupyter.api("POST", "/workbench/api/runs", {"task": task, **SLOW})
        run_item(page, task).click()
        live = view(page, "s.status === 'running' && s.steps > 0 && s.stopShown && s.spinning > 0")
        page.get_by_test_id("stop").click()  # a POST with Jupyter's cookie and its XSRF header
        ended = view(page, "s.status === 'cancelled'")
        assert ended["spinning"] == 0 and ended["events"] > live["events"]
        assert jupyter.api("GET", f"/workbench/api/runs/{run['id']}")["status"] == "cancelled"
        figures = panel_after_next_update(page)
        assert figures["runs-cancelled"] == 1 and figures["streams"] == 0
