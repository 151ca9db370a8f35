// Agent Workbench: the DOM of one step of the run view (a thinking step, a message, a tool call
// or a retry note). An item is the renderer's record of a step it shows:
// {kind, step (the model's step, current), html (a whole message's, from the kernel), text (retry
// notes only), el, parts}.

import { h, tid, fmtMs, asText, oneLine, keyArgument, ClipText } from "./dom.js";
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
  el.append(head);
  if (item.kind === "tool") {
    parts.name = tid(h("code", "wb-tool-name"), "tool-name");
    parts.arg = h("span", "wb-tool-arg");
    parts.detail.append(parts.name, parts.arg);
    const params = h("details", "wb-params");
    params.append(h("summary", null, "Parameters"));
    parts.params = new ClipText("wb-code", "tool-params", true);
    params.append(parts.params.el);
    params.addEventListener("toggle", () => {
      if (params.open && !parts.paramsFilled) {
        parts.paramsFilled = true;
        parts.params.set(asText(item.step.params || {}));
      }
    });
    parts.result = new ClipText("wb-code wb-result", "tool-result", true);
    el.append(params, parts.result.el);
  } else {
    parts.text = new ClipText("wb-text", item.kind === "thinking" ? "thinking-text" : "message-text", false);
    el.append(parts.text.el);
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
    parts.arg.textContent = arg ? oneLine(arg, 60) : "";
    parts.state.textContent = open
      ? "running"
      : step.status === "interrupted"
        ? "interrupted"
        : (step.isError ? "error · " : "") + fmtMs(step.duration);
    const hasResult = step.status === "complete" || step.status === "error";
    parts.result.el.hidden = !hasResult;
    if (hasResult) parts.result.set(asText(step.result));
    if (parts.paramsFilled) parts.params.set(asText(step.params || {}));
  } else if (item.kind === "thinking") {
    parts.badge.textContent = step.redacted ? "Thinking (redacted)" : "Thinking";
    parts.detail.textContent = step.iteration ? `iteration ${step.iteration}` : "";
    parts.state.textContent = open ? "thinking…" : step.status === "interrupted" ? "interrupted" : "";
    el.classList.toggle("wb-redacted", !!step.redacted);
    parts.text.set(step.redacted ? "The model's reasoning for this step is encrypted and not shown." : step.text);
  } else if (item.kind === "message") {
    parts.badge.textContent = "Assistant";
    parts.state.textContent = open ? "writing…" : step.status === "interrupted" ? "interrupted" : "";
    showMarkdown(parts.text, step.text, item.html);
  }
  el.classList.toggle("wb-live", open);
}

function unmountStep(item) {
  if (item.el) item.el.remove();
  item.el = item.parts = null;
}

export { stepEl, updateStep, unmountStep };
