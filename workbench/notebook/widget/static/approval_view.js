// Agent Workbench: a tool call that waits for a person's decision, in the live view.
//
// While the call waits (status "waiting") and the view takes controls, the step shows its
// parameters as JSON in an editor, a note, and Approve / Edit / Deny. An edit is parsed here
// first (it must be a JSON object); the kernel checks it against the tool's schema, and what it
// refuses shows under the editor while the call keeps waiting. Once decided, a line under the
// step says what was decided, with the edited parameters or the note.

import { h, tid, button, asText } from "./dom.js";

/** The editor's text as the tool's input: `{value}`, or `{error}` saying what is wrong with it. */
function parseParams(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${e.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "The parameters must be a JSON object, such as {\"path\": \"notes.md\"}." };
  }
  return { value };
}

const DECIDED = { approve: "Approved", edit: "Edited: ran with other parameters", deny: "Denied: the tool did not run" };

// Called for a tool call's step each time it is drawn (step_view.js). `item.controls` is the
// view's ControlsView, or null where nothing can be decided (the inspector, an exported page).
function showApproval(item) {
  const { el, parts, step } = item;
  const controls = item.controls;
  const open = step.status === "waiting" && controls && controls.on;
  if (open && !parts.approval) {
    parts.approval = approvalBox(item, controls);
    parts.head.after(parts.approval.el);
  } else if (!open && parts.approval) {
    parts.approval.el.remove();
    parts.approval = null;
  }
  if (step.decision && !parts.decided) {
    parts.decided = tid(h("div", "wb-decided"), "decision");
    parts.head.after(parts.decided);
  }
  if (parts.decided) {
    const lines = [h("span", "wb-decided-what", DECIDED[step.decision] || step.decision)];
    if (step.decidedBy) lines.push(h("span", "wb-muted", ` by ${step.decidedBy}`));
    if (step.note) lines.push(tid(h("div", "wb-decided-note", `Note: ${step.note}`), "decision-note"));
    if (step.decidedParams) lines.push(tid(h("pre", "wb-code", asText(step.decidedParams)), "decision-params"));
    parts.decided.replaceChildren(...lines);
    parts.decided.dataset.decision = step.decision || "";
  }
  parts.paramsEl.hidden = !!parts.approval; // the editor shows them meanwhile
  el.classList.toggle("wb-awaiting", step.status === "waiting");
}

function approvalBox(item, controls) {
  const step = item.step;
  const original = JSON.stringify(step.params || {}, null, 2);
  const box = tid(h("div", "wb-approval"), "approval");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", `Decide on the call to ${step.toolName}`);
  const label = h("label", "wb-approval-label", `${step.toolName} waits for your decision. Its parameters (JSON):`);
  const editor = tid(h("textarea", "wb-approval-params"), "approval-params");
  editor.value = original;
  editor.rows = Math.min(12, original.split("\n").length + 1);
  editor.spellcheck = false;
  editor.id = `wb-params-${step.stepId}-${Math.random().toString(36).slice(2, 8)}`;
  label.htmlFor = editor.id;
  const problem = tid(h("div", "wb-control-error"), "approval-error");
  problem.setAttribute("role", "alert");
  problem.hidden = true;
  const note = tid(h("input", "wb-approval-note"), "approval-note");
  note.type = "text";
  note.placeholder = "Note (optional): the agent reads it with a denial";
  note.setAttribute("aria-label", "Note with the decision");
  const approve = button("wb-ctl wb-ok", "Approve", () => decide("approve"), "approve");
  approve.title = "Run the call as the model asked";
  const edit = button("wb-ctl", "Edit", () => decide("edit"), "edit");
  edit.title = "Run the call with the parameters as edited above (Ctrl+Enter in the editor)";
  const deny = button("wb-ctl wb-danger", "Deny", () => decide("deny"), "deny");
  deny.title = "Do not run the call; the model reads the denial and the note";
  const state = tid(h("span", "wb-muted wb-approval-state"), "approval-state");
  const buttons = h("div", "wb-approval-buttons");
  buttons.append(approve, edit, deny, state);
  box.append(label, editor, problem, note, buttons);

  let sending = false;
  const edited = () => editor.value.trim() !== original.trim();
  const refresh = () => {
    for (const b of [approve, edit, deny]) b.disabled = sending;
    edit.disabled = sending || !edited();
    note.disabled = editor.readOnly = sending;
  };
  const say = (text) => {
    problem.textContent = text || "";
    problem.hidden = !text;
  };
  editor.addEventListener("input", () => {
    say(edited() ? parseParams(editor.value).error : "");
    refresh();
  });
  const keys = (e) => {
    if (e.key !== "Enter") return;
    e.stopPropagation(); // Shift+Enter and Ctrl+Enter here must not run the notebook's cell
    if (e.target === editor && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (!edit.disabled) decide("edit");
    }
  };
  editor.addEventListener("keydown", keys);
  note.addEventListener("keydown", keys);

  function decide(decision) {
    let params = null;
    if (decision === "edit") {
      const parsed = parseParams(editor.value);
      if (parsed.error) {
        say(parsed.error);
        editor.focus();
        return;
      }
      params = parsed.value;
    }
    sending = true;
    say("");
    state.textContent = "sending…";
    refresh();
    controls.decide(step.stepId, decision, params, note.value.trim()).then((answer) => {
      if (answer.ok) {
        state.textContent = "sent"; // the step changes when its tool:decision arrives
        return;
      }
      sending = false;
      state.textContent = "";
      say(answer.error || "The kernel did not answer: the decision may not have reached the run.");
      refresh();
      (decision === "edit" ? editor : box.querySelector("button:not(:disabled)") || editor).focus();
    });
  }

  refresh();
  return { el: box, editor, focus: () => approve.focus() };
}

export { showApproval, parseParams };
