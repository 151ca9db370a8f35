// Agent Workbench: a step whose header opens and closes its body (click, Enter or Space).
// Closed, the step keeps its first line in sight, so a person still sees what it was.

function collapsible(el, head, label) {
  head.classList.add("wb-toggle-head");
  head.tabIndex = 0;
  head.setAttribute("role", "button");
  const set = (open) => {
    el.classList.toggle("wb-collapsed", !open);
    head.setAttribute("aria-expanded", String(open));
    head.title = open ? `Collapse this ${label}` : `Expand this ${label}`;
  };
  const flip = () => set(el.classList.contains("wb-collapsed"));
  head.addEventListener("click", (e) => {
    if (e.target.closest("button, a, input")) return; // a control inside the header does its own thing
    if (String(window.getSelection() || "")) return; // selecting text to copy is not a click to close
    flip();
  });
  head.addEventListener("keydown", (e) => {
    if (e.target !== head || (e.key !== "Enter" && e.key !== " ")) return;
    e.preventDefault();
    e.stopPropagation(); // Enter would otherwise reach JupyterLab (edit the cell)
    flip();
  });
  set(true);
}

export { collapsible };
