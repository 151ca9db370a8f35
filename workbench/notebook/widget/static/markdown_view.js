// Agent Workbench: Markdown in the run view. The kernel renders and sanitizes it
// (workbench/notebook/markdown.py) and sends the HTML beside whole messages and the result as
// `item.html`; the view shows that HTML where it has it, and the raw text while a step streams
// or when there is none (a text too long to render, an older kernel).

// Text -> HTML, filled from the items that carry `html`; shared by the live view and the
// inspector's view (whose raw envelopes carry none): the HTML depends on the text alone.
class MarkdownCache {
  constructor() {
    this.map = new Map();
  }
  note(item) {
    if (typeof item.html !== "string" || !item.data) return;
    const text = item.type === "execution:complete" ? item.data.result : item.data.text;
    if (typeof text === "string") this.map.set(text, item.html);
  }
  get(text) {
    return typeof text === "string" ? this.map.get(text) || null : null;
  }
}

// Show `text` in `clip` (a dom.js ClipText) as the kernel's sanitized `html` when given, else as text.
function showMarkdown(clip, text, html) {
  if (!html) {
    if (clip.html) {
      clip.html = null;
      clip.visible = null; // make ClipText write its text again
      clip.body.classList.remove("wb-md");
    }
    clip.set(text);
    return;
  }
  if (clip.html === html) return;
  clip.html = html;
  clip.text = text;
  clip.visible = null;
  clip.body.classList.add("wb-md");
  clip.body.innerHTML = html; // sanitized by nh3 in the kernel: only Markdown's tags, safe links
  clip.toggle.hidden = true;
}

export { MarkdownCache, showMarkdown };
