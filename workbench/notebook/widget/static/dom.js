// Agent Workbench: small DOM and formatting helpers shared by the run view's files.

const CLIP = 2000; // characters of a text shown before "show more"

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

export { h, tid, button, fmtInt, fmtMs, fmtElapsed, asText, oneLine, keyArgument, ClipText, schedule };
