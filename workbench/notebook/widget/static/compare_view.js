// Agent Workbench: the comparison table (wb.compare / wb.sweep), an anywidget ES module. Plain JS,
// no build step (workbench/notebook/widget/bundle.py joins it with dom.js).
//
// The kernel keeps the rows in the `rows` trait (one per run, refreshed while runs go on) and says
// which run is open below the table (`opened`) or which two are diffed (`diffed`). A click on a row
// asks for its run's view ({kind: "open", runId}); ticking two rows and "Diff" asks for their diff
// ({kind: "diff", runIds}). The table patches its rows in place, so ticks and focus survive updates.

import { h, tid, button, fmtInt, fmtMs, oneLine } from "./dom.js";

const ENDED = new Set(["complete", "error", "cancelled", "interrupted", "not started"]);

const COLUMNS = [
  // [heading, cell text of a row, class]
  ["status", (r) => r.status, "wb-cmp-status"],
  ["model", (r) => r.model, ""],
  ["phases", (r) => (r.phasesTotal ? `${r.phasesDone}/${r.phasesTotal}` : ""), "wb-cmp-num"],
  ["tools", (r) => (r.status === "queued" ? "" : fmtInt(r.toolCalls)), "wb-cmp-num"],
  ["errors", (r) => (r.status === "queued" ? "" : fmtInt(r.toolErrors)), "wb-cmp-num"],
  ["tokens", (r) => (r.status === "queued" ? "" : fmtInt(r.tokens)), "wb-cmp-num"],
  ["cost", (r) => (r.costUsd == null ? "" : `$${r.costUsd.toFixed(4)}`), "wb-cmp-num"],
  ["time", (r) => fmtMs(r.durationMs), "wb-cmp-num"],
  ["result", (r) => oneLine(r.result, 120), "wb-cmp-result"],
];

function optionText(value) {
  if (value == null) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function tokensTitle(r) {
  return `${fmtInt(r.inputTokens)} in, ${fmtInt(r.outputTokens)} out, ` +
    `${fmtInt(r.cacheReadTokens)} cache read, ${fmtInt(r.cacheWriteTokens)} cache write`;
}

function render({ model, el }) {
  const root = tid(h("div", "wb-compare"), "compare");
  const progress = tid(h("div", "wb-cmp-progress"), "compare-progress");
  const diff = button("wb-cmp-diff", "Diff", () => {
    if (ticked.size === 2) model.send({ kind: "diff", runIds: [...ticked] });
  }, "compare-diff");
  const hint = h("span", "wb-cmp-hint", "Click a row to open its run; tick two rows to diff them.");
  const bar = h("div", "wb-cmp-bar");
  bar.append(progress, diff, hint);
  const table = h("table", "wb-cmp-table");
  const head = h("thead");
  const body = h("tbody");
  table.append(head, body);
  const scroller = h("div", "wb-cmp-scroll");
  scroller.append(table);
  root.append(bar, scroller);
  el.append(root);

  const ticked = new Set(); // run ids ticked for a diff
  const rows = []; // one {tr, cells, box} per row index
  let keys = null; // the option columns the header was drawn for

  const drawHead = (optionKeys) => {
    const tr = h("tr");
    tr.append(h("th", "wb-cmp-tick"), h("th", "wb-cmp-num", "#"));
    const [first, second, ...rest] = COLUMNS;
    tr.append(h("th", first[2], first[0]), h("th", "", second[0]));
    for (const key of optionKeys) tr.append(tid(h("th", "wb-cmp-option", key), "compare-option"));
    for (const [name, , cls] of rest) tr.append(h("th", cls, name));
    head.replaceChildren(tr);
    body.replaceChildren();
    rows.length = 0;
    keys = optionKeys.join("\u0000");
  };

  const makeRow = (index) => {
    const tr = tid(h("tr", "wb-cmp-row"), "compare-row");
    const box = h("input");
    box.type = "checkbox";
    box.title = "Tick two rows, then Diff";
    box.addEventListener("click", (e) => e.stopPropagation());
    box.addEventListener("change", () => {
      const id = tr.dataset.runId;
      if (!id) { box.checked = false; return; }
      if (box.checked) ticked.add(id); else ticked.delete(id);
      update();
    });
    const tick = h("td", "wb-cmp-tick");
    tick.append(box);
    tick.addEventListener("click", (e) => e.stopPropagation());
    tr.append(tick, h("td", "wb-cmp-num", String(index + 1)));
    tr.addEventListener("click", () => {
      if (tr.dataset.runId) model.send({ kind: "open", runId: tr.dataset.runId });
    });
    body.append(tr);
    const row = { tr, box, cells: [] };
    rows[index] = row;
    return row;
  };

  const setCell = (row, i, text, cls, title) => {
    let td = row.cells[i];
    if (!td) {
      td = row.cells[i] = h("td", cls);
      row.tr.append(td);
    }
    if (td.textContent !== text) td.textContent = text;
    if (title != null && td.title !== title) td.title = title;
  };

  const update = () => {
    const data = model.get("rows") || [];
    const optionKeys = model.get("option_keys") || [];
    if (optionKeys.join("\u0000") !== keys) drawHead(optionKeys);
    const opened = model.get("opened") || "";
    const diffed = new Set(model.get("diffed") || []);
    const ids = new Set(data.map((r) => r.runId).filter(Boolean));
    for (const id of [...ticked]) if (!ids.has(id)) ticked.delete(id);
    data.forEach((r, index) => {
      const row = rows[index] || makeRow(index);
      row.tr.dataset.runId = r.runId || "";
      row.tr.dataset.status = r.status;
      row.tr.classList.toggle("wb-cmp-openable", !!r.runId);
      row.tr.classList.toggle("wb-cmp-going", !ENDED.has(r.status) && r.status !== "queued");
      row.tr.classList.toggle("wb-cmp-opened", !!r.runId && r.runId === opened);
      row.tr.classList.toggle("wb-cmp-diffed", !!r.runId && diffed.has(r.runId));
      row.box.disabled = !r.runId;
      row.box.checked = !!r.runId && ticked.has(r.runId);
      let i = 0;
      const [first, second, ...rest] = COLUMNS;
      setCell(row, i++, first[1](r), first[2]);
      setCell(row, i++, second[1](r), second[2]);
      for (const key of optionKeys) setCell(row, i++, optionText((r.options || {})[key]), "wb-cmp-option");
      for (const [name, text, cls] of rest) {
        setCell(row, i++, text(r), cls, name === "tokens" ? tokensTitle(r) : name === "result" ? r.result || "" : null);
      }
    });
    while (rows.length > data.length) rows.pop().tr.remove();
    progress.textContent = model.get("progress") || "";
    diff.disabled = ticked.size !== 2;
    diff.title = ticked.size === 2 ? "Show the diff of the two ticked runs" : "Tick two rows to diff them";
  };

  const events = ["change:rows", "change:option_keys", "change:progress", "change:opened", "change:diffed"];
  for (const name of events) model.on(name, update);
  update();
  return () => {
    for (const name of events) model.off(name, update);
    root.remove();
  };
}

export default { render };
