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

// No answer (the last run failed): the views of the previous one no longer match the program.
function show(answer) {
  view?.destroy();
  view = null;
  if (!answer) {
    container.replaceChildren(...empty);
    return;
  }
  view = renderTeaching(answer, { container, highlightNode: highlightStep });
}

export function initTeachingPanel() {
  on("answer", show);
}
