// Agent Workbench: the exported page's bootstrap (joined with stand_in_model.js and inlined by
// workbench/notebook/widget/export.py).
//
// A stand-in for the widget's kernel side over the events embedded in the page: it answers the
// view's `ready` with the events, deltas of a step merged and at most `maxItems` an `events`
// message, and `envelopes` with at most `maxEnvelopes` raw events, as view.py and messages.py do.
// Those limits and the delta types come from Python (`data.limits`), so the two cannot drift.
// Then it imports the view's module (`data.module`, the joined static/*.js) and renders (mountView).

import { mergedItems, envelopesOf, StandInModel, mountView } from "./stand_in_model.js";

const data = JSON.parse(document.getElementById("wb-data").textContent);
const events = data.events;
const { deltaTypes, maxItems, maxEnvelopes } = data.limits;
const DELTAS = new Set(deltaTypes);

const traits = { run_id: data.meta.runId, task: data.meta.task, model: data.meta.model,
                 strategy: data.meta.strategy, standalone: true, prices: data.prices };

const model = new StandInModel(traits, (msg) => {
  if (msg.kind === "ready") {
    const items = mergedItems(events, DELTAS, data.html);
    for (let i = 0; i < items.length; i += maxItems) model.deliver({ kind: "events", events: items.slice(i, i + maxItems) });
    if (data.files) model.deliver({ kind: "files", ...data.files });
  } else if (msg.kind === "envelopes") {
    model.deliver({ kind: "envelopes", requestId: msg.requestId, events: envelopesOf(events, msg.from, msg.to, maxEnvelopes) });
  } else if (msg.kind === "file") {
    const content = (data.fileContents || {})[msg.path] || { path: msg.path, error: "not in this page" };
    model.deliver({ kind: "file", requestId: msg.requestId, ...content });
  }
});

mountView(data.module, model, document.getElementById("wb-app"), "the run");
