// Agent Workbench: the run view, an anywidget ES module. Plain JS, no build step.
//
// The kernel sends the run's events ({kind: "events"}, deltas of a step merged); the view folds
// each one into the run model (run_model.js) and patches the DOM once per frame (run_renderer.js);
// the inspector (inspector.js) shows the run at any event k. A run that takes controls here (the
// `controls` trait) gets Pause / Resume / Step, decisions on its tool calls and a message box
// (controls_view.js), each a message to the kernel answered with {kind: "control", ok, error}.
//
// anywidget ships `_esm` as one string, imported from a Blob URL where relative imports cannot
// resolve, so workbench/notebook/widget/bundle.py joins this file and the siblings it imports into one
// module (no build step: it runs when the widget's module is first imported). The exported page
// ships the same joined module.

import { h } from "./dom.js";
import { RunRenderer } from "./run_renderer.js";
import { Inspector } from "./inspector.js";
import { keepKeys } from "./keys.js";
import { MarkdownCache } from "./markdown_view.js";
import { KernelLink } from "./kernel_link.js";

// --- the widget: messages in, views out ------------------------------------------------

function render({ model, el }) {
  const meta = {
    runId: model.get("run_id"), task: model.get("task"),
    model: model.get("model"), strategy: model.get("strategy"),
    server: model.get("server") || "", serverPath: model.get("server_path") || "",
  };
  const standalone = !!model.get("standalone");
  const root = h("div", "wb-root");
  if (standalone) root.classList.add("wb-standalone");
  el.append(root);
  keepKeys(root);
  const prices = model.get("prices") || null; // workbench/core/pricing.py's table, for a live run's cost
  const markdown = new MarkdownCache();
  const token = Math.random().toString(36).slice(2, 10);
  let seq = 0;
  const requests = new Map();
  let link = null; // set below: once it has lost the kernel, it answers instead
  const ask = (msg) => new Promise((resolve) => {
    const requestId = `${token}:${++seq}`;
    requests.set(requestId, resolve);
    model.send({ ...msg, requestId });
  });
  const requestEnvelopes = (from, to) => (link && link.lost ? link.envelopes(from, to)
    : ask({ kind: "envelopes", from, to }).then((msg) => msg.events || []));
  const requestFile = (path) => ask({ kind: "file", path });
  const onStop = () => model.send({ kind: "cancel" });
  const control = standalone || !model.get("controls") ? null
    : (msg) => (link && link.lost ? Promise.resolve({ ok: false, error: "The kernel is gone: nothing can reach the run from this view." })
      : ask(msg));
  const view = new RunRenderer(root, { meta, standalone, prices, markdown, requestFile, onStop, control });
  const inspector = new Inspector(root, { meta, requestEnvelopes, markdown });

  // Apply items in id order, each once, whatever order and overlap they arrive in.
  let applied = 0;
  const early = new Map(); // firstId -> item that arrived before the ones preceding it
  const take = (item) => {
    view.apply(item);
    applied = item.id;
  };
  const receive = (items) => {
    for (const item of items) {
      const first = item.firstId || item.id;
      if (item.id <= applied) continue;
      if (first === applied + 1) take(item);
      else if (first > applied + 1) early.set(first, item);
      else refill(item.id); // it overlaps what we have: fetch the missing events raw
      while (early.has(applied + 1)) {
        const next = early.get(applied + 1);
        early.delete(applied + 1);
        take(next);
      }
    }
    for (const [first, item] of early) {
      if (first > applied) continue;
      early.delete(first);
      if (item.id > applied) refill(item.id);
    }
    view.schedule();
    inspector.setN(applied);
  };

  const refill = (to) => requestEnvelopes(applied + 1, to).then((events) => {
    receive(events);
    if (events.length && applied < to) refill(to);
  });

  const onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.kind === "events") receive(msg.events || []);
    else if (msg.kind === "files") view.showFiles(msg);
    else if ((msg.kind === "envelopes" || msg.kind === "file" || msg.kind === "control") && requests.has(msg.requestId)) {
      const resolve = requests.get(msg.requestId);
      requests.delete(msg.requestId);
      resolve(msg);
    }
  };
  model.on("msg:custom", onMessage);
  const dropRequests = () => { // the kernel will never answer them: let the inspector ask again
    for (const resolve of requests.values()) resolve({});
    requests.clear();
  };
  const onLost = () => {
    dropRequests();
    view.loseControls(); // in server mode too: the view follows the run but cannot reach it
  };
  if (!standalone) link = new KernelLink({ model, el, view, meta, receive, applied: () => applied, onLost });
  model.send({ kind: "ready" });
  return () => {
    model.off("msg:custom", onMessage);
    if (link) link.destroy();
    view.destroy();
    inspector.destroy();
    root.remove();
  };
}

export default { render };
