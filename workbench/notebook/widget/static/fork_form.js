// Agent Workbench: "Fork from here", the inspector's action on the event it shows.
//
// A fork (contract section 7) is a new run that starts with a copy of this one's events up to
// the last model turn fully ended at the inspected event, then goes on live. The small form
// takes what may change at the fork point: a message to the agent, and, on a tool:complete, the
// result the model reads instead. `fork(request)` is the view's: a message to the kernel in a
// notebook, the server's route in the web view; it answers {ok, error}, and the view then
// shows the fork, so this form has nothing more to do on success.

import { h, tid, button } from "./dom.js";

class ForkForm {
  constructor(host, fork) {
    this.fork = fork; // ({at, message?, toolResult?}) -> Promise<{ok, error}>
    this.k = 0;
    this.event = null;
    const el = (this.el = tid(h("div", "wb-fork"), "fork"));
    el.hidden = true;
    const row = h("div", "wb-fork-row");
    this.openBtn = button("wb-btn wb-fork-open", "Fork from here", () => this.open(), "fork-open");
    this.hint = tid(h("span", "wb-muted wb-fork-hint"), "fork-hint");
    row.append(this.openBtn, this.hint);
    const form = (this.form = tid(h("form", "wb-fork-form"), "fork-form"));
    form.hidden = true;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    form.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.submit();
      } else if (e.key === "Escape") this.close();
    });
    this.message = tid(h("textarea", "wb-fork-text"), "fork-message");
    this.message.rows = 2;
    this.message.placeholder = "Optional: what the agent reads as your message at the fork point";
    this.resultLabel = h("div", "wb-label");
    this.result = tid(h("textarea", "wb-fork-text wb-code"), "fork-result");
    this.result.rows = 4;
    this.result.addEventListener("input", () => this.check());
    this.resultBox = h("div", "wb-fork-field");
    this.resultBox.append(this.resultLabel, this.result);
    const messageBox = h("div", "wb-fork-field");
    messageBox.append(h("div", "wb-label", "Message to the agent"), this.message);
    this.problem = tid(h("div", "wb-fork-error"), "fork-error");
    this.problem.setAttribute("role", "alert");
    this.problem.hidden = true;
    this.submitBtn = tid(h("button", "wb-btn wb-fork-submit", "Fork"), "fork-submit");
    this.submitBtn.type = "submit";
    const cancel = button("wb-btn", "Cancel", () => this.close(), "fork-cancel");
    const actions = h("div", "wb-fork-actions");
    actions.append(this.submitBtn, cancel, h("span", "wb-muted", "Ctrl+Enter forks"));
    form.append(messageBox, this.resultBox, this.problem, actions);
    el.append(row, form);
    host.append(el);
  }

  // The inspector moved to event k (its raw envelope `event`); `forkable`: the log has whole model answers.
  show(k, event, forkable) {
    this.el.hidden = !forkable;
    if (k === this.k && event === this.event) return;
    this.k = k;
    this.event = event;
    this.openBtn.title = `A new run that shares this run's events up to event ${k} and goes on from there`;
    this.hint.textContent = `from event ${k}: the copy ends with the last model turn fully ended by then`;
    if (!this.form.hidden) this.fill();
  }

  open() {
    this.form.hidden = false;
    this.openBtn.hidden = true;
    this.fill();
    this.message.focus();
  }

  close() {
    this.form.hidden = true;
    this.openBtn.hidden = false;
    this.say(null);
  }

  // The tool result field, for a tool:complete only, holding what the tool gave.
  fill() {
    const d = (this.event && this.event.type === "tool:complete" && this.event.data) || null;
    this.resultBox.hidden = !d;
    this.say(null);
    if (!d) return;
    this.asText = typeof d.result === "string";
    this.original = this.asText ? d.result : JSON.stringify(d.result, null, 2);
    this.resultLabel.textContent = `Result of ${d.toolName} the model reads instead (${this.asText ? "text" : "JSON"})`;
    this.result.value = this.original;
    this.result.dataset.toolUseId = d.toolUseId;
  }

  check() {
    this.say(null);
    if (this.resultBox.hidden || this.asText || this.result.value === this.original) return true;
    try {
      JSON.parse(this.result.value);
      return true;
    } catch (err) {
      this.say(`Not valid JSON: ${err.message}. Write the result as JSON, as the tool gave it.`);
      return false;
    }
  }

  request() {
    const req = { at: this.k };
    if (this.message.value.trim()) req.message = this.message.value;
    if (!this.resultBox.hidden && this.result.value !== this.original) {
      const result = this.asText ? this.result.value : JSON.parse(this.result.value);
      req.toolResult = { toolUseId: this.result.dataset.toolUseId, result };
    }
    return req;
  }

  async submit() {
    if (this.busy || !this.check()) return;
    this.busy = true;
    this.submitBtn.disabled = true;
    this.submitBtn.textContent = "Forking…";
    let answer;
    try {
      answer = await this.fork(this.request());
    } catch (err) {
      answer = { ok: false, error: String((err && err.message) || err) };
    }
    this.busy = false;
    this.submitBtn.disabled = false;
    this.submitBtn.textContent = "Fork";
    if (!answer || !answer.ok) this.say(`The fork was refused: ${(answer && answer.error) || "no answer; try again"}`);
    else {
      this.message.value = "";
      this.close();
    }
  }

  say(text) {
    this.problem.hidden = !text;
    this.problem.textContent = text || "";
  }
}

export { ForkForm };
