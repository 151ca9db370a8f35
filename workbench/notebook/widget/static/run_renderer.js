// Agent Workbench: the run renderer. Events in, DOM out.
//
// Each event is folded into the run model (run_model.js, the front end's only fold); the
// renderer keeps only the DOM's bookkeeping: which section shows each step, what is dirty,
// what is open, what is scrolled into view. It patches the DOM once per frame. The same class
// draws the live view and the inspector's read-only view at event k.

import { initialState, apply as foldEvent, finished } from "./run_model.js";
import { h, tid, button, fmtInt, fmtMs, fmtElapsed, ClipText, schedule } from "./dom.js";
import { RunNumbers, runCost, fmtCost, phaseFigures } from "./metrics.js";
import { stepEl, updateStep, unmountStep, openParams } from "./step_view.js";
import { Search } from "./search.js";
import { copyButton } from "./copy_button.js";
import { steadyBody } from "./steady_body.js";
import { MarkdownCache, showMarkdown } from "./markdown_view.js";
import { FilesView } from "./files_view.js";
import { ControlsView } from "./controls_view.js";

const WINDOW = 100; // newest steps of a section kept in the DOM
const LIVE = new Set(["running", "paused"]); // the run goes on: the clock ticks
const SECTION_STATUS = { pending: "pending", running: "running", complete: "done", failed: "failed", cancelled: "cancelled" };

class RunRenderer {
  constructor(host, opts) {
    this.opts = opts; // {meta, readonly, standalone, onStop, control, prices, markdown, requestFile}
    this.markdown = opts.markdown || new MarkdownCache(); // the kernel's HTML of messages and the result
    this.meta = opts.meta || {}; // the run's identity from the widget, until its first event says it
    this.state = initialState();
    this.lastTs = null; // time of the newest event, for the clock
    this.sections = new Map(); // key -> section (phases by id; "before"/"after" for steps outside phases)
    this.phaseOrder = [];
    this.items = new Map(); // step id -> item (see step_view.js)
    this.dirtySections = new Set();
    this.dirtySteps = new Set();
    this.dirtyHeader = true;
    this.dirtyEnd = false;
    this.pendingFlush = false;
    this.following = true;
    this.anchor = null; // [event time, local time] for a ticking clock that ignores clock skew
    this.stopRequested = false;
    this.build(host);
    if (!opts.readonly) this.ticker = setInterval(() => this.tick(), 1000);
    this.flush();
  }

  build(host) {
    const root = (this.root = tid(h("div", "wb-run"), this.opts.readonly ? "snapshot-view" : "live-view"));
    if (this.opts.readonly) root.classList.add("wb-readonly");
    const head = (this.head = tid(h("div", "wb-header"), "header"));
    this.titleEl = tid(h("div", "wb-title"), "task");
    const meta = h("div", "wb-meta");
    this.statusEl = tid(h("span", "wb-status"), "status");
    this.modelEl = tid(h("span", "wb-chip"), "model");
    this.elapsedEl = tid(h("span", "wb-chip"), "elapsed");
    this.tokensEl = tid(h("span", "wb-chip"), "tokens");
    this.costEl = tid(h("span", "wb-chip"), "cost");
    this.countEl = tid(h("span", "wb-chip wb-muted"), "event-count");
    meta.append(this.statusEl, this.modelEl, this.elapsedEl, this.tokensEl, this.costEl, this.countEl);
    head.append(this.titleEl, meta);
    // Pause / Resume / Step and the message box, for a run that takes them (controls_view.js).
    if (this.opts.control && !this.opts.readonly && !this.opts.standalone) {
      this.controls = new ControlsView({ send: this.opts.control });
      head.append(this.controls.bar);
    }
    if (!this.opts.readonly && !this.opts.standalone) {
      this.stopBtn = button("wb-stop", "Stop", () => {
        if (this.stopRequested) return;
        this.stopRequested = true;
        this.stopBtn.disabled = true;
        this.stopBtn.textContent = "Stopping…";
        if (this.opts.onStop) this.opts.onStop();
      }, "stop");
      this.stopBtn.title = "Cancel this run";
      head.append(this.stopBtn);
    }
    this.numbers = new RunNumbers({ prices: this.opts.prices, readonly: this.opts.readonly });
    head.append(this.numbers.el); // "Now:" and the run's figures, under the chips and Stop
    if (this.controls) head.append(this.controls.barError);

    const body = (this.body = h("div", "wb-body"));
    this.beforeHost = h("div", "wb-before");
    this.goalEl = tid(h("div", "wb-goal"), "goal");
    this.goalEl.hidden = true;
    this.planEl = tid(h("div", "wb-plan"), "plan");
    this.afterHost = h("div", "wb-after");
    this.endEl = h("div", "wb-end");
    this.filesView = new FilesView({ requestFile: this.opts.requestFile });
    body.append(this.beforeHost, this.goalEl, this.planEl, this.afterHost, this.endEl, this.filesView.el);
    if (!this.opts.readonly) {
      this.followBtn = button("wb-follow", "↓ follow", () => {
        this.setFollowing(true);
        this.scrollToBottom();
      }, "follow");
      this.followBtn.hidden = true;
      body.append(this.followBtn);
      this.lastAutoTop = -1;
      body.addEventListener("scroll", () => {
        if (Math.abs(body.scrollTop - this.lastAutoTop) < 1) return; // our own scroll
        this.lastAutoTop = -1;
        this.setFollowing(this.atBottom());
      }, { passive: true });
      body.addEventListener("wheel", (e) => {
        if (e.deltaY < 0) this.setFollowing(false);
      }, { passive: true });
    }
    this.bannerEl = h("div", "wb-banner"); // how a run failed or was stopped: always in sight
    if (!this.opts.readonly) {
      this.search = new Search(this, { openParams });
      steadyBody(body);
    }
    root.append(head, ...(this.search ? [this.search.el] : []), this.bannerEl, body, ...(this.controls ? [this.controls.box] : []));
    host.append(root);
  }

