// Agent Workbench: keys pressed in the view's own controls stay in the view.
//
// JupyterLab handles key presses as they bubble up to its document (arrow keys select cells,
// Enter edits one). A key meant for the slider, the search box, a tree's toggle or a step's
// header must not also move the notebook, so its keydown stops at the view's root. Keys with
// Ctrl, Alt or Meta, and Shift+Enter (run the cell), still reach the notebook; so does Escape
// outside the search box (it leaves the cell, as a person expects).

const OWN = "input, textarea, select, button, summary, [role=button], [tabindex]";

function keepKeys(root) {
  root.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || (e.shiftKey && e.key === "Enter") || e.key === "Escape") return;
    if (e.target instanceof Element && e.target.closest(OWN)) e.stopPropagation();
  });
}

export { keepKeys };
