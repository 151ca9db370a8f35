// Agent Workbench: search in the run view. A text box that keeps only the steps whose text holds
// the query (thinking, messages, tool names, parameters, results), marks each occurrence and
// says how many there are; Escape clears it. It runs again after each redraw, so it keeps up
// with a live run.
//
// Matching reads the run model's steps, not the page: steps outside the DOM window and
// parameters never opened count too. Marks go on the page's text nodes of the steps shown.

import { h, tid, fmtInt, asText } from "./dom.js";
import { jsonOf } from "./json_tree.js";

// The texts of a step a person can search, each a separate string (a match never spans two).
function texts(item) {
  const step = item.step;
  if (item.kind === "retry") return [item.text];
  if (item.kind === "thinking") return step.redacted ? [] : [step.text];
  if (item.kind === "message" || item.kind === "user") return [step.text];
  const out = [step.toolName || "", ...paramTexts(item)];
  if (step.result != null) {
    const tree = jsonOf(step.result);
    if (tree) leaves(tree, out);
    else out.push(asText(step.result));
  }
  return out;
}

function paramTexts(item) {
  const out = [];
  leaves(item.step.params || {}, out);
  return out;
}

// Keys and scalar values of a JSON value, as the tree shows them.
function leaves(value, out) {
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (!Array.isArray(value)) out.push(key);
      leaves(child, out);
    }
  } else out.push(typeof value === "string" ? value : String(value));
}

// What changes in a step as it goes on (with the step object, replaced by a whole step): its text
// grows, a tool call gets its result.
function signature(item) {
  if (item.kind === "retry") return item.text;
  return item.kind === "tool" ? item.step.status : `${item.step.status}:${item.step.text.length}`;
}

function occurrences(text, q) {
  let n = 0;
  const s = text.toLowerCase();
  for (let i = s.indexOf(q); i !== -1; i = s.indexOf(q, i + q.length)) n++;
  return n;
}

function unmark(el) {
  const marks = el.querySelectorAll("mark.wb-hit");
  for (const mark of marks) mark.replaceWith(document.createTextNode(mark.textContent));
  if (marks.length) el.normalize();
}

// Not marked: buttons ("Copy", a tree's toggles), badges, and the tool's argument in its header,
// a copy of a parameter that is marked where it is (so the marks are as many as the count says).
const UNMARKED = "button, .wb-badge, .wb-tool-arg";

// Wrap each occurrence of q in the text under el.
function mark(el, q) {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement.closest(UNMARKED) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.data.toLowerCase().includes(q)) nodes.push(node);
  }
  for (const node of nodes) {
    const text = node.data;
    const lower = text.toLowerCase();
    const frag = document.createDocumentFragment();
    let at = 0;
    for (let i = lower.indexOf(q); i !== -1; i = lower.indexOf(q, i + q.length)) {
      if (i > at) frag.append(text.slice(at, i));
      frag.append(tid(h("mark", "wb-hit", text.slice(i, i + q.length)), "search-hit"));
      at = i + q.length;
    }
    if (at < text.length) frag.append(text.slice(at));
    node.replaceWith(frag);
  }
}

class Search {
  constructor(renderer, hooks) {
    this.r = renderer;
    this.hooks = hooks; // {openParams(item)}: show a tool step's parameters, built
    this.query = "";
    this.el = tid(h("div", "wb-search"), "search");
    const input = (this.input = tid(h("input", "wb-search-input"), "search-input"));
    input.type = "search";
    input.placeholder = "Search steps";
    input.setAttribute("aria-label", "Search the steps of this run");
    input.addEventListener("input", () => this.set(input.value));
    input.addEventListener("keydown", (e) => {
      e.stopPropagation(); // typed text is the box's, not JupyterLab's shortcuts
      if (e.key === "Escape") {
        e.preventDefault();
        input.value = "";
        this.set("");
      }
    });
    this.countEl = tid(h("span", "wb-search-count"), "search-count");
    this.countEl.setAttribute("aria-live", "polite");
    this.el.append(input, this.countEl);
  }

  set(query) {
    this.query = query;
    this.refresh(true);
  }

  /** Match again: `fresh` after the query changed; else after a redraw (new or grown steps). */
  refresh(fresh) {
    const q = this.query.trim().toLowerCase();
    const r = this.r;
    const was = this.active;
    this.active = q;
    r.root.classList.toggle("wb-searching", !!q);
    if (!q) {
      if (was) this.reset();
      this.countEl.textContent = "";
      return;
    }
    let total = 0;
    for (const sec of r.sections.values()) {
      let hits = 0;
      for (const item of sec.items) {
        // Count again only what changed since (a live run grows its newest steps alone).
        const sig = signature(item);
        if (item.hitsFor !== q || item.hitsSig !== sig || item.hitsStep !== item.step) {
          item.hits = texts(item).reduce((n, text) => n + occurrences(text, q), 0);
          item.hitsFor = q;
          item.hitsSig = sig;
          item.hitsStep = item.step;
        }
        hits += item.hits;
      }
      total += hits;
      if (!sec.el) continue;
      sec.el.classList.toggle("wb-search-none", !hits);
      // Open a section with matches, once per query: a person may close it again. While the
      // search lasts, the renderer leaves it open (a phase that ends would close).
      if (hits && sec.searchFor !== q) {
        sec.searchFor = q;
        sec.searchOpen = true;
        if (!sec.el.open) {
          sec.expectOpen = true;
          sec.el.open = true;
          r.renderSteps(sec);
        }
      }
      for (const item of sec.items) if (item.el) this.show(item, q, fresh);
    }
    this.countEl.textContent = `${fmtInt(total)} match${total === 1 ? "" : "es"}`;
  }

  show(item, q, fresh) {
    const sig = signature(item);
    if (!fresh && item.searched === q && item.searchedEl === item.el && item.searchedStep === item.step && item.searchedSig === sig) return;
    item.searched = q;
    item.searchedEl = item.el;
    item.searchedStep = item.step;
    item.searchedSig = sig;
    item.el.classList.toggle("wb-search-miss", !item.hits);
    if (item.hits && item.kind === "tool" && paramTexts(item).some((text) => occurrences(text, q))) {
      this.hooks.openParams(item); // the match is in the parameters: show them
    }
    unmark(item.el);
    if (item.hits) mark(item.el, q);
  }

  // The query was cleared: every step back, unmarked; sections the search opened close again.
  reset() {
    const r = this.r;
    for (const sec of r.sections.values()) {
      sec.searchFor = null;
      if (sec.el) sec.el.classList.remove("wb-search-none");
      if (sec.searchOpen) {
        sec.searchOpen = false;
        if (sec.el && !sec.userToggled && !sec.autoOpen) {
          sec.expectOpen = false;
          sec.el.open = false;
        }
        r.dirtySections.add(sec);
      }
      for (const item of sec.items) {
        item.searched = null;
        if (!item.el) continue;
        item.el.classList.remove("wb-search-miss");
        unmark(item.el);
      }
    }
    r.schedule();
  }
}

export { Search };
