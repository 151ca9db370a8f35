// Agent Workbench: the exported diff page's bootstrap (inlined by workbench/notebook/diff/export.py).
//
// A stand-in for the widget's kernel side: it answers the view's `ready` with the diff embedded in
// the page, then imports the view's module (`data.module`, the joined static/*.js) and renders.

import { StandInModel, mountView } from "./stand_in_model.js";

const data = JSON.parse(document.getElementById("wb-data").textContent);
const model = new StandInModel({ standalone: true }, (msg) => {
  if (msg.kind === "ready") model.deliver({ kind: "diff", diff: data.diff });
});

mountView(data.module, model, document.getElementById("wb-app"), "the two runs");
