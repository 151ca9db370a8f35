// Agent Workbench: the DOM of a diff of two runs (the JSON of workbench/core/diffing.py's RunDiff).
//
// Two columns, A and B: each run's header; the shared prefix as one line (opening it shows the
// shared rows and steps, dimmed, in place); the mark where the runs part; then the rows (planning,
// each phase, the final answer) with their time and token deltas and their steps side by side,
// each difference highlighted (a changed text or result as a word diff: removed in A, added in B);
// last, the word diff of the final results.

import { h, tid, button, fmtInt, fmtMs, asText } from "./dom.js";

const KIND = { thinking: "Thinking", message: "Message", tool: "Tool", user: "Person" };
const CHANGE = {
  "only-a": "only in A", "only-b": "only in B", kind: "different step", text: "text differs",
  params: "params differ", result: "result differs", error: "error flag differs", status: "status differs",
  edited: "result edited in the fork",
};

function signed(n, fmt) {
  if (n == null) return "";
  if (n === 0) return "±0";
  return (n > 0 ? "+" : "−") + fmt(Math.abs(n));
}

function tokensText(t) {
  return `${fmtInt(t.input)} in · ${fmtInt(t.output)} out`;
}

function tokensDelta(d) {
  return `${signed(d.input, fmtInt)} in · ${signed(d.output, fmtInt)} out`;
}

// One side of a word diff: A keeps what was removed, B what was added.
function segmentsEl(tag, cls, segments, side, testid) {
  const el = h(tag, cls);
  if (testid) tid(el, testid);
  for (const s of segments) {
    if (s.op === "equal") el.append(document.createTextNode(s.text));
    else if (s.op === "delete" && side === "a") el.append(h("del", "wb-diff-del", s.text));
    else if (s.op === "insert" && side === "b") el.append(h("ins", "wb-diff-ins", s.text));
  }
  return el;
}

function sideHeader(side, label) {
  const el = tid(h("div", "wb-diff-side"), `diff-side-${label.toLowerCase()}`);
  const title = h("div", "wb-diff-side-title");
  title.append(h("span", "wb-diff-badge", label), tid(h("span", "wb-diff-task", side.task || "(no task)"), "diff-task"));
  const meta = h("div", "wb-meta");
  const status = tid(h("span", "wb-status", side.status), "diff-status");
  status.dataset.status = side.status;
  meta.append(tid(h("code", "wb-diff-run-id", side.runId), "diff-run-id"), h("span", "", side.model), status,
    h("span", "", `${fmtInt(side.events)} events`));
  if (side.duration != null) meta.append(h("span", "", fmtMs(side.duration)));
  meta.append(h("span", "", tokensText(side.tokens)));
  el.append(title, meta);
  if (side.parentId) {
    const edits = side.edits && side.edits.length ? ` (${side.edits.join("; ")})` : "";
    el.append(tid(h("div", "wb-diff-fork", `forked from ${side.parentId} at event ${side.forkedAt}${edits}`), "diff-fork"));
  }
  return el;
}

function prefixLine(root, diff, opened) {
  const el = tid(h("div", "wb-diff-prefix"), "diff-prefix");
  const hidden = diff.rows.some((r) => r.shared || r.steps.some((p) => p.shared));
  if (hidden) {
    const toggle = button("wb-link wb-diff-toggle", "", () => {
      opened.shared = !opened.shared;
      show();
    }, "diff-prefix-toggle");
    const show = () => { // a class on the root, not a new DOM: a long run's prefix opens at once
      root.classList.toggle("wb-diff-show-shared", !!opened.shared);
      toggle.textContent = opened.shared ? "▾ hide" : "▸ show";
      toggle.setAttribute("aria-expanded", String(!!opened.shared));
    };
    show();
    el.append(toggle);
  }
  let text = diff.prefix.summary;
  if (diff.identical) text += diff.live ? " (so far)" : ": no difference but timing";
  el.append(tid(h("span", "wb-diff-prefix-text", text), "diff-prefix-text"));
  return el;
}

function divergenceMark(d) {
  const el = tid(h("div", "wb-diff-divergence"), "diff-divergence");
  el.append(h("span", "wb-diff-divergence-title", "The runs part here"));
  const where = (ref, label) => (ref ? `${label}: event ${ref.id}, ${ref.label}` : `${label}: no event`);
  el.append(tid(h("div", "wb-diff-divergence-where", `${where(d.a, "A")} · ${where(d.b, "B")}`), "diff-divergence-where"));
  if (d.fork) el.append(tid(h("div", "wb-diff-divergence-fork", d.fork), "diff-divergence-fork"));
  el.append(tid(h("div", "wb-diff-divergence-what", d.what), "diff-divergence-what"));
  return el;
}

function paramsEl(params, changed) {
  const el = tid(h("dl", "wb-diff-params"), "diff-params");
  for (const [key, value] of Object.entries(params || {})) {
    const dt = h("dt", changed.includes(key) ? "wb-diff-changed" : "", key);
    const dd = h("dd", changed.includes(key) ? "wb-diff-changed" : "", asText(value));
    el.append(dt, dd);
  }
  return el;
}

