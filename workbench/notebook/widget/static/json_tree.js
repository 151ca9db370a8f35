// Agent Workbench: a JSON value as a collapsible tree (tool parameters and JSON results).
//
// Objects and arrays open and close with a button (so the keyboard reaches them); keys are shown;
// scalars are coloured by type with JupyterLab's editor colours. A string that is long or holds
// newlines is shown as multi-line text, its newlines real line breaks, never "\n" escapes.

import { h, tid, fmtInt, ClipText } from "./dom.js";

const OPEN_DEPTH = 3; // containers this deep or deeper start closed
const INLINE_STRING = 60; // longer strings are shown as a block of text

// A string worth showing as its own block of wrapped text.
const isLong = (s) => s.length > INLINE_STRING || s.includes("\n");

function scalar(value) {
  if (value === null) return h("span", "wb-j-null", "null");
  switch (typeof value) {
    case "string":
      if (isLong(value)) {
        const text = new ClipText("wb-j-text", "tree-text", false);
        text.set(value);
        text.el.classList.add("wb-j-block");
        return text.el;
      }
      return h("span", "wb-j-str", JSON.stringify(value));
    case "number": return h("span", "wb-j-num", String(value));
    case "boolean": return h("span", "wb-j-bool", String(value));
    default: return h("span", "wb-j-null", String(value));
  }
}

function container(value, depth) {
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  const node = h("span", "wb-j-node");
  if (!entries.length) {
    node.append(h("span", "wb-j-punct", open + close));
    return node;
  }
  const count = `${fmtInt(entries.length)} ${isArray ? (entries.length === 1 ? "item" : "items") : (entries.length === 1 ? "key" : "keys")}`;
  const toggle = tid(h("button", "wb-j-toggle"), "tree-toggle");
  toggle.type = "button";
  const closed = h("span", "wb-j-closed", ` ${open}…${close} ${count}`);
  toggle.append(h("span", "wb-j-caret"), h("span", "wb-j-punct", open), closed);
  const list = h("div", "wb-j-children");
  for (const [key, child] of entries) {
    const row = tid(h("div", "wb-j-row"), "tree-row");
    if (!isArray) row.append(tid(h("span", "wb-j-key", key), "tree-key"), h("span", "wb-j-punct", ": "));
    else row.append(h("span", "wb-j-index", String(key)), h("span", "wb-j-punct", ": "));
    row.append(valueEl(child, depth + 1));
    list.append(row);
  }
  const end = h("span", "wb-j-punct wb-j-end", close);
  const set = (expanded) => {
    toggle.setAttribute("aria-expanded", String(expanded));
    toggle.title = expanded ? `Collapse (${count})` : `Expand (${count})`;
    node.classList.toggle("wb-j-collapsed", !expanded);
  };
  toggle.addEventListener("click", () => set(node.classList.contains("wb-j-collapsed")));
  set(depth < OPEN_DEPTH);
  node.append(toggle, list, end);
  return node;
}

function valueEl(value, depth) {
  return value !== null && typeof value === "object" ? container(value, depth) : scalar(value);
}

/** The tree of a JSON value (what JSON.parse gives). */
function jsonTree(value) {
  const el = h("div", "wb-j-tree");
  el.append(valueEl(value, 0));
  return el;
}

/** An object or array a tool's result stands for: itself, or the JSON text of one; else null. */
function jsonOf(result) {
  if (result !== null && typeof result === "object") return result;
  if (typeof result !== "string") return null;
  const s = result.trim();
  if (!(s.startsWith("{") && s.endsWith("}")) && !(s.startsWith("[") && s.endsWith("]"))) return null;
  try {
    const value = JSON.parse(s);
    return value !== null && typeof value === "object" ? value : null;
  } catch (e) {
    return null;
  }
}

export { jsonTree, jsonOf };
