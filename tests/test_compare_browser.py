"""The comparison table in a real Chromium against a live kernel-side ``CompareView`` (no Jupyter between):
it fills in while a sweep goes on, its progress line shows, a row opens its run's view below it, and
two ticked rows ask for their diff.

The page renders the table's front end with a stand-in widget model (as ``live_widget.py`` does for the
run view): the kernel's trait changes are set on it, what it sends goes to the table's ``on_msg``. What
the kernel puts below the table (``CompareView.detail``) is drawn as ipywidgets would: a ``RunView``
with the run view's own front end, talking to that very ``RunView``; an ``HTML`` widget as its HTML.
"""

from __future__ import annotations

import json
import queue
from typing import Any

import pytest
from browser import ARTIFACTS, checked_page
from live_widget import PumpedPage

import workbench as wb
from workbench.notebook.compare.view import CompareView
from workbench.notebook.widget import RunView
from workbench.notebook.diff import DiffView
from workbench.notebook.diff.bundle import diff_css, diff_front_end
from workbench.notebook.widget.bundle import STATIC, front_end

TASK = "Write a haiku about tides"
TABLE_TRAITS = ("rows", "option_keys", "progress", "opened", "diffed")
VIEW_TRAITS = ("run_id", "task", "model", "strategy", "prices", "server", "server_path", "controls")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>%(css)s</style></head>
<body style="margin:0;padding:8px"><div id="table"></div><div id="detail" data-testid="detail"></div>
<script type="module">
const load = (js) => import(URL.createObjectURL(new Blob([js], { type: "text/javascript" })));
const modules = { compare: await load(%(compare)s), run: await load(%(run)s), diff: await load(%(diff)s) };
window.apps = [];
window.addWidget = (kind, traits, where) => {
  const listeners = new Map();
  const app = { toKernel: [] };
  const fire = (name, ...args) => { for (const fn of listeners.get(name) || []) fn(...args); };
  const model = {
    get: (name) => traits[name],
    on(name, fn) { if (!listeners.has(name)) listeners.set(name, new Set()); listeners.get(name).add(fn); },
    off(name, fn) { (listeners.get(name) || new Set()).delete(fn); },
    send(msg) { app.toKernel.push(msg); },
  };
  app.deliver = (msg) => fire("msg:custom", msg, []);
  app.set = (name, value) => { traits[name] = value; fire(`change:${name}`); };
  const el = document.createElement("div");
  el.dataset.app = String(window.apps.length);
  document.getElementById(where).append(el);
  app.el = el;
  app.cleanup = modules[kind].default.render({ model, el });
  window.apps.push(app);
  return window.apps.length - 1;
};
window.removeWidget = (i) => { const app = apps[i]; if (app.cleanup) app.cleanup(); app.el.remove(); app.gone = true; };
window.addHtml = (html) => { const el = document.createElement("div"); el.innerHTML = html;
  document.getElementById("detail").replaceChildren(el); };
