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
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
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
    assert http(standalone.api + "/me", token=TOKEN) == (200, {"user": "owner", "role": "user", "canStart": True,
                                                               "canReadMetrics": True})
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


def test_a_run_started_over_http_appears_in_the_list_and_fills_in_live(browser: Any, standalone: Served) -> None:
    with web_page(browser, expected=("status of 401",)) as page:
        enter_token(page, standalone.root, TOKEN)
        task = "Plan a three-day trip to Lisbon"
        status, run = http(standalone.api + "/runs", "POST", {"task": task, **SLOW, "options": {"pace": 400}}, token=TOKEN)
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

        page.get_by_test_id("start-task").fill("Anything")
        page.get_by_test_id("start-options").fill("{pace: 1}")  # not JSON: said on the page, nothing sent
        page.get_by_test_id("start").click()
        assert page.get_by_test_id("start-problem").text_content().startswith("Options must be a JSON object")
        assert len(http(standalone.api + "/runs", token=TOKEN)[1]["runs"]) == len(runs)
        page.get_by_test_id("start-options").fill('{"colour": "red"}')  # the server's refusal, shown
        page.get_by_test_id("start").click()
        page.get_by_test_id("start-problem").get_by_text("The run was not started: options ['colour']").wait_for()
        page.screenshot(path="/tmp/web_view_owner.png")