function cell(step, pair, side) {
  const el = h("div", `wb-diff-cell wb-diff-cell-${side}`);
  if (!step) {
    el.classList.add("wb-diff-empty");
    el.append(h("span", "wb-muted", "—"));
    return el;
  }
  el.dataset.kind = step.kind;
  el.dataset.status = step.status;
  const head = h("div", "wb-diff-cell-head");
  head.append(h("span", "wb-label", KIND[step.kind] || step.kind));
  if (step.toolName) head.append(tid(h("code", "wb-diff-tool", step.toolName), "diff-tool"));
  if (step.status !== "complete") head.append(h("span", "wb-diff-state", step.status));
  if (step.isError) head.append(h("span", "wb-diff-state wb-diff-error", "error"));
  if (step.kind === "tool" && step.duration != null) head.append(h("span", "wb-muted", fmtMs(step.duration)));
  el.append(head);
  const changes = pair.changes;
  if (step.kind === "tool") {
    el.append(paramsEl(step.params, pair.changedParams || []));
    const diffed = changes.includes("result") && pair.diff.length;
    const result = diffed ? segmentsEl("pre", "wb-diff-result", pair.diff, side, "diff-tool-result")
      : tid(h("pre", "wb-diff-result", step.result || ""), "diff-tool-result");
    if (diffed) result.classList.add("wb-diff-changed-block");
    el.append(result);
  } else {
    const diffed = changes.includes("text") && pair.diff.length;
    const text = diffed ? segmentsEl("div", "wb-diff-text", pair.diff, side, "diff-text")
      : tid(h("div", "wb-diff-text", step.text || ""), "diff-text");
    if (diffed) text.classList.add("wb-diff-changed-block");
    el.append(text);
  }
  return el;
}

function pairEl(pair) {
  const el = tid(h("div", "wb-diff-pair"), "diff-step");
  el.dataset.changes = pair.changes.join(" ");
  if (pair.shared) el.classList.add("wb-diff-shared");
  else if (pair.changes.length) el.classList.add("wb-diff-differs");
  else el.classList.add("wb-diff-alike"); // past the prefix, yet the same: kept short
  if (pair.changes.length) {
    el.append(tid(h("div", "wb-diff-changes", pair.changes.map((c) => CHANGE[c] || c).join(" · ")
      + (pair.changedParams && pair.changedParams.length ? ` (${pair.changedParams.join(", ")})` : "")), "diff-changes"));
  }
  el.append(cell(pair.a, pair, "a"), cell(pair.b, pair, "b"));
  return el;
}

function rowHead(row) {
  const el = h("div", "wb-diff-row-head");
  const title = (text, status, side) => {
    const t = h("div", `wb-diff-row-title wb-diff-cell-${side}`);
    t.append(h("span", "wb-diff-row-name", text == null ? "—" : text));
    if (status && status !== "complete") t.append(h("span", "wb-diff-state", status));
    return t;
  };
  el.append(title(row.titleA, row.statusA, "a"), title(row.titleB, row.statusB, "b"));
  const time = row.durationA != null || row.durationB != null
    ? `time ${fmtMs(row.durationA) || "—"} → ${fmtMs(row.durationB) || "—"}` + (row.durationDelta != null ? ` (${signed(row.durationDelta, fmtMs)})` : "")
    : "";
  const tokens = `tokens ${tokensText(row.tokensA)} → ${tokensText(row.tokensB)} (${tokensDelta(row.tokensDelta)})`;
  el.append(tid(h("div", "wb-diff-deltas wb-muted", [time, tokens].filter(Boolean).join(" · ")), "diff-row-deltas"));
  return el;
}

function resultEl(diff) {
  const el = tid(h("section", "wb-diff-final"), "diff-result");
  const segments = diff.resultDiff || [];
  const same = segments.every((s) => s.op === "equal");
  el.dataset.same = String(same);
  el.append(h("div", "wb-label", same && segments.length ? "Final result · the same in both" : "Final result"));
  if (same) {
    el.append(tid(h("div", "wb-diff-text", segments.map((s) => s.text).join("") || "(no result yet)"), "diff-result-same"));
    return el;
  }
  const cols = h("div", "wb-diff-pair");
  const side = (s, text) => {
    const c = h("div", `wb-diff-cell wb-diff-cell-${s}`);
    c.append(text == null && !segments.length ? h("span", "wb-muted", "(no result)")
      : segmentsEl("div", "wb-diff-text", segments, s, `diff-result-${s}`));
    return c;
  };
  cols.append(side("a", diff.a.result), side("b", diff.b.result));
  el.append(cols);
  return el;
}

function renderDiff(root, diff, opened) {
  root.classList.toggle("wb-diff-show-shared", !!opened.shared);
  root.dataset.identical = String(diff.identical);
  root.dataset.live = String(diff.live);
  const head = h("div", "wb-diff-head");
  head.append(sideHeader(diff.a, "A"), sideHeader(diff.b, "B"));
  const totals = [];
  if (diff.durationDelta != null) totals.push(`time ${signed(diff.durationDelta, fmtMs)}`);
  totals.push(`tokens ${tokensDelta(diff.tokensDelta)}`);
  const totalsEl = tid(h("div", "wb-diff-totals wb-muted", `B against A: ${totals.join(" · ")}`), "diff-totals");
  const body = h("div", "wb-diff-body");
  body.append(prefixLine(root, diff, opened));
  let marked = false;
  for (const row of diff.rows) {
    const rowEl = tid(h("section", "wb-diff-row"), "diff-row");
    rowEl.dataset.key = row.key;
    if (row.shared) rowEl.classList.add("wb-diff-shared");
    if (!row.same) rowEl.classList.add("wb-diff-differs");
    rowEl.append(rowHead(row));
    for (const pair of row.steps) {
      if (pair.divergence && diff.divergence && !marked) {
        rowEl.append(divergenceMark(diff.divergence));
        marked = true;
      }
      rowEl.append(pairEl(pair));
    }
    body.append(rowEl);
  }
  if (diff.divergence && !marked) body.children[0].after(divergenceMark(diff.divergence));
  body.append(resultEl(diff));
  root.replaceChildren(head, totalsEl, body);
}

export { renderDiff };
