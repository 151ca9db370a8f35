// Agent Workbench: the run view's body, a region of its own height that a person can resize.
//
// CSS gives the body a fixed height while the run is seen live (.wb-steady) and a maximum
// otherwise, with `resize: vertical`. Dragging the corner writes an inline height; from then on
// the maximum no longer applies, so the body can be made taller than it, as the person asked.

function steadyBody(body) {
  if (typeof MutationObserver === "undefined") return;
  const observer = new MutationObserver(() => {
    if (body.style.height && body.style.maxHeight !== "none") body.style.maxHeight = "none";
  });
  observer.observe(body, { attributes: true, attributeFilter: ["style"] });
}

export { steadyBody };
