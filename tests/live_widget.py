"""Views in a real Chromium against live kernel-side widgets (``RunView``), with no Jupyter between.

Each :class:`RunView` made for the page sends into a queue instead of a comm; the page's stand-in
widget models (one per view, as anywidget gives each view its model) push what the front end
sends into an array. :meth:`LivePage.pump` carries both ways: the kernel's messages into the page,
the page's into ``RunView._handle_custom_msg`` as ipywidgets delivers them. Sync Playwright may
only be driven from the test's thread, so the test pumps while it waits (:meth:`LivePage.until`).
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

from workbench.core.handle import Run
from workbench.notebook.widget import RunView
from workbench.notebook.widget.bundle import STATIC, front_end

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>%(css)s</style></head>
<body style="margin:0;padding:8px"><div id="apps"></div>
<script type="module">
const module = await import(URL.createObjectURL(new Blob([%(js)s], { type: "text/javascript" })));
window.apps = [];
window.addView = (traits) => {
  const listeners = new Set();
  const app = { toKernel: [] };
  const model = {
    get: (name) => traits[name],
    on(name, fn) { if (name === "msg:custom") listeners.add(fn); },
    off(name, fn) { listeners.delete(fn); },
    send(msg) { app.toKernel.push(msg); },
  };
  app.deliver = (msg) => { for (const fn of listeners) fn(msg, []); };
  const el = document.createElement("div");
  el.dataset.view = String(window.apps.length);
  document.getElementById("apps").append(el);
  app.cleanup = module.default.render({ model, el });
  window.apps.push(app);
  return window.apps.length - 1;
};
window.pageReady = true;
</script></body></html>"""


class PumpedPage:
    """A page whose kernel-side widgets talk to it only when the test pumps (:meth:`pump`), and the waits
    that pump meanwhile."""

    page: Any

    def pump(self) -> None:
        raise NotImplementedError

    def until(self, js: str, arg: Any = None, timeout: float = 10.0) -> Any:
        """Pump until the page's ``js`` (a function of ``arg``) returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = self.page.evaluate(js, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {js}")
            time.sleep(0.02)

    def shown(self, selector: str, timeout: float = 10.0) -> Any:
        """Pump until an element matching ``selector`` is visible; its locator."""
        self.until("s => { const e = document.querySelector(s); return !!e && e.checkVisibility(); }", selector, timeout)
        return self.page.locator(selector)

    def text(self, selector: str, expected: str, timeout: float = 10.0) -> None:
        """Pump until the element ``selector`` holds exactly ``expected``."""
        self.until("([s, t]) => { const e = document.querySelector(s); return !!e && e.innerText.trim() === t; }",
                   [selector, expected], timeout)


class LivePage(PumpedPage):
    """A page of views, each of its own ``RunView`` on the kernel side."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.views: list[RunView] = []
        self.outbox: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
        page.set_content(PAGE % {"css": (STATIC / "run_view.css").read_text("utf-8"),
                                 "js": json.dumps(front_end()).replace("<", "\\u003c")})
        page.wait_for_function("window.pageReady === true")

    def add(self, run: Run) -> str:
        """A new view of ``run``; returns the CSS selector of its element."""
        index = len(self.views)
        view = RunView.__new__(RunView)
        view.send = lambda content, buffers=None: self.outbox.put((index, json.loads(json.dumps(content))))  # type: ignore[method-assign]
        view.__init__(run)  # type: ignore[misc]
        self.views.append(view)
        traits = {name: getattr(view, name) for name in
                  ("run_id", "task", "model", "strategy", "prices", "server", "server_path", "controls",
                   "forkable", "runs")}
        assert self.page.evaluate("traits => addView(traits)", traits) == index
        return f"[data-view='{index}'] "

    def pump(self) -> None:
        """Carry what each side sent since the last pump to the other."""
        while True:
            try:
                index, content = self.outbox.get_nowait()
            except queue.Empty:
                break
            self.page.evaluate("([i, msg]) => apps[i].deliver(msg)", [index, content])
        sent = self.page.evaluate("() => apps.map((app) => app.toKernel.splice(0))")
        for view, messages in zip(self.views, sent):
            for content in messages:
                view._handle_custom_msg(content, [])

    def close(self) -> None:
        for view in self.views:
            view.close()