window.pageReady = true;
</script></body></html>"""


class ComparePage(PumpedPage):
    """A page showing one ``CompareView``: its table, and whatever it opens below the table."""

    def __init__(self, page: Any, view: CompareView) -> None:
        self.page = page
        self.view = view
        self.outbox: queue.Queue[tuple[str, Any]] = queue.Queue()  # filled from any thread, emptied by pump()
        self.kernel_side: dict[int, Any] = {}  # page app index -> the widget it shows
        self.below: list[int] = []  # apps drawn below the table
        css = (STATIC / "compare_view.css").read_text("utf-8") + (STATIC / "run_view.css").read_text("utf-8")
        page.set_content(PAGE % {"css": css + diff_css(), "compare": self._js(front_end("compare_view.js")),
                                 "run": self._js(front_end()), "diff": self._js(diff_front_end())})
        page.wait_for_function("window.pageReady === true")
        view.table.observe(lambda change: self.outbox.put(("trait", (change["name"], change["new"]))),
                           names=list(TABLE_TRAITS))
        view.detail.observe(lambda change: self.outbox.put(("detail", change["new"])), names=["children"])
        traits = json.loads(json.dumps({name: getattr(view.table, name) for name in TABLE_TRAITS}))
        self.table = self.page.evaluate("t => addWidget('compare', t, 'table')", traits)
        self.kernel_side[self.table] = view.table

    @staticmethod
    def _js(module: str) -> str:
        return json.dumps(module).replace("<", "\\u003c")

    def _show_detail(self, children: tuple[Any, ...]) -> None:
        for index in self.below:
            self.page.evaluate("i => removeWidget(i)", index)
        self.below = []
        self.page.evaluate("() => document.getElementById('detail').replaceChildren()")
        for child in children:
            if isinstance(child, (RunView, DiffView)):
                index = len(self.kernel_side)
                child.send = lambda content, buffers=None, i=index: self.outbox.put(("msg", (i, content)))  # type: ignore[method-assign]
                kind, names = ("run", VIEW_TRAITS) if isinstance(child, RunView) else ("diff", ("run_a", "run_b"))
                traits = json.loads(json.dumps({name: getattr(child, name) for name in names}))
                assert self.page.evaluate("([k, t]) => addWidget(k, t, 'detail')", [kind, traits]) == index
                self.kernel_side[index] = child
                self.below.append(index)
            else:  # an ipywidgets HTML
                self.page.evaluate("html => addHtml(html)", child.value)

    def pump(self) -> None:
        """Carry what each side sent since the last pump to the other."""
        while True:
            try:
                kind, what = self.outbox.get_nowait()
            except queue.Empty:
                break
            if kind == "trait":
                self.page.evaluate("([i, name, value]) => apps[i].set(name, value)",
                                   [self.table, what[0], json.loads(json.dumps(what[1]))])
            elif kind == "detail":
                self._show_detail(what)
            else:
                index, content = what
                self.page.evaluate("([i, msg]) => apps[i].gone || apps[i].deliver(msg)",
                                   [index, json.loads(json.dumps(content))])
        sent = self.page.evaluate("() => apps.map((app) => app.toKernel.splice(0))")
        for index, messages in enumerate(sent):
            for content in messages:
                self.kernel_side[index]._handle_custom_msg(content, [])

    def cells(self) -> list[list[str]]:
        self.pump()
        return self.page.evaluate("""() => [...document.querySelectorAll('[data-testid=compare-row]')]
            .map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.innerText.trim()))""")


@pytest.fixture
def page(browser):
    with checked_page(browser, width=1200, height=900) as page:
        yield page


def test_the_table_fills_in_live_with_its_progress_line_and_a_row_opens_its_run(page):
    comparison = wb.sweep(TASK, seeds=[1, 2, 3], options=[{"pace": 400}], strategy="react", concurrency=2)
    view = comparison.view()
    shown = ComparePage(page, view)
    try:
        heads = page.evaluate("() => [...document.querySelectorAll('.wb-cmp-table th')].map((th) => th.innerText)")
        assert heads == ["", "#", "status", "model", "seed", "phases", "tools", "errors", "tokens", "cost", "time",
                         "result"]
        # While it goes on: two running, one queued, the running ones' tokens counting up.
        shown.text("[data-testid=compare-progress]", "0 of 3 done, 2 running, 1 queued", timeout=30)
        shown.until("""() => { const rows = [...document.querySelectorAll('[data-testid=compare-row]')];
            return rows.filter((r) => r.dataset.status === 'running' && r.cells[8].innerText.trim() !== '0').length === 2
              && rows[2].dataset.status === 'queued'; }""")
        live = shown.cells()
        assert [row[:3] for row in live] == [["1", "running", "simulated"], ["2", "running", "simulated"],
                                             ["3", "queued", "default"]]  # which model is the default is known once it starts
        assert [row[3] for row in live] == ["1", "2", "3"]  # the seed: the one option that differs
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "compare-live.png"), full_page=True)

        comparison.wait(60)
        shown.text("[data-testid=compare-progress]", "3 of 3 done, 0 running, 0 queued")
        shown.until("() => [...document.querySelectorAll('[data-testid=compare-row]')]"
                    ".every((r) => r.dataset.status === 'complete')")
        final = shown.cells()
        for row, run in zip(final, comparison.runs):
            state = run.state
            assert row[:4] == [row[0], "complete", "simulated", str(run.options["seed"])]
            assert row[5:8] == [str(len(state.tool_calls)), "0", f"{state.tokens.input + state.tokens.output:,}"]
            assert row[8] == "" and row[10] == (state.result or "").splitlines()[0]  # no cost for the simulator

        # A click on a row opens that run's view below the table.
        second = comparison.runs[1]
        page.click("[data-testid=compare-row]:nth-child(2) td:nth-child(3)")
        shown.text("[data-testid=detail] [data-testid=event-count]", f"{len(second.events):,} events")
        shown.text("[data-testid=detail] [data-testid=status]", "complete")
        [open_view] = view.detail.children
        assert isinstance(open_view, RunView) and open_view.run is second
        assert page.locator("[data-testid=compare-row]:nth-child(2)").get_attribute("class").count("wb-cmp-opened") == 1
        page.screenshot(path=str(ARTIFACTS / "compare-open.png"), full_page=True)

        # Another row opens its own run instead.
        first = comparison.runs[0]
        page.click("[data-testid=compare-row]:nth-child(1) td:nth-child(4)")
        shown.text("[data-testid=detail] [data-testid=event-count]", f"{len(first.events):,} events")
        assert [child.run for child in view.detail.children] == [first]

        # Two ticked rows and Diff show their diff.
        diff = page.locator("[data-testid=compare-diff]")
        assert diff.is_disabled()
        page.check("[data-testid=compare-row]:nth-child(1) input[type=checkbox]")
        assert diff.is_disabled()
        page.check("[data-testid=compare-row]:nth-child(3) input[type=checkbox]")
        assert diff.is_enabled()
        diff.click()
        shown.until("() => !!document.querySelector('[data-testid=detail] [data-testid=diff-view]')")
        assert view.table.diffed == [first.id, comparison.runs[2].id]
        assert page.locator("[data-testid=detail] [data-testid=event-count]").count() == 0  # the run view is gone
    finally:
        view.close()
