// Agent Workbench: the run view, an anywidget ES module. Plain JS, no build step.
//
// The kernel sends the run's events ({kind: "events"}, deltas of a step merged); the view folds
// each one into the run model (run_model.js) and patches the DOM once per frame (run_renderer.js);
// the inspector (inspector.js) shows the run at any event k. A run that takes controls here (the
// `controls` trait) gets Pause / Resume / Step, decisions on its tool calls and a message box
// (controls_view.js), each a message to the kernel answered with {kind: "control", ok, error}.
// A run of an agent (the `forkable` trait) gets "Fork from here" in the inspector (fork_form.js):
// {kind: "fork", at, …}, answered {kind: "fork", ok, error, runId}. The kernel then re-targets the
// view to the fork ({kind: "target", runId, …, runs}): the view mounts that run afresh, takes only
// events tagged with its runId, and a tab strip (fork_tabs.js) switches between the runs.
//
// anywidget ships `_esm` as one string, imported from a Blob URL where relative imports cannot
// resolve, so workbench/notebook/widget/bundle.py joins this file and the siblings it imports into one
// module (no build step: it runs when the widget's module is first imported). The exported page
// ships the same joined module.

import { h, tid } from "./dom.js";
import { RunRenderer } from "./run_renderer.js";
import { Inspector } from "./inspector.js";
import { keepKeys } from "./keys.js";
import { MarkdownCache } from "./markdown_view.js";
import { KernelLink } from "./kernel_link.js";
import { ForkTabs, forkedText } from "./fork_tabs.js";

// --- the widget: messages in, views out ------------------------------------------------

function render({ model, el }) {
  const standalone = !!model.get("standalone");
  const root = h("div", "wb-root");
  if (standalone) root.classList.add("wb-standalone");
  el.append(root);
  keepKeys(root);
  const prices = model.get("prices") || null; // workbench/core/pricing.py's table, for a live run's cost
  const token = Math.random().toString(36).slice(2, 10);
  let seq = 0;
  const requests = new Map();
  const ask = (msg) => new Promise((resolve) => {
    const requestId = `${token}:${++seq}`;
    requests.set(requestId, resolve);
    model.send({ ...msg, requestId });
  });
  const dropRequests = () => { // the kernel will never answer them: let the inspector ask again
    for (const resolve of requests.values()) resolve({});
    requests.clear();
  };
  const tabs = new ForkTabs(root, (runId) => model.send({ kind: "show", runId }));
  let shown = null; // the run shown: see mount()

  // The run `traits` names, from its first event: its live view, its inspector, its kernel link.
  const mount = (traits) => {
    const meta = {
      runId: traits.run_id, task: traits.task, model: traits.model, strategy: traits.strategy,
      server: model.get("server") || "", serverPath: model.get("server_path") || "",
    };
    const host = h("div", "wb-run-host");
    const forkedLine = tid(h("div", "wb-forked-line"), "forked-from");
    forkedLine.hidden = true;
    host.append(forkedLine);
    root.append(host);
    const markdown = new MarkdownCache();
    let link = null; // set below: once it has lost the kernel, it answers instead
    const requestEnvelopes = (from, to) => (link && link.lost ? link.envelopes(from, to)
      : ask({ kind: "envelopes", runId: meta.runId, from, to }).then((msg) => msg.events || []));
    const requestFile = (path) => ask({ kind: "file", runId: meta.runId, path });
    const onStop = () => model.send({ kind: "cancel", runId: meta.runId });
    const gone = { ok: false, error: "The kernel is gone: nothing can reach the run from this view." };
    const control = standalone || !traits.controls ? null
      : (msg) => (link && link.lost ? Promise.resolve(gone) : ask({ ...msg, runId: meta.runId }));
    const fork = !traits.forkable ? null
      : (req) => (link && link.lost ? Promise.resolve(gone) : ask({ kind: "fork", runId: meta.runId, ...req }));
    const view = new RunRenderer(host, { meta, standalone, prices, markdown, requestFile, onStop, control });
    const inspector = new Inspector(host, { meta, requestEnvelopes, markdown, fork });

    // Apply items in id order, each once, whatever order and overlap they arrive in.
    let applied = 0;
    const early = new Map(); // firstId -> item that arrived before the ones preceding it
    const take = (item) => {
      view.apply(item);
      applied = item.id;
      if (item.type === "run:forked") {
        forkedLine.hidden = false;
        forkedLine.textContent = forkedText(item.data);
      }
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
      if (shown !== mounted) return;
      receive(events);
      if (events.length && applied < to) refill(to);
    });
    const onLost = () => {
      dropRequests();
      view.loseControls(); // in server mode too: the view follows the run but cannot reach it
    };
    if (!standalone) link = new KernelLink({ model, el, view, meta, receive, applied: () => applied, onLost });
    const mounted = {
      runId: meta.runId, receive, view,
      destroy() {
        if (link) link.destroy();
        view.destroy();
        inspector.destroy();
        host.remove();
      },
    };
    return mounted;
  };

  const onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    const mine = !msg.runId || msg.runId === shown.runId; // what was sent for a run shown before is dropped
    if (msg.kind === "events") { if (mine) shown.receive(msg.events || []); }
    else if (msg.kind === "files") { if (mine) shown.view.showFiles(msg); }
    else if (msg.kind === "target") {
      shown.destroy();
      dropRequests();
      shown = mount({ run_id: msg.runId, task: msg.task, model: msg.model, strategy: msg.strategy,
                      controls: msg.controls, forkable: msg.forkable });
      tabs.render(msg.runs, msg.runId);
    } else if (["envelopes", "file", "control", "fork"].includes(msg.kind) && requests.has(msg.requestId)) {
      const resolve = requests.get(msg.requestId);
      requests.delete(msg.requestId);
      resolve(msg);
    }
  };
  model.on("msg:custom", onMessage);
  const traits = {};
  for (const name of ["run_id", "task", "model", "strategy", "controls", "forkable"]) traits[name] = model.get(name);
  shown = mount(traits);
  tabs.render(model.get("runs") || [], traits.run_id);
  model.send({ kind: "ready" });
  return () => {
    model.off("msg:custom", onMessage);
    shown.destroy();
    root.remove();
  };
}

export default { render };
