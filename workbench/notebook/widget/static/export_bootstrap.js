// Agent Workbench: the exported page's bootstrap (inlined by workbench/widget/export.py).
//
// A stand-in for the widget's kernel side over the events embedded in the page: it answers the
// view's `ready` with the events, deltas of a step merged and at most `maxItems` an `events`
// message, and `envelopes` with at most `maxEnvelopes` raw events, as view.py and messages.py do.
// Those limits and the delta types come from Python (`data.limits`), so the two cannot drift.
// Then it imports the view's module (`data.module`, the joined static/*.js) and renders.

const data = JSON.parse(document.getElementById("wb-data").textContent);
const events = data.events;
const { deltaTypes, maxItems, maxEnvelopes } = data.limits;
const DELTAS = new Set(deltaTypes);

// messages.merged_items: a run of deltas of one step travels as one item, with the last id and the first;
// whole messages and the result carry the kernel's HTML of their Markdown.
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
      out.push({ ...e, id: last.id, ts: last.ts, firstId: e.id, firstTs: e.ts, data: { ...e.data, delta } });
    } else out.push(data.html && data.html[e.id] ? { ...e, html: data.html[e.id] } : e);
    i = j;
  }
  return out;
}

const listeners = new Set();
const deliver = (msg) => { for (const fn of [...listeners]) fn(msg, []); };
const traits = { run_id: data.meta.runId, task: data.meta.task, model: data.meta.model,
                 strategy: data.meta.strategy, standalone: true, prices: data.prices };

function answer(msg) {
  if (msg.kind === "ready") {
    const items = merged(events);
    for (let i = 0; i < items.length; i += maxItems) deliver({ kind: "events", events: items.slice(i, i + maxItems) });
    if (data.files) deliver({ kind: "files", ...data.files });
  } else if (msg.kind === "envelopes") {
    const a = Math.max(1, Number(msg.from) || 1);
    const b = Math.min(events.length, Number(msg.to) || 0, a + maxEnvelopes - 1);
    deliver({ kind: "envelopes", requestId: msg.requestId, events: events.slice(a - 1, Math.max(a - 1, b)) });
  } else if (msg.kind === "file") {
    const content = (data.fileContents || {})[msg.path] || { path: msg.path, error: "not in this page" };
    deliver({ kind: "file", requestId: msg.requestId, ...content });
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
  } catch (blocked) { // a browser that will not import a Blob URL from a file:// page
    module = await import("data:text/javascript;charset=utf-8," + encodeURIComponent(data.module));
  }
  module.default.render({ model, el: app });
} catch (error) {
  app.textContent = "This page could not show the run: " + error;
}