  // The kernel is gone and nothing follows the run any more (kernel_link.js): `status` shows
  // instead of "running", and the clock, the spinners and Stop stop.
  detach(status) {
    this.detached = status;
    clearInterval(this.ticker);
    this.root.dataset.detached = status;
    if (!this.destroyed) this.renderHeader(); // at once, with the line, not a frame later
  }

  // The kernel that takes the controls is gone: they hide (a run followed from the server keeps Stop).
  loseControls() {
    this.controlsLost = true;
    if (!this.destroyed) this.renderHeader();
  }

  controlsOn() {
    return !!this.controls && !this.controlsLost && !this.detached && !finished(this.state);
  }

  // The run is followed from elsewhere (the server), and Stop now does `onStop`.
  live(onStop) {
    this.opts.onStop = onStop;
    if (this.stopBtn && !finished(this.state)) {
      this.stopRequested = false;
      this.stopBtn.disabled = false;
      this.stopBtn.textContent = "Stop";
    }
  }

  destroy() {
    clearInterval(this.ticker);
    this.destroyed = true;
    this.root.remove();
  }

  // --- applying events: the model folds, the renderer notes what to redraw --------------

  apply(e) {
    const changed = foldEvent(this.state, e);
    this.markdown.note(e);
    this.lastTs = e.ts;
    if (changed.plan) {
      const before = this.sections.get("before");
      if (before) this.setSection(before, "done", false);
    }
    for (const phase of changed.phases) this.showPhase(phase);
    for (const step of changed.steps) this.showStep(step);
    if (changed.retry) this.showRetry(changed.retry);
    if (changed.ended) this.showEnd();
    this.dirtyHeader = true;
  }

  showPhase(phase) {
    const sec = this.phaseSection(phase.id);
    sec.name = phase.name || phase.id;
    sec.description = phase.description;
    sec.summary = phase.summary;
    const status = SECTION_STATUS[phase.status];
    this.setSection(sec, status, status === "running" || status === "failed" || status === "cancelled");
  }

  showStep(step) {
    let item = this.items.get(step.stepId);
    if (!item) {
      const sec = step.phaseId == null ? this.loose() : this.phaseSection(step.phaseId);
      item = { kind: step.kind, step, el: null, parts: null, controls: this.controls || null };
      this.items.set(step.stepId, item);
      sec.items.push(item);
      this.dirtySections.add(sec);
    }
    item.step = step; // a whole step replaces the streamed one
    item.html = step.kind === "message" && step.status === "complete" ? this.markdown.get(step.text) : null;
    if (item.el) this.dirtySteps.add(item);
  }

  showRetry(note) {
    const id = this.state.currentPhaseId;
    const sec = id == null ? this.loose() : this.phaseSection(id);
    const text = `Model call failed (attempt ${note.attempt}: ${note.reason}); trying again in ${fmtMs(note.delayMs)}`;
    sec.items.push({ kind: "retry", step: null, text, el: null, parts: null });
    this.dirtySections.add(sec);
  }

