// The search box: marks the nodes whose variable or op name matches; Enter selects the next.
import { clearHighlight, drawnCount, highlightNodes } from "./graph-view.js";
import { findNodes } from "./graph-model.js";
import { getAnswer, on, select } from "./state.js";

let input = null;  // the page's search box and its count, from initSearch
let status = null;
let matches = [];
let current = -1;

function update() {
  clearHighlight("match");
  matches = findNodes(getAnswer(), input.value);
  current = -1;
  highlightNodes(matches.map((node) => node.id), "match");
  // Boxes found: a leaf drawn once per use is found as often as it is drawn.
  const ids = matches.map((node) => node.id);
  const found = Math.max(drawnCount(ids), matches.length);
  status.textContent = input.value.trim() ? `${found} found` : "";
}

// elements: the search input and the status element that says how many boxes were found.
export function initSearch(elements) {
  ({ input, status } = elements);
  input.addEventListener("input", update);
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || matches.length === 0) return;
    event.preventDefault();
    current = (current + 1) % matches.length;
    select(matches[current].id);
  });
  on("answer", update);
}
