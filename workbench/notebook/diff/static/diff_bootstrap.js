// Agent Workbench: the exported diff page's bootstrap (inlined by workbench/notebook/diff/export.py).
//
// A stand-in for the widget's kernel side: it answers the view's `ready` with the diff embedded in
// the page, then imports the view's module (`data.module`, the joined static/*.js) and renders.

import { StandInModel } from "./stand_in_model.js";

const data = JSON.parse(document.getElementById("wb-data").textContent);
const model = new StandInModel({ standalone: true }, (msg) => {
  if (msg.kind === "ready") model.deliver({ kind: "diff", diff: data.diff });
});

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
  app.textContent = "This page could not show the diff: " + error;
}
