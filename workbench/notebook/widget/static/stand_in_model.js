// Agent Workbench: a stand-in for the widget model, for pages that show the run view with no
// kernel: the exported page (export_bootstrap.js, events embedded in it) and the web view of
// runs (notebook/web/static/live_model.js, events from the server's stream). Both answer the
// view's messages as view.py and messages.py do; the merging of deltas lives here, once.

// messages.merged_items: a run of deltas of one step travels as one item, with the last id and the first;
// whole messages and the result carry the kernel's HTML of their Markdown (`html`, by event id), when known.
function mergedItems(list, deltaTypes, html) {
  const out = [];
  for (let i = 0; i < list.length; ) {
    const e = list[i];
    let j = i + 1;
    if (deltaTypes.has(e.type)) {
      while (j < list.length && list[j].type === e.type && list[j].data.stepId === e.data.stepId) j++;
    }
    if (j > i + 1) {
      const last = list[j - 1];
      let delta = "";
      for (let k = i; k < j; k++) delta += list[k].data.delta;
      out.push({ ...e, id: last.id, ts: last.ts, firstId: e.id, firstTs: e.ts, data: { ...e.data, delta } });
    } else out.push(html && html[e.id] ? { ...e, html: html[e.id] } : e);
    i = j;
  }
  return out;
}

// The envelopes `from`..`to` of `events` (ids 1..n in order), at most `maxEnvelopes`, as view.py answers them.
function envelopesOf(events, from, to, maxEnvelopes) {
  const a = Math.max(1, Number(from) || 1);
  const b = Math.min(events.length, Number(to) || 0, a + maxEnvelopes - 1);
  return events.slice(a - 1, Math.max(a - 1, b));
}

// The model the view talks to: traits to read, and `msg:custom` messages both ways. `answer(msg)`
// gets what the view sends, and `deliver(msg)` sends the view a message (asynchronously, as a kernel would).
class StandInModel {
  constructor(traits, answer) {
    this.traits = traits;
    this.answer = answer;
    this.listeners = new Set();
  }
  get(name) { return this.traits[name]; }
  set() {}
  save_changes() {}
  on(name, fn) { if (name === "msg:custom") this.listeners.add(fn); }
  off(name, fn) { if (fn) this.listeners.delete(fn); else this.listeners.clear(); }
  send(msg) { setTimeout(() => this.answer(msg), 0); }
  deliver(msg) { for (const fn of [...this.listeners]) fn(msg, []); }
}

// Import a view's module (its joined static/*.js, as text) and render it into `el` with `model`, as the
// exported pages do; `what` names what it shows, for the line that says it could not.
async function mountView(source, model, el, what) {
  try {
    let module;
    try {
      module = await import(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    } catch (blocked) { // a browser that will not import a Blob URL from a file:// page
      module = await import("data:text/javascript;charset=utf-8," + encodeURIComponent(source));
    }
    module.default.render({ model, el });
  } catch (error) {
    el.textContent = `This page could not show ${what}: ` + error;
  }
}

export { mergedItems, envelopesOf, StandInModel, mountView };
