// Agent Workbench: a person's hand on a live run. Pause / Resume / Step in the header, a box to
// send the agent a message, and the decisions on waiting tool calls (approval_view.js draws those).
//
// Each control goes to the kernel as a custom message (workbench/notebook/widget/controls.py) and
// is answered {ok: true}, or {ok: false, error} with the kernel's message for a person, shown by the
// control that was refused. The run's events, not the answer, move the view on: a pause shows once
// its execution:paused arrives, a decision once its tool:decision does, in every view of the run.

import { h, tid, button } from "./dom.js";

const FOCUS_MS = 5000; // how long a clicked control may hand the focus on as the run moves

class ControlsView {
  constructor({ send }) {
    this.send = send; // (message) => Promise<{ok, error}>
    this.on = false; // shown and usable: the run goes on here and the kernel is there
    this.state = null;
    this.busy = false; // a control of the bar is on its way to the kernel
    this.pausing = false; // a pause asked for, until the run reaches its next boundary
    this.wantFocus = null; // {action, until}: where the focus goes once the button pressed is disabled
    this.decide = (toolUseId, decision, params, note) =>
      this.send({ kind: "decide", toolUseId, decision, params: params ?? null, note: note || null });

    const bar = (this.bar = tid(h("div", "wb-controls"), "controls"));
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Run controls");
    this.pauseBtn = this.control("Pause", "pause", "Hold the run before its next model call or tool call",
      () => ({ kind: "pause" }));
    this.resumeBtn = this.control("Resume", "resume", "Let the run go on", () => ({ kind: "resume", step: false }));
    this.stepBtn = this.control("Step", "step", "Go on to the next model call or tool call and pause there",
      () => ({ kind: "resume", step: true }));
    this.barError = tid(h("div", "wb-control-error"), "control-error"); // under the header: the renderer places it
    this.barError.setAttribute("role", "alert");
    this.barError.hidden = true;
    bar.append(this.pauseBtn, this.resumeBtn, this.stepBtn);

    const box = (this.box = tid(h("div", "wb-say"), "say"));
    const text = (this.textEl = tid(h("textarea", "wb-say-text"), "say-text"));
    text.rows = 1;
    text.placeholder = "Tell the agent something: it reads it at its next turn (Enter sends, Shift+Enter for a new line)";
    text.setAttribute("aria-label", "Message to the agent");
    text.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.isComposing) return;
      e.stopPropagation(); // Shift+Enter is a new line here, not "run the cell"
      if (!e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
        e.preventDefault();
        this.say();
      }
    });
    text.addEventListener("input", () => { this.sayError.hidden = true; });
    this.sendBtn = button("wb-ctl", "Send", () => this.say(), "say-send");
    this.sendBtn.title = "Send the message to the agent";
    this.sayError = tid(h("div", "wb-control-error"), "say-error");
    this.sayError.setAttribute("role", "alert");
    this.sayError.hidden = true;
    const row = h("div", "wb-say-row");
    row.append(text, this.sendBtn);
    box.append(row, this.sayError);
  }

  control(label, action, title, message) {
    const b = button("wb-ctl", label, () => {
      this.wantFocus = { action, until: performance.now() + FOCUS_MS };
      if (action === "pause") this.pausing = true;
      this.ask(message(), () => { if (action === "resume") this.pausing = false; }); // a resume withdraws a pause not reached
    }, `control-${action}`); // not "step": that names the run's steps
    b.title = title;
    return b;
  }

  ask(message, onDone) {
    this.busy = true;
    this.barError.hidden = true;
    this.render(this.state, this.on);
    this.send(message).then((answer) => {
      this.busy = false;
      if (answer.ok) onDone();
      else {
        if (message.kind === "pause") this.pausing = false;
        this.showError(this.barError, answer);
      }
      this.render(this.state, this.on);
    });
  }

  say() {
    const text = this.textEl.value;
    if (!text.trim()) {
      this.showError(this.sayError, { error: "Write a message first." });
      return;
    }
    this.sendBtn.disabled = true;
    this.sayError.hidden = true;
    this.send({ kind: "say", text }).then((answer) => {
      this.sendBtn.disabled = false;
      if (!answer.ok) this.showError(this.sayError, answer);
      else if (this.textEl.value === text) this.textEl.value = "";
    });
  }

  showError(el, answer) {
    el.textContent = answer.error || "The kernel did not answer: the control may not have reached the run.";
    el.hidden = false;
  }

  /** The run as it now is; `on`: whether it takes controls from this view. */
  render(state, on) {
    this.state = state;
    this.on = on;
    this.bar.hidden = this.box.hidden = !on;
    if (!on) this.barError.hidden = true;
    if (!state) return;
    const paused = state.paused != null;
    if (paused) this.pausing = false;
    this.pauseBtn.disabled = !on || this.busy || paused || this.pausing;
    this.pauseBtn.textContent = this.pausing ? "Pausing…" : "Pause";
    this.resumeBtn.disabled = !on || this.busy || !(paused || this.pausing);
    this.stepBtn.disabled = !on || this.busy || !paused;
    this.handFocus();
  }

  // A pressed button that is disabled now would drop the focus to the page: hand it to the control
  // that comes next (Resume after Pause, Step again after Step, Pause after Resume).
  handFocus() {
    const want = this.wantFocus;
    if (!want) return;
    if (performance.now() > want.until || !this.on) {
      this.wantFocus = null;
      return;
    }
    const doc = this.bar.ownerDocument;
    const active = doc.activeElement;
    if (active && active !== doc.body && !(this.bar.contains(active) && active.disabled)) return;
    const order = want.action === "step" ? [this.stepBtn, this.resumeBtn, this.pauseBtn]
      : want.action === "resume" ? [this.pauseBtn] : [this.resumeBtn, this.stepBtn];
    const next = order.find((b) => !b.disabled);
    if (next) {
      next.focus();
      if (want.action !== "step" || next === this.stepBtn) this.wantFocus = null;
    }
  }
}

export { ControlsView };
