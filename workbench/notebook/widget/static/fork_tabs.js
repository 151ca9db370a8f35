// Agent Workbench: the runs of one view once it has forked. A tab strip above the run, one tab
// for the run the view was made for and one for each fork made from it; choosing a tab asks
// the kernel to show that run (view.py re-targets the view). And the line a fork's view
// shows under the strip: which run it was forked from, where, and what it changed.

import { h, tid, button, oneLine } from "./dom.js";

class ForkTabs {
  constructor(host, onChoose) {
    this.onChoose = onChoose; // (runId) => void
    this.el = tid(h("div", "wb-fork-tabs"), "fork-tabs");
    this.el.setAttribute("role", "tablist");
    this.el.hidden = true;
    host.append(this.el);
  }

  // `runs`: [{id, parentId, at}], in the order they were made; `shown`: the id of the run shown.
  render(runs, shown) {
    this.el.hidden = !runs || runs.length < 2;
    if (this.el.hidden) return this.el.replaceChildren();
    const ids = new Set(runs.map((r) => r.id));
    this.el.replaceChildren(...runs.map((run) => {
      const forked = run.parentId && ids.has(run.parentId);
      const tab = button("wb-fork-tab", forked ? `fork ${run.id}` : run.id, () => {
        if (run.id !== shown) this.onChoose(run.id);
      }, "fork-tab");
      tab.setAttribute("role", "tab");
      tab.dataset.runId = run.id;
      tab.setAttribute("aria-selected", String(run.id === shown));
      if (forked) tab.title = `Forked from ${run.parentId} at event ${run.at}`;
      return tab;
    }));
  }
}

// What a fork's run:forked says, in a line: its parent, the fork point and the edits.
function forkedText(data) {
  const edits = (data && data.edits) || {};
  const parts = [];
  if (edits.message) parts.push(`your message “${oneLine(edits.message, 80)}”`);
  if (edits.toolResult) parts.push(`the result of ${edits.toolResult.toolUseId} edited`);
  if (edits.model) parts.push(`model ${edits.model}`);
  if (edits.options && Object.keys(edits.options).length) parts.push(`options ${oneLine(JSON.stringify(edits.options), 80)}`);
  const base = `Forked from ${data.parentId} at event ${data.at}: events 1 to ${data.at} are copied from it, the rest is this run's own`;
  return parts.length ? `${base}; at the fork point: ${parts.join(", ")}.` : `${base}.`;
}

export { ForkTabs, forkedText };
