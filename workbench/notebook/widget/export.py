"""A run as one self-contained HTML page: the widget's own module and CSS, and every event.

The page needs no Jupyter and no network. Its module is the widget's ``run_view.js``, loaded
from a Blob URL, and it talks to a stand-in for the widget model that answers ``ready`` and
``envelopes`` from the events embedded in the page, just as the kernel would.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.notebook.widget.view import STATIC

if TYPE_CHECKING:
    from workbench.core.handle import Run

__all__ = ["export_html"]

# Runs in the page: a fake anywidget model over the embedded events, then the view module.
_BOOTSTRAP = r"""
const data = JSON.parse(document.getElementById("wb-data").textContent);
const events = data.events;
const DELTAS = new Set(["thinking:delta", "text:delta"]);
function merged(list) {
  const out = [];
  for (let i = 0; i < list.length; ) {
    const e = list[i];
    let j = i + 1;
    if (DELTAS.has(e.type)) {
      while (j < list.length && list[j].type === e.type && list[j].data.stepId === e.data.stepId) j++;
    }
    if (j > i + 1) {
      const last = list[j - 1];
      let delta = "";
      for (let k = i; k < j; k++) delta += list[k].data.delta;
      out.push({ ...e, id: last.id, ts: last.ts, firstId: e.id, data: { ...e.data, delta } });
    } else out.push(e);
    i = j;
  }
  return out;
}
const listeners = new Set();
const deliver = (msg) => { for (const fn of [...listeners]) fn(msg, []); };
const traits = { run_id: data.meta.runId, task: data.meta.task, model: data.meta.model,
                 strategy: data.meta.strategy, standalone: true };
function answer(msg) {
  if (msg.kind === "ready") {
    const items = merged(events);
    for (let i = 0; i < items.length; i += 2000) deliver({ kind: "events", events: items.slice(i, i + 2000) });
  } else if (msg.kind === "envelopes") {
    const a = Math.max(1, Number(msg.from) || 1);
    const b = Math.min(events.length, Number(msg.to) || 0, a + 4999);
    deliver({ kind: "envelopes", requestId: msg.requestId, events: events.slice(a - 1, Math.max(a - 1, b)) });
  }
}
const model = {
  get: (name) => traits[name],
  set() {}, save_changes() {},
  on(name, fn) { if (name === "msg:custom") listeners.add(fn); },
  off(name, fn) { if (fn) listeners.delete(fn); else listeners.clear(); },
  send(msg) { setTimeout(() => answer(msg), 0); },
};
const app = document.getElementById("wb-app");
try {
  let module;
  try {
    module = await import(URL.createObjectURL(new Blob([data.module], { type: "text/javascript" })));
  } catch (blocked) {  // a browser that will not import a Blob URL from a file:// page
    module = await import("data:text/javascript;charset=utf-8," + encodeURIComponent(data.module));
  }
  module.default.render({ model, el: app });
} catch (error) {
  app.textContent = "This page could not show the run: " + error;
}
"""

_PAGE_CSS = """
html { color-scheme: light dark; }
body { margin: 0; padding: 16px; background: #f6f7f9; }
@media (prefers-color-scheme: dark) { body { background: #010409; } }
#wb-app { max-width: 1100px; margin: 0 auto; }
.wb-footer { max-width: 1100px; margin: 8px auto 0; font: 12px system-ui, sans-serif; color: #8b949e; }
"""


def _script_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<`` (so no ``</script>`` or ``<!--``)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def export_html(run: "Run", path: str | os.PathLike[str] | None = None) -> str:
    """One self-contained HTML page of the whole run, viewable offline without Jupyter.

    Writes it to ``path`` when given; returns the HTML either way.
    """
    events = [event.to_dict() for event in run.events]
    meta = {"runId": run.id, "task": run.task, "model": run.model, "strategy": run.strategy}
    payload = {"meta": meta, "events": events, "module": (STATIC / "run_view.js").read_text("utf-8")}
    css = (STATIC / "run_view.css").read_text("utf-8")
    title = html.escape(f"{run.task} · Agent Workbench", quote=False)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Agent Workbench">
<title>{title}</title>
<style>{css}</style>
<style>{_PAGE_CSS}</style>
</head>
<body>
<div id="wb-app"><noscript>This page needs JavaScript to show the run.</noscript></div>
<div class="wb-footer">Run {html.escape(run.id)} · {len(events):,} events · exported from Agent Workbench</div>
<script type="application/json" id="wb-data">{_script_json(payload)}</script>
<script type="module">{_BOOTSTRAP}</script>
</body>
</html>
"""
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page
