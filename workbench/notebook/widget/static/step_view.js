// Agent Workbench: the DOM of one step of the run view (a thinking step, a message, a tool call,
// a person's message or a retry note). An item is the renderer's record of a step it shows:
// {kind, step (the model's step, current), html (a whole message's, from the kernel), text (retry
// notes only), controls (the live view's, for a tool call waiting for a decision), el, parts}.

import { h, tid, fmtMs, asText, oneLine, keyArgument, ClipText } from "./dom.js";
import { jsonTree, jsonOf } from "./json_tree.js";
import { copyButton } from "./copy_button.js";
import { collapsible } from "./collapsible.js";
import { showApproval } from "./approval_view.js";

// The argument shown next to a tool's name: "." alone says nothing, it is the workspace itself.
const argLabel = (arg) => (arg === "." || arg === "./" ? "workspace root" : arg);
const STATE = { waiting: "waiting for your decision", interrupted: "interrupted", denied: "denied" };
const DECIDED = { approve: "approved", edit: "edited", deny: "denied" };
import { showMarkdown } from "./markdown_view.js";

function stepEl(item) {
  const el = tid(h("div", `wb-step wb-${item.kind}`), "step");
  el.dataset.kind = item.kind;
  const parts = (item.parts = {});
  item.el = el;
  if (item.kind === "retry") {
    el.classList.add("wb-note");
    el.textContent = `↻ ${item.text}`;
    return el;
  }
  const head = h("div", "wb-step-head");
  parts.badge = h("span", "wb-badge");
  parts.detail = h("span", "wb-step-detail");
  parts.state = tid(h("span", "wb-step-state"), "step-state");
  head.append(parts.badge, parts.detail, parts.state);
  parts.head = head;
  el.append(head);
  if (item.kind === "tool") {
    parts.name = tid(h("code", "wb-tool-name"), "tool-name");
    parts.arg = h("span", "wb-tool-arg");
    parts.detail.append(parts.name, parts.arg);
    const params = (parts.paramsEl = h("details", "wb-params"));
    params.append(h("summary", null, "Parameters"));
    // The tree is built when first opened: most parameters are never looked at.
    parts.params = tid(h("div", "wb-code wb-j-box"), "tool-params");
    parts.params.append(copyButton(() => asText(item.step.params || {}), "the parameters as JSON"));
    params.append(parts.params);
    params.addEventListener("toggle", () => {
      if (params.open && !parts.paramsFilled) {
        parts.paramsFilled = true;
        parts.paramsOf = item.step.params;
        fillTree(parts.params, item.step.params || {});
      }
    });
    parts.resultBox = h("div", "wb-result-box");
    parts.result = new ClipText("wb-code wb-result", "tool-result", true);
    parts.resultTree = tid(h("div", "wb-code wb-result wb-j-box"), "tool-result-tree");
    parts.resultBox.append(copyButton(() => asText(item.step.result), "the result"), parts.result.el, parts.resultTree);
    el.append(params, parts.resultBox);
  } else {
    parts.text = new ClipText("wb-text", `${item.kind === "user" ? "user" : item.kind === "thinking" ? "thinking" : "message"}-text`, false);
    el.append(parts.text.el);
    if (item.kind === "thinking") {
      parts.copy = copyButton(() => item.step.text, "this thinking");
      head.append(parts.copy);
      collapsible(el, head, "thinking step");
    }
  }
  updateStep(item);
  return el;
}

function updateStep(item) {
  const { el, parts, step } = item;
  if (item.kind === "retry") return; // a note never changes
  el.dataset.status = step.status;
  const open = step.status === "streaming" || step.status === "running";
  if (item.kind === "tool") {
    parts.badge.textContent = "Tool";
    parts.name.textContent = step.toolName || "tool";
    const arg = keyArgument(step.params);
    parts.arg.textContent = arg ? oneLine(argLabel(arg), 60) : "";
    parts.state.textContent = open
      ? step.decision ? `${DECIDED[step.decision]} · running` : "running"
      : step.status === "waiting" || step.status === "interrupted" || step.status === "denied"
        ? STATE[step.status]
        : (step.decision ? `${DECIDED[step.decision]} · ` : "") + (step.isError ? "error · " : "") + fmtMs(step.duration);
    const hasResult = step.status === "complete" || step.status === "error";
    parts.resultBox.hidden = !hasResult;
    if (hasResult) {
      const tree = jsonOf(step.result);
      parts.result.el.hidden = !!tree;
      parts.resultTree.hidden = !tree;
      if (tree && parts.resultShown !== step.result) fillTree(parts.resultTree, tree);
      else if (!tree) parts.result.set(asText(step.result));
      parts.resultShown = step.result;
    }
    if (parts.paramsFilled && parts.paramsOf !== step.params) {
      parts.paramsOf = step.params;
      fillTree(parts.params, step.params || {});
    }
    showApproval(item);
  } else if (item.kind === "thinking") {
    parts.badge.textContent = step.redacted ? "Thinking (redacted)" : "Thinking";
    parts.detail.textContent = step.iteration ? `model call ${step.iteration}` : "";
    parts.detail.title = step.iteration
      ? `The ${ordinal(step.iteration)} call to the model ${step.phaseId == null ? "in this section" : "in this phase"}`
      : "";
    parts.state.textContent = open ? "thinking…" : step.status === "interrupted" ? "interrupted" : "";
    el.classList.toggle("wb-redacted", !!step.redacted);
    parts.copy.hidden = !!step.redacted; // nothing to copy: the reasoning is encrypted
    parts.text.set(step.redacted ? "The model's reasoning for this step is encrypted and not shown." : step.text);
  } else if (item.kind === "message") {
    parts.badge.textContent = "Assistant";
    parts.state.textContent = open ? "writing…" : step.status === "interrupted" ? "interrupted" : "";
    showMarkdown(parts.text, step.text, item.html);
  } else if (item.kind === "user") {
    parts.badge.textContent = step.by ? `Message from ${step.by}` : "Your message";
    parts.detail.textContent = "to the agent, read at its next turn";
    parts.text.set(step.text);
  }
  el.classList.toggle("wb-live", open);
}

// `host` shows `value` as a tree, after its copy button.
function fillTree(host, value) {
  const old = host.querySelector(".wb-j-tree");
  if (old) old.remove();
  host.append(jsonTree(value));
}

function ordinal(n) {
  const rest = n % 100;
  const suffix = rest >= 11 && rest <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] || "th";
  return `${n}${suffix}`;
}

// Open a tool step's parameters now, tree built (the search shows a match in them).
function openParams(item) {
  const parts = item.parts;
  if (!parts || !parts.paramsEl || parts.paramsEl.open) return;
  parts.paramsFilled = true;
  parts.paramsOf = item.step.params;
  fillTree(parts.params, item.step.params || {});
  parts.paramsEl.open = true;
}

function unmountStep(item) {
  if (item.el) item.el.remove();
  item.el = item.parts = null;
}

export { stepEl, updateStep, unmountStep, openParams };