  // The workspace and the files the run wrote (files_view.js), once it has ended.
  showFiles(note) {
    this.filesView.show(note);
  }

  showEnd() {
    const react = this.strategy() === "react";
    for (const sec of this.sections.values()) {
      if (sec.kind === "loose") this.setSection(sec, "done", sec.key === "before" && react);
    }
    this.dirtyEnd = true;
  }

  strategy() {
    return this.state.strategy || this.meta.strategy || "";
  }

  phaseSection(id) {
    let sec = this.sections.get(id);
    if (!sec) {
      sec = this.section(id, "phase", id);
      this.phaseOrder.push(sec);
    }
    return sec;
  }

  section(key, kind, name) {
    const sec = {
      key, kind, name, description: "", summary: "", status: "pending", items: [],
      el: null, autoOpen: false, expectOpen: false, userToggled: false,
      mounted: false, domFrom: 0, domTo: 0, limit: WINDOW,
    };
    this.sections.set(key, sec);
    this.dirtySections.add(sec);
    return sec;
  }

  // Steps outside any phase: before the plan ("Planning", or "Steps" for a run without one), after it ("Wrap-up").
  loose() {
    const planned = this.state.goal != null;
    const key = planned ? "after" : "before";
    let sec = this.sections.get(key);
    if (!sec) {
      const react = this.strategy() === "react" && !planned;
      sec = this.section(key, "loose", key === "after" ? "Wrap-up" : react ? "Steps" : "Planning");
      if (key === "after") sec.summary = "After the plan's phases: the model writes the final answer.";
      this.setSection(sec, finished(this.state) ? "done" : "running", true);
    }
    return sec;
  }

  setSection(sec, status, open) {
    sec.status = status;
    sec.autoOpen = open;
    this.dirtySections.add(sec);
  }

  // --- the DOM -------------------------------------------------------------------------

  schedule() {
    if (this.pendingFlush || this.destroyed) return;
    this.pendingFlush = true;
    schedule(() => this.flush());
  }

  flush() {
    this.pendingFlush = false;
    if (this.destroyed) return;
    if (this.lastTs) this.anchor = [Date.parse(this.lastTs), performance.now()];
    if (this.dirtyHeader) this.renderHeader();
    for (const sec of this.dirtySections) this.renderSection(sec);
    this.dirtySections.clear();
    for (const item of this.dirtySteps) if (item.el) updateStep(item);
    this.dirtySteps.clear();
    if (this.dirtyEnd) this.renderEnd();
    // Follow only a run seen live: a finished run opens at its top.
    if (LIVE.has(this.state.status)) this.sawLive = true;
    // A run seen live keeps its height: the cells below must not jump as phases close.
    if (this.sawLive && !this.opts.readonly) this.root.classList.add("wb-steady");
    if (this.search) this.search.refresh(false);
    if (this.following && this.sawLive) this.scrollToBottom();
  }

  elapsed() {
    const st = this.state;
    if (st.duration != null) return fmtElapsed(st.duration, true);
    if (st.startedAt == null) return "";
    const startedAt = Date.parse(st.startedAt);
    const ended = finished(st);
    if (ended || this.opts.readonly || !this.anchor || this.detached) {
      const until = st.endedAt ? Date.parse(st.endedAt) : Date.parse(this.lastTs);
      return fmtElapsed(until - startedAt, ended || this.opts.readonly);
    }
    return fmtElapsed(this.anchor[0] - startedAt + performance.now() - this.anchor[1], false);
  }

  tick() {
    if (LIVE.has(this.state.status)) {
      this.elapsedEl.textContent = `elapsed ${this.elapsed()}`;
      this.numbers.render(this.state, this.state.model || this.meta.model, this.elapsed());
    }
  }

