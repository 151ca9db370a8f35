// Agent Workbench: two runs side by side (wb.diff(a, b)), an anywidget ES module. Plain JS, no build step.
//
// The kernel compares the runs (workbench/core/diffing.py) and sends the result whole,
// {kind: "diff", diff}, when the view says `ready` and again, at most a few times a second, while
// either run goes on. The view renders it afresh each time (diff_render.js), keeping what the
// person opened. The exported page (diff_bootstrap.js) answers `ready` from the diff embedded in it.
// workbench/notebook/diff/bundle.py joins this file and the siblings it imports into one module.

import { h } from "./dom.js";
import { renderDiff } from "./diff_render.js";

function render({ model, el }) {
  const root = h("div", "wb-root wb-diff");
  if (model.get("standalone")) root.classList.add("wb-standalone");
  root.dataset.testid = "diff-view";
  root.append(h("div", "wb-diff-waiting wb-muted", "Comparing the runs…"));
  el.append(root);
  const opened = { shared: false }; // what the person opened survives a re-render
  const onMessage = (msg) => {
    if (!msg || msg.kind !== "diff" || !msg.diff) return;
    renderDiff(root, msg.diff, opened);
  };
  model.on("msg:custom", onMessage);
  model.send({ kind: "ready" });
  return () => {
    model.off("msg:custom", onMessage);
    root.remove();
  };
}

export default { render };
