// The "Lessons and gradients" section under the graph: teaching.js's views of each answer
// (step through backward, passes, gradient check, explain), following the page's answers.
import { clearHighlight, highlightNodes } from "./graph-view.js";
import { on } from "./state.js";
import { renderTeaching } from "./teaching.js";

const container = document.getElementById("teaching");
const empty = [...container.childNodes];  // the template's "Run a program…" note
let view = null;

// The step-through player marks the node backward is at and the ones it has been through.
function highlightStep(id) {
  clearHighlight("teaching-current");
  if (id === null) {
    clearHighlight("teaching-done");
    return;
  }
  highlightNodes([id], "teaching-current");
  highlightNodes([id], "teaching-done");
}

function show(answer) {
  view?.destroy();
  view = renderTeaching(answer, { container, highlightNode: highlightStep });
}

// After a failed run: the views of the previous answer no longer match the program.
export function clearTeaching() {
  view?.destroy();
  view = null;
  container.replaceChildren(...empty);
}

export function initTeachingPanel() {
  on("answer", show);
}
