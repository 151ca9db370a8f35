// Agent Workbench: a "Copy" button that puts a text on the clipboard and says "copied".
//
// navigator.clipboard needs a secure context (https, localhost, a file:// page); elsewhere (a
// notebook served over plain http) the old way, a selected hidden textarea and execCommand, still works.

import { h, tid } from "./dom.js";

const SHOWN_MS = 1500; // how long the button says "copied"

function fallbackCopy(text) {
  const area = h("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.cssText = "position:fixed;top:0;left:0;opacity:0;pointer-events:none";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (e) {
    ok = false;
  }
  area.remove();
  return ok;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      // refused (no permission, a page not in focus): try the old way
    }
  }
  return fallbackCopy(text);
}

/** A button copying `text()` (called at click time, so it copies what the step holds then). */
function copyButton(text, what) {
  const b = tid(h("button", "wb-copy", "Copy"), "copy");
  b.type = "button";
  b.title = `Copy ${what}`;
  b.setAttribute("aria-label", `Copy ${what}`);
  let timer = null;
  b.addEventListener("click", async (e) => {
    e.stopPropagation(); // a copy button in a header must not also toggle it
    e.preventDefault();
    const ok = await copyText(text());
    b.textContent = ok ? "copied" : "copy failed";
    b.classList.toggle("wb-copied", ok);
    clearTimeout(timer);
    timer = setTimeout(() => {
      b.textContent = "Copy";
      b.classList.remove("wb-copied");
    }, SHOWN_MS);
  });
  b.addEventListener("keydown", (e) => e.stopPropagation()); // Enter/Space: this button's, not the header's
  return b;
}

export { copyButton, copyText };