  renderHeader() {
    this.dirtyHeader = false;
    const st = this.state;
    const task = st.task || this.meta.task || "";
    this.titleEl.textContent = task || "(no task yet)";
    this.titleEl.title = task;
    const status = this.detached && !finished(st) ? this.detached : st.status === "pending" ? "starting" : st.status;
    this.statusEl.textContent = status;
    this.statusEl.dataset.status = status;
    this.root.dataset.status = status;
    this.modelEl.textContent = [st.model || this.meta.model, this.strategy()].filter(Boolean).join(" · ");
    const elapsed = this.elapsed();
    this.elapsedEl.textContent = elapsed ? `elapsed ${elapsed}` : "";
    this.elapsedEl.hidden = !elapsed;
    const t = st.tokens;
    const used = !!(t.input || t.output || t.cacheRead || t.cacheWrite); // no chip before the first model call
    this.tokensEl.hidden = !used;
    if (used) {
      let text = `${fmtInt(t.input)} in · ${fmtInt(t.output)} out`;
      if (t.cacheRead) text += ` · ${fmtInt(t.cacheRead)} cached`;
      this.tokensEl.textContent = text + " tokens";
    }
    const cost = runCost(st, this.opts.prices, st.model || this.meta.model); // a live run's is an estimate
    this.costEl.hidden = cost == null;
    if (cost != null) this.costEl.textContent = `${cost.estimated ? "≈ " : ""}${fmtCost(cost.usd)}`;
    this.numbers.render(st, st.model || this.meta.model, elapsed);
    this.countEl.textContent = `${fmtInt(st.lastEventId)} events`;
    if (this.controls) {
      const on = this.controlsOn();
      if (on !== this.controls.on) { // waiting calls show or drop their Approve / Edit / Deny
        for (const id of st.waiting) if (this.items.has(id)) this.dirtySteps.add(this.items.get(id));
        this.schedule();
      }
      this.controls.render(st, on);
    }
    if (this.stopBtn) {
      const live = !finished(st);
      this.stopBtn.hidden = !live;
      if (!live || this.detached) this.stopBtn.disabled = true;
    }
    if (st.goal != null) {
      this.goalEl.hidden = false;
      const phases = [...st.phases.values()];
      const done = phases.filter((p) => p.status === "complete").length;
      this.goalEl.replaceChildren(
        h("span", "wb-label", "Goal"),
        h("span", "wb-goal-text", st.goal),
        tid(h("span", "wb-progress", `${done} of ${phases.length} phases done`), "plan-progress"),
      );
    }
    if (this.followBtn) this.followBtn.hidden = this.following || finished(st);
  }

  renderSection(sec) {
    if (!sec.el) this.createSection(sec);
    const el = sec.el;
    el.dataset.state = sec.status;
    sec.nameEl.textContent = sec.name;
    const n = sec.items.length;
    sec.countEl.textContent = n ? `${n} step${n === 1 ? "" : "s"}` : "";
    if (sec.figuresEl) sec.figuresEl.textContent = phaseFigures(this.state.phases.get(sec.key) || {});
    sec.summaryEl.textContent = sec.summary;
    sec.summaryEl.hidden = !sec.summary;
    if (sec.descEl) {
      sec.descEl.textContent = sec.description;
      sec.descEl.hidden = !sec.description;
    }
    if (!sec.userToggled && !sec.searchOpen && el.open !== sec.autoOpen) {
      // Never collapse something above the reader while they read; it would jump.
      if (sec.autoOpen || this.following || this.opts.readonly) {
        sec.expectOpen = sec.autoOpen;
        el.open = sec.autoOpen;
      }
    }
    if (el.open) this.renderSteps(sec);
  }

  createSection(sec) {
    const el = (sec.el = h("details", `wb-sec wb-${sec.kind}`));
    if (sec.kind === "phase") {
      tid(el, "phase");
      el.dataset.phaseId = sec.key;
    } else {
      tid(el, "section");
      el.dataset.section = sec.key;
    }
    const summary = h("summary", "wb-sec-head");
    const icon = h("span", "wb-icon");
    icon.setAttribute("aria-hidden", "true");
    sec.nameEl = tid(h("span", "wb-sec-name"), sec.kind === "phase" ? "phase-name" : "section-name");
    sec.countEl = h("span", "wb-sec-count");
    if (sec.kind === "phase") sec.figuresEl = tid(h("span", "wb-sec-figures"), "phase-figures"); // time and tokens
    sec.summaryEl = tid(h("div", "wb-sec-summary"), "phase-summary");
    const line = h("span", "wb-sec-line");
    line.append(sec.nameEl, sec.countEl);
    if (sec.figuresEl) line.append(sec.figuresEl);
    const text = h("span", "wb-sec-text");
    text.append(line, sec.summaryEl);
    summary.append(icon, text);
    const body = h("div", "wb-sec-body");
    if (sec.kind === "phase") {
      sec.descEl = h("div", "wb-sec-desc");
      body.append(sec.descEl);
    }
    sec.moreBtn = button("wb-link wb-more", "", () => this.showEarlier(sec), "show-earlier");
    sec.moreBtn.hidden = true;
    sec.list = h("div", "wb-steps");
    body.append(sec.moreBtn, sec.list);
    el.append(summary, body);
    el.addEventListener("toggle", () => {
      if (el.open !== sec.expectOpen) {
        sec.userToggled = true;
        sec.expectOpen = el.open;
        if (!this.opts.readonly) this.setFollowing(this.atBottom());
      }
      if (el.open) this.renderSteps(sec);
    });
    if (sec.kind === "phase") {
      const next = this.phaseOrder.slice(this.phaseOrder.indexOf(sec) + 1).find((s) => s.el);
      this.planEl.insertBefore(el, next ? next.el : null);
    } else {
      (sec.key === "after" ? this.afterHost : this.beforeHost).append(el);
    }
  }

