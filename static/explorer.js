// The page's API for features built on top of it (e.g. a backward step-through or a
// chain-rule explanation): read the answer, follow the selection, light nodes up, and use
// the two places kept for them in the page.
export { getAnswer, getSelected, on, select } from "./state.js";
export { clearHighlight, highlightNodes } from "./graph-view.js";

// A toolbar above the graph (hidden until something is put in it) and a spot in the Details panel.
export function toolbarArea() {
  const area = document.getElementById("toolbar-extensions");
  area.hidden = false;
  return area;
}

export function detailsArea() {
  return document.getElementById("details-extensions");
}
