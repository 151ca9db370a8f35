// Agent Workbench: the run view. An anywidget ES module; plain JS, no build step, no imports.
//
// The kernel sends the run's events ({kind: "events"}, deltas of a step merged); this module
// applies each one to a small in-memory model of the run and patches the DOM once per frame.
// The same RunRenderer draws the live view and the inspector's read-only view at event k.

const WINDOW = 100; // newest steps of a section kept in the DOM
const CLIP = 2000; // characters of a text shown before "show more"
const PAGE = 5000; // raw envelopes asked for in one request
const LIST_SPAN = 40; // events listed on each side of the inspector's position
const TYPES = [
  "execution:started", "plan:created", "phase:start", "thinking:delta", "thinking",
  "text:delta", "message", "tool:start", "tool:complete", "usage", "model:retry",
  "phase:complete", "execution:complete", "execution:error", "execution:cancelled",
];
const ENDED = new Set(["complete", "error", "cancelled", "interrupted"]);

// --- small helpers -----------------------------------------------------------------------

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text != null) el.textContent = text;
  return el;
}

function tid(el, id) {
  el.dataset.testid = id;
  return el;
}

function button(cls, text, onClick, testid) {
  const b = h("button", cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  if (testid) tid(b, testid);
  return b;
}

const fmtInt = (n) => Number(n || 0).toLocaleString("en-US");

function fmtMs(ms) {
  if (ms == null || !isFinite(ms)) return "";
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return fmtElapsed(ms, true);
}

function fmtElapsed(ms, precise) {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return precise ? `${s.toFixed(1)} s` : `${Math.floor(s)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.floor(s % 60).toString().padStart(2, "0");
  if (m < 60) return `${m}:${rest} min`;
  return `${Math.floor(m / 60)} h ${(m % 60).toString().padStart(2, "0")} min`;
}

function asText(value) {
  if (value == null) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch (e) {
    return String(value);
  }
}

function oneLine(text, max) {
  const s = String(text == null ? "" : text).replace(/\s+/g, " ").trim();
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

function keyArgument(params) {
  if (!params || typeof params !== "object") return "";
  for (const v of Object.values(params)) {
    if (typeof v === "string" && v.length <= 80 && !v.includes("\n")) return v;
  }
  return "";
}

// A text block clipped to CLIP characters, with "show more" / "show less".
class ClipText {
  constructor(cls, testid, pre) {
    this.el = h("div", "wb-clip");
    this.body = tid(h(pre ? "pre" : "div", cls), testid);
    this.toggle = button("wb-link wb-clip-toggle", "", () => {
      this.expanded = !this.expanded;
      this.set(this.text);
    });
    this.toggle.hidden = true;
    this.el.append(this.body, this.toggle);
    this.expanded = false;
    this.text = "";
    this.visible = "";
  }
  set(text) {
    this.text = text;
    const long = text.length > CLIP;
    const visible = long && !this.expanded ? text.slice(0, CLIP) : text;
    if (visible !== this.visible) {
      this.body.textContent = visible;
      this.visible = visible;
    }
    this.toggle.hidden = !long;
    if (long) {
      this.toggle.textContent = this.expanded
        ? "Show less"
        : `Show more (${fmtInt(text.length - CLIP)} more characters)`;
    }
  }
}

function schedule(fn) {
  // requestAnimationFrame, with a timer in case frames are paused (a hidden tab).
  let done = false;
  const run = () => {
    if (!done) {
      done = true;
      fn();
    }
  };
  requestAnimationFrame(run);
  setTimeout(run, 250);
}

// --- the renderer: events in, DOM out ----------------------------------------------------

class RunRenderer {
  constructor(host, opts) {
    this.opts = opts; // {meta, readonly, standalone, onStop}
    const meta = opts.meta || {};
    this.st = {
      task: meta.task || "", model: meta.model || "", strategy: meta.strategy || "",
      status: "pending", startedAt: null, duration: null, endedAt: null,
      tokens: null, cost: null, goal: null, result: null, error: null, stack: null,
      cancelReason: null, lastId: 0, lastTs: null, planned: false, currentPhase: null,
    };
    this.sections = new Map(); // key -> section (phases by id; "before"/"after" for steps outside phases)
    this.phaseOrder = [];
    this.steps = new Map();
    this.streaming = new Set();
    this.runningTools = new Set();
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

    const body = (this.body = h("div", "wb-body"));
    this.beforeHost = h("div", "wb-before");
    this.goalEl = tid(h("div", "wb-goal"), "goal");
    this.goalEl.hidden = true;
    this.planEl = tid(h("div", "wb-plan"), "plan");
    this.afterHost = h("div", "wb-after");
    this.endEl = h("div", "wb-end");
    body.append(this.beforeHost, this.goalEl, this.planEl, this.afterHost, this.endEl);
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
    root.append(head, this.bannerEl, body);
    host.append(root);
  }

  destroy() {
    clearInterval(this.ticker);
    this.destroyed = true;
    this.root.remove();
  }

  // --- applying events (data only; the DOM follows in flush) ---------------------------

  apply(e) {
    const st = this.st;
    const d = e.data || {};
    st.lastId = e.id;
    st.lastTs = e.ts;
    switch (e.type) {
      case "execution:started":
        st.task = d.task || st.task;
        st.model = d.model || st.model;
        st.strategy = d.strategy || st.strategy;
        st.startedAt = Date.parse(d.startedAt || e.ts);
        st.status = "running";
        break;
      case "plan:created": {
        const plan = d.plan || {};
        st.goal = plan.goal || "";
        st.planned = true;
        (plan.phases || []).forEach((p, i) => this.phase(p.id, p.name, i, p.description));
        const before = this.sections.get("before");
        if (before) this.setSection(before, "done", false);
        break;
      }
      case "phase:start": {
        const sec = this.phase(d.phaseId, d.phaseName, d.phaseIndex);
        this.setSection(sec, "running", true);
        st.currentPhase = d.phaseId;
        break;
      }
      case "phase:complete": {
        const sec = this.phase(d.phaseId, d.phaseName);
        sec.summary = d.summary || "";
        this.setSection(sec, "done", false);
        if (st.currentPhase === d.phaseId) st.currentPhase = null;
        break;
      }
      case "thinking:delta":
      case "text:delta": {
        const step = this.step(d.stepId, e.type === "text:delta" ? "message" : "thinking", d.phaseId);
        step.text += d.delta || "";
        this.touch(step);
        break;
      }
      case "thinking": {
        const step = this.step(d.stepId, "thinking", d.phaseId);
        step.text = d.thought || "";
        step.iteration = d.iteration;
        step.redacted = !!d.redacted;
        this.finishStep(step, "complete");
        break;
      }
      case "message": {
        const step = this.step(d.stepId, "message", d.phaseId);
        step.text = d.text || "";
        this.finishStep(step, "complete");
        break;
      }
      case "tool:start": {
        const step = this.step(d.toolUseId, "tool", d.phaseId);
        step.toolName = d.toolName;
        step.params = d.params;
        step.status = "running";
        this.runningTools.add(step);
        this.touch(step);
        break;
      }
      case "tool:complete": {
        const step = this.step(d.toolUseId, "tool", null);
        step.toolName = step.toolName || d.toolName;
        step.result = d.result;
        step.duration = d.duration;
        step.isError = !!d.isError;
        step.status = d.isError ? "error" : "complete";
        this.runningTools.delete(step);
        this.touch(step);
        break;
      }
      case "usage":
        st.tokens = d;
        this.dirtyHeader = true;
        break;
      case "model:retry": {
        this.interruptStreaming();
        const note = this.step(`retry:${e.id}`, "retry", st.currentPhase);
        note.text = `Model call failed (attempt ${d.attempt}: ${d.reason}); trying again in ${fmtMs(d.delayMs)}`;
        note.status = "complete";
        break;
      }
      case "execution:complete":
        st.result = d.result == null ? "" : String(d.result);
        st.duration = d.duration;
        if (d.tokensUsed) st.tokens = d.tokensUsed;
        if (d.costUsd != null) st.cost = d.costUsd;
        this.end(e, "complete");
        break;
      case "execution:error": {
        const err = d.error || {};
        st.error = { type: err.type || "error", message: err.message || "" };
        st.stack = d.stack || null;
        this.end(e, err.type === "interrupted" ? "interrupted" : "error");
        break;
      }
      case "execution:cancelled":
        st.cancelReason = d.reason || "";
        st.duration = d.duration;
        this.end(e, "cancelled");
        break;
      default:
        break; // unknown types are ignored (forward compatibility)
    }
    this.dirtyHeader = true;
  }

  phase(id, name, index, description) {
    let sec = this.sections.get(id);
    if (!sec) {
      sec = this.section(id, "phase", name || id);
      sec.index = index;
      this.phaseOrder.push(sec);
    }
    if (name) sec.name = name;
    if (description != null) sec.description = description;
    this.dirtySections.add(sec);
    return sec;
  }

  section(key, kind, name) {
    const sec = {
      key, kind, name, description: "", summary: "", status: "pending", steps: [],
      el: null, autoOpen: false, expectOpen: false, userToggled: false,
      mounted: false, domFrom: 0, domTo: 0, limit: WINDOW,
    };
    this.sections.set(key, sec);
    this.dirtySections.add(sec);
    return sec;
  }

  loose() {
    const key = this.st.planned ? "after" : "before";
    let sec = this.sections.get(key);
    if (!sec) {
      const react = this.st.strategy === "react" && !this.st.planned;
      sec = this.section(key, "loose", key === "after" ? "Wrap-up" : react ? "Steps" : "Planning");
      this.setSection(sec, ENDED.has(this.st.status) ? "done" : "running", true);
    }
    return sec;
  }

  setSection(sec, status, open) {
    sec.status = status;
    sec.autoOpen = open;
    this.dirtySections.add(sec);
  }

  step(id, kind, phaseId) {
    let step = this.steps.get(id);
    if (step) return step;
    const sec = phaseId == null ? this.loose() : this.sections.get(phaseId) || this.phase(phaseId, phaseId);
    step = { id, kind, sec, text: "", status: kind === "tool" ? "running" : "streaming", el: null };
    if (kind === "thinking" || kind === "message") this.streaming.add(step);
    this.steps.set(id, step);
    sec.steps.push(step);
    this.dirtySections.add(sec);
    return step;
  }

  touch(step) {
    if (step.el) this.dirtySteps.add(step);
  }

  finishStep(step, status) {
    step.status = status;
    this.streaming.delete(step);
    this.touch(step);
  }

  interruptStreaming() {
    for (const step of this.streaming) {
      step.status = "interrupted";
      this.touch(step);
    }
    this.streaming.clear();
  }

  end(e, status) {
    const st = this.st;
    st.status = status;
    st.endedAt = Date.parse(e.ts);
    st.currentPhase = null;
    this.interruptStreaming();
    for (const step of this.runningTools) {
      step.status = "interrupted";
      this.touch(step);
    }
    this.runningTools.clear();
    for (const sec of this.sections.values()) {
      if (sec.kind === "loose") this.setSection(sec, "done", sec.key === "before" && st.strategy === "react");
      else if (sec.status === "running") {
        const failed = status !== "complete";
        this.setSection(sec, failed ? "failed" : "done", failed);
      }
    }
    this.dirtyEnd = true;
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
    if (this.st.lastTs) this.anchor = [Date.parse(this.st.lastTs), performance.now()];
    if (this.dirtyHeader) this.renderHeader();
    for (const sec of this.dirtySections) this.renderSection(sec);
    this.dirtySections.clear();
    for (const step of this.dirtySteps) if (step.el) this.updateStep(step);
    this.dirtySteps.clear();
    if (this.dirtyEnd) this.renderEnd();
    // Follow only a run seen live: a finished run opens at its top.
    if (this.st.status === "running") this.sawLive = true;
    if (this.following && this.sawLive) this.scrollToBottom();
  }

  elapsed() {
    const st = this.st;
    if (st.duration != null) return fmtElapsed(st.duration, true);
    if (st.startedAt == null) return "";
    if (ENDED.has(st.status) || this.opts.readonly || !this.anchor) {
      const until = st.endedAt || Date.parse(st.lastTs);
      return fmtElapsed(until - st.startedAt, ENDED.has(st.status) || this.opts.readonly);
    }
    return fmtElapsed(this.anchor[0] - st.startedAt + performance.now() - this.anchor[1], false);
  }

  tick() {
    if (this.st.status === "running") this.elapsedEl.textContent = `elapsed ${this.elapsed()}`;
  }

  renderHeader() {
    this.dirtyHeader = false;
    const st = this.st;
    this.titleEl.textContent = st.task || "(no task yet)";
    this.titleEl.title = st.task;
    const status = st.status === "pending" ? "starting" : st.status;
    this.statusEl.textContent = status;
    this.statusEl.dataset.status = status;
    this.root.dataset.status = status;
    this.modelEl.textContent = [st.model, st.strategy].filter(Boolean).join(" · ");
    const elapsed = this.elapsed();
    this.elapsedEl.textContent = elapsed ? `elapsed ${elapsed}` : "";
    this.elapsedEl.hidden = !elapsed;
    const t = st.tokens;
    this.tokensEl.hidden = !t;
    if (t) {
      let text = `${fmtInt(t.input)} in · ${fmtInt(t.output)} out`;
      if (t.cacheRead) text += ` · ${fmtInt(t.cacheRead)} cached`;
      this.tokensEl.textContent = text + " tokens";
    }
    this.costEl.hidden = st.cost == null;
    if (st.cost != null) this.costEl.textContent = `$${st.cost < 0.1 ? st.cost.toFixed(4) : st.cost.toFixed(2)}`;
    this.countEl.textContent = `${fmtInt(st.lastId)} events`;
    if (this.stopBtn) {
      const live = !ENDED.has(st.status);
      this.stopBtn.hidden = !live;
      if (!live) this.stopBtn.disabled = true;
    }
    if (st.goal != null) {
      this.goalEl.hidden = false;
      const done = this.phaseOrder.filter((s) => s.status === "done").length;
      this.goalEl.replaceChildren(
        h("span", "wb-label", "Goal"),
        h("span", "wb-goal-text", st.goal),
        tid(h("span", "wb-progress", `${done} of ${this.phaseOrder.length} phases done`), "plan-progress"),
      );
    }
    if (this.followBtn) this.followBtn.hidden = this.following || ENDED.has(st.status);
  }

  renderSection(sec) {
    if (!sec.el) this.createSection(sec);
    const el = sec.el;
    el.dataset.state = sec.status;
    sec.nameEl.textContent = sec.name;
    const n = sec.steps.length;
    sec.countEl.textContent = n ? `${n} step${n === 1 ? "" : "s"}` : "";
    sec.summaryEl.textContent = sec.summary;
    sec.summaryEl.hidden = !sec.summary;
    if (sec.descEl) {
      sec.descEl.textContent = sec.description;
      sec.descEl.hidden = !sec.description;
    }
    if (!sec.userToggled && el.open !== sec.autoOpen) {
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
    sec.summaryEl = tid(h("div", "wb-sec-summary"), "phase-summary");
    const line = h("span", "wb-sec-line");
    line.append(sec.nameEl, sec.countEl);
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
    const steps = sec.steps;
    const n = steps.length;
    if (!sec.mounted) {
      sec.mounted = true;
      sec.domFrom = sec.domTo = Math.max(0, n - sec.limit);
    }
    if (sec.domTo < n) {
      let start = sec.domTo;
      if (n - sec.domFrom > sec.limit && (this.following || this.opts.readonly)) {
        const from = n - sec.limit;
        for (let i = sec.domFrom; i < Math.min(from, sec.domTo); i++) this.unmount(steps[i]);
        start = Math.max(start, from);
        sec.domFrom = from;
      }
      const frag = document.createDocumentFragment();
      for (let i = start; i < n; i++) frag.append(this.stepEl(steps[i]));
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
    for (let i = from; i < sec.domFrom; i++) frag.append(this.stepEl(sec.steps[i]));
    sec.list.insertBefore(frag, sec.list.firstChild);
    sec.domFrom = from;
    sec.limit += count;
    this.setFollowing(false);
    this.renderSteps(sec);
  }

  unmount(step) {
    if (step.el) step.el.remove();
    step.el = step.parts = null;
  }

  stepEl(step) {
    const el = tid(h("div", `wb-step wb-${step.kind}`), "step");
    el.dataset.kind = step.kind;
    const parts = (step.parts = {});
    step.el = el;
    if (step.kind === "retry") {
      el.classList.add("wb-note");
      el.textContent = `↻ ${step.text}`;
      return el;
    }
    const head = h("div", "wb-step-head");
    parts.badge = h("span", "wb-badge");
    parts.detail = h("span", "wb-step-detail");
    parts.state = tid(h("span", "wb-step-state"), "step-state");
    head.append(parts.badge, parts.detail, parts.state);
    el.append(head);
    if (step.kind === "tool") {
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
          parts.params.set(asText(step.params || {}));
        }
      });
      parts.result = new ClipText("wb-code wb-result", "tool-result", true);
      el.append(params, parts.result.el);
    } else {
      parts.text = new ClipText("wb-text", step.kind === "thinking" ? "thinking-text" : "message-text", false);
      el.append(parts.text.el);
    }
    this.updateStep(step);
    return el;
  }

  updateStep(step) {
    const { el, parts } = step;
    el.dataset.status = step.status;
    const open = step.status === "streaming" || step.status === "running";
    if (step.kind === "tool") {
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
    } else if (step.kind === "thinking") {
      parts.badge.textContent = step.redacted ? "Thinking (redacted)" : "Thinking";
      parts.detail.textContent = step.iteration ? `iteration ${step.iteration}` : "";
      parts.state.textContent = open ? "thinking…" : step.status === "interrupted" ? "interrupted" : "";
      el.classList.toggle("wb-redacted", !!step.redacted);
      parts.text.set(step.redacted ? "The model's reasoning for this step is encrypted and not shown." : step.text);
    } else if (step.kind === "message") {
      parts.badge.textContent = "Assistant";
      parts.state.textContent = open ? "writing…" : step.status === "interrupted" ? "interrupted" : "";
      parts.text.set(step.text);
    }
    el.classList.toggle("wb-live", open);
  }

  renderEnd() {
    this.dirtyEnd = false;
    const st = this.st;
    const banner = [];
    if (st.error) {
      const box = tid(h("div", "wb-error"), "error");
      box.append(tid(h("div", "wb-error-type", st.error.type), "error-type"), tid(h("div", "wb-error-message", st.error.message), "error-message"));
      if (st.stack) {
        const more = h("details", "wb-stack");
        more.append(h("summary", null, "Traceback"), h("pre", "wb-code", st.stack));
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
      text.set(st.result);
      box.append(h("div", "wb-label", "Result"), text.el);
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
    if (this.followBtn) this.followBtn.hidden = on || ENDED.has(this.st.status);
    if (on) for (const sec of this.sections.values()) if (sec.el && sec.el.open) this.dirtySections.add(sec);
    if (on) this.schedule();
  }
}

// --- the inspector: the run as it stood after event k --------------------------------------

function summarize(e) {
  const d = e.data || {};
  switch (e.type) {
    case "execution:started": return d.task;
    case "plan:created": return `${(d.plan && d.plan.phases || []).length} phases · ${d.plan && d.plan.goal}`;
    case "phase:start": case "phase:complete": return d.phaseName;
    case "thinking": return d.redacted ? "(redacted)" : d.thought;
    case "thinking:delta": case "text:delta": return JSON.stringify(d.delta);
    case "message": return d.text;
    case "tool:start": return `${d.toolName} ${JSON.stringify(d.params)}`;
    case "tool:complete": return `${d.toolName}${d.isError ? " (error)" : ""} → ${asText(d.result)}`;
    case "usage": return `${fmtInt(d.input)} in · ${fmtInt(d.output)} out`;
    case "model:retry": return `attempt ${d.attempt}: ${d.reason}`;
    case "execution:complete": return d.result;
    case "execution:error": return `${d.error && d.error.type}: ${d.error && d.error.message}`;
    case "execution:cancelled": return d.reason;
    default: return "";
  }
}

class Inspector {
  constructor(host, opts) {
    this.opts = opts; // {meta, requestEnvelopes(from, to) -> Promise<envelopes>}
    this.raw = [null]; // raw[id]: the exact envelope of event id
    this.loaded = 0;
    this.n = 0;
    this.k = 0;
    this.hidden = new Set();
    this.counts = new Map();
    this.preview = null;
    this.previewAt = 0;
    this.loading = null;
    const el = (this.el = tid(h("details", "wb-inspector"), "inspector"));
    el.append(tid(h("summary", "wb-inspector-head", "Inspector"), "inspector-toggle"));
    const box = h("div", "wb-inspector-body");
    const controls = h("div", "wb-insp-controls");
    this.prevBtn = button("wb-btn", "◀", () => this.stepBy(-1), "inspector-prev");
    this.prevBtn.title = "Previous event";
    this.nextBtn = button("wb-btn", "▶", () => this.stepBy(1), "inspector-next");
    this.nextBtn.title = "Next event";
    const slider = (this.slider = tid(h("input", "wb-slider"), "inspector-slider"));
    slider.type = "range";
    slider.min = "1";
    slider.max = "1";
    slider.value = "1";
    slider.setAttribute("aria-label", "Event");
    slider.addEventListener("input", () => this.go(Number(slider.value)));
    this.posEl = tid(h("span", "wb-insp-pos"), "inspector-position");
    controls.append(this.prevBtn, slider, this.nextBtn, this.posEl);
    const grid = h("div", "wb-insp-grid");
    this.viewHost = tid(h("div", "wb-insp-view"), "inspector-view");
    const side = h("div", "wb-insp-side");
    this.filterEl = tid(h("div", "wb-filter"), "type-filter");
    this.listEl = tid(h("div", "wb-evlist"), "event-list");
    this.listEl.setAttribute("role", "listbox");
    this.listEl.addEventListener("click", (ev) => {
      const row = ev.target.closest(".wb-ev");
      if (row) this.go(Number(row.dataset.id));
    });
    this.envelopeEl = new ClipText("wb-code wb-envelope", "envelope", true);
    side.append(this.filterEl, this.listEl, h("div", "wb-label", "Envelope"), this.envelopeEl.el);
    grid.append(this.viewHost, side);
    box.append(controls, grid);
    el.append(box);
    el.addEventListener("toggle", () => {
      if (el.open && !this.k) this.go(this.n);
    });
    host.append(el);
    this.renderFilter();
  }

  destroy() {
    if (this.preview) this.preview.destroy();
    this.destroyed = true;
  }

  setN(n) {
    if (n <= this.n) return;
    this.n = n;
    this.slider.max = String(n);
    this.renderPosition();
    if (this.el.open && !this.k) this.go(n);
  }

  renderPosition() {
    this.posEl.textContent = this.k ? `event ${fmtInt(this.k)} of ${fmtInt(this.n)}` : `${fmtInt(this.n)} events`;
    this.prevBtn.disabled = this.k <= 1;
    this.nextBtn.disabled = this.k >= this.n;
  }

  // Raw envelopes 1..upTo, fetched in pages and kept.
  async ensure(upTo) {
    while (this.loaded < upTo && !this.destroyed) {
      if (!this.loading) {
        const from = this.loaded + 1;
        const to = Math.min(upTo, from + PAGE - 1);
        this.loading = this.opts.requestEnvelopes(from, to).then((events) => {
          this.loading = null;
          for (const e of events) {
            if (e.id !== this.loaded + 1) continue;
            this.raw[e.id] = e;
            this.loaded = e.id;
            this.counts.set(e.type, (this.counts.get(e.type) || 0) + 1);
          }
          this.renderFilter();
          if (!events.length) throw new Error("no envelopes");
        });
      }
      try {
        await this.loading;
      } catch (err) {
        return false;
      }
    }
    return this.loaded >= upTo;
  }

  go(k) {
    k = Math.max(1, Math.min(this.n, Math.round(k) || 1));
    if (!this.n) return;
    this.k = k;
    this.slider.value = String(k);
    this.renderPosition();
    if (this.pendingGo) return; // one redraw per frame while the slider is dragged
    this.pendingGo = true;
    schedule(async () => {
      this.pendingGo = false;
      const target = this.k;
      if (!(await this.ensure(Math.min(this.n, target + LIST_SPAN)))) {
        if (!(await this.ensure(target))) return;
      }
      if (target === this.k) this.draw(target);
    });
  }

  stepBy(dir) {
    let k = this.k + dir;
    while (k >= 1 && k <= this.loaded && this.hidden.has(this.raw[k].type)) k += dir;
    if (k >= 1 && k <= this.n) this.go(k);
  }

  draw(k) {
    if (!this.preview || k < this.previewAt) {
      if (this.preview) this.preview.destroy();
      this.preview = new RunRenderer(this.viewHost, { meta: this.opts.meta, readonly: true });
      this.previewAt = 0;
    }
    for (let i = this.previewAt + 1; i <= k; i++) this.preview.apply(this.raw[i]);
    this.previewAt = k;
    this.preview.flush();
    this.envelopeEl.set(JSON.stringify(this.raw[k], null, 2));
    this.envelopeEl.body.dataset.id = String(k);
    this.renderList(k);
  }

  renderList(k) {
    const shown = (i) => !this.hidden.has(this.raw[i].type);
    const before = [];
    for (let i = k - 1; i >= 1 && before.length < LIST_SPAN; i--) if (shown(i)) before.push(i);
    const after = [];
    for (let i = k + 1; i <= this.loaded && after.length < LIST_SPAN; i++) if (shown(i)) after.push(i);
    const ids = before.reverse().concat(shown(k) ? [k] : [], after);
    const frag = document.createDocumentFragment();
    let selected = null;
    for (const i of ids) {
      const e = this.raw[i];
      const row = tid(h("div", "wb-ev"), "event-row");
      row.dataset.id = String(i);
      row.dataset.type = e.type;
      row.setAttribute("role", "option");
      row.append(h("span", "wb-ev-id", String(i)), h("span", "wb-ev-type", e.type), h("span", "wb-ev-sum", oneLine(summarize(e), 140)));
      if (i === k) {
        row.classList.add("wb-sel");
        row.setAttribute("aria-selected", "true");
        selected = row;
      }
      frag.append(row);
    }
    this.listEl.replaceChildren(frag);
    if (!ids.length) this.listEl.append(h("div", "wb-muted wb-ev-empty", "No events of the selected types near here."));
    if (selected) this.listEl.scrollTop = selected.offsetTop - this.listEl.clientHeight / 2;
  }

  renderFilter() {
    const types = TYPES.concat([...this.counts.keys()].filter((t) => !TYPES.includes(t)));
    if (!this.checks) {
      this.checks = new Map();
      const all = button("wb-link", "all", () => this.setHidden([]));
      const none = button("wb-link", "none", () => this.setHidden(types));
      const noDeltas = button("wb-link", "no deltas", () => this.setHidden(["thinking:delta", "text:delta"]));
      const tools = h("span", "wb-filter-tools");
      tools.append(h("span", "wb-label", "Types"), all, none, noDeltas);
      this.filterEl.append(tools);
    }
    for (const type of types) {
      let check = this.checks.get(type);
      if (!check) {
        const label = h("label", "wb-check");
        const input = h("input");
        input.type = "checkbox";
        input.checked = !this.hidden.has(type);
        input.dataset.type = type;
        input.addEventListener("change", () => {
          if (input.checked) this.hidden.delete(type);
          else this.hidden.add(type);
          if (this.k) this.renderList(this.k);
        });
        const count = h("span", "wb-check-count");
        label.append(input, h("span", null, type), count);
        this.filterEl.append(label);
        check = { input, count };
        this.checks.set(type, check);
      }
      const n = this.counts.get(type) || 0;
      check.count.textContent = n ? fmtInt(n) : "";
    }
  }

  setHidden(types) {
    this.hidden = new Set(types);
    for (const [type, check] of this.checks) check.input.checked = !this.hidden.has(type);
    if (this.k) this.renderList(this.k);
  }
}

// --- the widget: messages in, views out ------------------------------------------------

function render({ model, el }) {
  const meta = {
    runId: model.get("run_id"), task: model.get("task"),
    model: model.get("model"), strategy: model.get("strategy"),
  };
  const standalone = !!model.get("standalone");
  const root = h("div", "wb-root");
  if (standalone) root.classList.add("wb-standalone");
  el.append(root);
  const view = new RunRenderer(root, { meta, standalone, onStop: () => model.send({ kind: "cancel" }) });

  const token = Math.random().toString(36).slice(2, 10);
  let seq = 0;
  const requests = new Map();
  const requestEnvelopes = (from, to) => new Promise((resolve) => {
    const requestId = `${token}:${++seq}`;
    requests.set(requestId, resolve);
    model.send({ kind: "envelopes", from, to, requestId });
  });
  const inspector = new Inspector(root, { meta, requestEnvelopes });

  // Apply items in id order, each once, whatever order and overlap they arrive in.
  let applied = 0;
  const early = new Map(); // firstId -> item that arrived before the ones preceding it
  const take = (item) => {
    view.apply(item);
    applied = item.id;
  };
  const receive = (items) => {
    for (const item of items) {
      const first = item.firstId || item.id;
      if (item.id <= applied) continue;
      if (first === applied + 1) take(item);
      else if (first > applied + 1) early.set(first, item);
      else refill(item.id); // it overlaps what we have: fetch the missing events raw
      while (early.has(applied + 1)) {
        const next = early.get(applied + 1);
        early.delete(applied + 1);
        take(next);
      }
    }
    for (const [first, item] of early) {
      if (first > applied) continue;
      early.delete(first);
      if (item.id > applied) refill(item.id);
    }
    view.schedule();
    inspector.setN(applied);
  };

  const refill = (to) => requestEnvelopes(applied + 1, to).then((events) => {
    receive(events);
    if (events.length && applied < to) refill(to);
  });

  const onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.kind === "events") receive(msg.events || []);
    else if (msg.kind === "envelopes" && requests.has(msg.requestId)) {
      const resolve = requests.get(msg.requestId);
      requests.delete(msg.requestId);
      resolve(msg.events || []);
    }
  };
  model.on("msg:custom", onMessage);
  model.send({ kind: "ready" });
  return () => {
    model.off("msg:custom", onMessage);
    view.destroy();
    inspector.destroy();
    root.remove();
  };
}

export default { render };