  renderSteps(sec) {
    const items = sec.items;
    const n = items.length;
    if (!sec.mounted) {
      sec.mounted = true;
      sec.domFrom = sec.domTo = Math.max(0, n - sec.limit);
    }
    if (sec.domTo < n) {
      let start = sec.domTo;
      if (n - sec.domFrom > sec.limit && (this.following || this.opts.readonly)) {
        const from = n - sec.limit;
        for (let i = sec.domFrom; i < Math.min(from, sec.domTo); i++) unmountStep(items[i]);
        start = Math.max(start, from);
        sec.domFrom = from;
      }
      const frag = document.createDocumentFragment();
      for (let i = start; i < n; i++) frag.append(stepEl(items[i]));
      sec.list.append(frag);
      sec.domTo = n;
    }
    sec.moreBtn.hidden = sec.domFrom === 0;
    if (sec.domFrom) sec.moreBtn.textContent = `Show ${fmtInt(sec.domFrom)} earlier step${sec.domFrom === 1 ? "" : "s"}`;
  }

  showEarlier(sec) {
    const count = Math.min(WINDOW, sec.domFrom);
    const from = sec.domFrom - count;
    const frag = document.createDocumentFragment();
    for (let i = from; i < sec.domFrom; i++) frag.append(stepEl(sec.items[i]));
    sec.list.insertBefore(frag, sec.list.firstChild);
    sec.domFrom = from;
    sec.limit += count;
    this.setFollowing(false);
    this.renderSteps(sec);
  }

  renderEnd() {
    this.dirtyEnd = false;
    const st = this.state;
    const banner = [];
    if (st.error) {
      const box = tid(h("div", "wb-error"), "error");
      box.append(tid(h("div", "wb-error-type", st.error.type || "error"), "error-type"),
        tid(h("div", "wb-error-message", st.error.message || ""), "error-message"));
      if (st.errorStack) {
        const more = h("details", "wb-stack");
        more.append(h("summary", null, "Traceback"), h("pre", "wb-code", st.errorStack));
        box.append(more);
      }
      banner.push(box);
    }
    if (st.status === "cancelled") {
      banner.push(tid(h("div", "wb-cancelled", `Cancelled${st.cancelReason ? `: ${st.cancelReason}` : ""}`), "cancelled"));
    }
    this.bannerEl.replaceChildren(...banner);
    const nodes = [];
    if (st.result != null) {
      const box = tid(h("div", "wb-final"), "result");
      const text = new ClipText("wb-final-text", "result-text", false);
      showMarkdown(text, String(st.result), this.markdown.get(st.result));
      const label = h("div", "wb-final-head");
      label.append(h("div", "wb-label", "Result"), copyButton(() => String(st.result), "the final answer"));
      box.append(label, text.el);
      nodes.push(box);
    }
    this.endEl.replaceChildren(...nodes);
  }

  // --- following the newest activity ---------------------------------------------------

  atBottom() {
    const b = this.body;
    return b.scrollHeight - b.scrollTop - b.clientHeight < 32;
  }

  scrollToBottom() {
    const b = this.body;
    const top = b.scrollHeight - b.clientHeight;
    if (top > b.scrollTop + 1) {
      b.scrollTop = top;
      this.lastAutoTop = b.scrollTop;
    }
  }

  setFollowing(on) {
    if (this.opts.readonly || this.following === on) return;
    this.following = on;
    if (this.followBtn) this.followBtn.hidden = on || finished(this.state);
    if (on) for (const sec of this.sections.values()) if (sec.el && sec.el.open) this.dirtySections.add(sec);
    if (on) this.schedule();
  }
}

export { RunRenderer };
