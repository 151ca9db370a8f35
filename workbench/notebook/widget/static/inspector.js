// Agent Workbench: the inspector. The run as it stood after event k, the events around k and
// the exact envelope of k; raw envelopes are fetched from the kernel in pages as needed.
// With `fork` (a run of an agent, for someone who may fork it), "Fork from here" (fork_form.js).

import { h, tid, button, fmtInt, asText, oneLine, ClipText, schedule } from "./dom.js";
import { RunRenderer } from "./run_renderer.js";
import { ForkForm } from "./fork_form.js";
import { LIMITS } from "./limits.js"; // made by workbench/notebook/widget/bundle.py from the kernel's constants

const PAGE = LIMITS.maxEnvelopes; // raw envelopes asked for in one request: as many as the kernel sends
const LIST_SPAN = 40; // events listed on each side of the inspector's position
// The order the type filter lists types in; types not named here follow as they are seen.
const TYPES = [
  "execution:started", "plan:created", "phase:start", "thinking:delta", "thinking",
  "text:delta", "text", "tool:start", "tool:approval", "tool:decision", "tool:complete", "usage", "model:response",
  "model:retry", "run:forked", "execution:paused", "execution:resumed", "user:message", "phase:complete", "execution:complete", "execution:error", "execution:cancelled",
];

function summarize(e) {
  const d = e.data || {};
  switch (e.type) {
    case "execution:started": return d.task;
    case "plan:created": return `${(d.plan && d.plan.phases || []).length} phases · ${d.plan && d.plan.goal}`;
    case "phase:start": case "phase:complete": return d.phaseName;
    case "thinking": return d.redacted ? "(redacted)" : d.thought;
    case "thinking:delta": case "text:delta": return JSON.stringify(d.delta);
    case "text": return d.text;
    case "tool:start": return `${d.toolName} ${JSON.stringify(d.params)}`;
    case "tool:complete": return `${d.toolName}${d.isError ? " (error)" : ""} → ${asText(d.result)}`;
    case "usage": return `${fmtInt(d.input)} in · ${fmtInt(d.output)} out`;
    case "model:retry": return `attempt ${d.attempt}: ${d.reason}`;
    case "execution:complete": return d.result;
    case "execution:error": return `${d.error && d.error.type}: ${d.error && d.error.message}`;
    case "execution:cancelled": return d.reason;
    case "execution:paused": return `${d.reason === "breakpoint" ? "breakpoint" : "paused"} before ${d.before === "tool" ? `tool call ${d.toolUseId}` : "the next model call"}`;
    case "execution:resumed": return `${d.step ? "step" : "resume"}${d.by ? ` by ${d.by}` : ""}`;
    case "tool:approval": return `${d.toolName} waits for a decision ${JSON.stringify(d.params)}`;
    case "tool:decision": return [d.decision, d.params ? JSON.stringify(d.params) : "", d.note ? `note: ${d.note}` : "", d.by ? `by ${d.by}` : ""].filter(Boolean).join(" · ");
    case "user:message": return `${d.by ? `${d.by}: ` : ""}${d.text}`;
    case "model:response": return `${d.model} · ${(d.content || []).map((b) => b.type).join(", ") || "no content"} · ${d.stopReason}`;
    case "run:forked": return `from ${d.parentId} after its event ${d.at}`;
    default: return "";
  }
}

class Inspector {
  constructor(host, opts) {
    this.opts = opts; // {meta, requestEnvelopes(from, to) -> Promise<envelopes>, markdown, fork?}
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
    slider.addEventListener("keydown", (e) => this.onSliderKey(e));
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
    if (opts.fork) this.forkForm = new ForkForm(box, opts.fork);
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

  // The slider's keys, handled here: in JupyterLab the notebook would take them (see keys.js).
  onSliderKey(e) {
    if (e.ctrlKey || e.altKey || e.metaKey || !this.n) return;
    const page = Math.max(1, Math.round(this.n / 10));
    const k = this.k || this.n;
    const to = {
      ArrowRight: k + 1, ArrowUp: k + 1, ArrowLeft: k - 1, ArrowDown: k - 1,
      PageUp: k + page, PageDown: k - page, Home: 1, End: this.n,
    }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    e.stopPropagation();
    this.go(to);
  }

  stepBy(dir) {
    let k = this.k + dir;
    while (k >= 1 && k <= this.loaded && this.hidden.has(this.raw[k].type)) k += dir;
    if (k >= 1 && k <= this.n) this.go(k);
  }

  draw(k) {
    if (!this.preview || k < this.previewAt) {
      if (this.preview) this.preview.destroy();
      this.preview = new RunRenderer(this.viewHost, { meta: this.opts.meta, readonly: true, markdown: this.opts.markdown });
      this.previewAt = 0;
    }
    for (let i = this.previewAt + 1; i <= k; i++) this.preview.apply(this.raw[i]);
    this.previewAt = k;
    this.preview.flush();
    this.envelopeEl.set(JSON.stringify(this.raw[k], null, 2));
    this.envelopeEl.body.dataset.id = String(k);
    this.renderList(k);
    if (this.forkForm) this.forkForm.show(k, this.raw[k], this.counts.has("model:response"));
  }

  renderList(k) {
    if (k > this.loaded) return; // the filter changed before k's envelopes came: draw() lists them
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
      // Every type listed when clicked: types first seen later are hidden too.
      const none = button("wb-link", "none", () => this.setHidden([...this.checks.keys()]));
      const noDeltas = button("wb-link", "no deltas", () => this.setHidden(LIMITS.deltaTypes));
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

export { Inspector };
