// teaching.js's views of each answer, following the page's answers: the step-through of
// backward under the graph, and the "Lessons and gradients" section (passes, gradient check,
// explain) below it.
import { clearHighlight, highlightNodes } from "./graph-view.js";
import { on } from "./state.js";
import { renderTeaching } from "./teaching.js";

let container = null;  // the page's elements, from initTeachingPanel
let playerContainer = null;
let empty = [];  // the template's "Run a program…" note
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
  playerContainer.hidden = !answer;
  if (!answer) {
    container.replaceChildren(...empty);
    playerContainer.replaceChildren();
    return;
  }
  view = renderTeaching(answer, { container, playerContainer, highlightNode: highlightStep });
}

// elements: the container of the "Lessons and gradients" views, and the playerContainer
// under the graph (the step-through sits by the drawing it lights up).
export function initTeachingPanel(elements) {
  ({ container, playerContainer } = elements);
  empty = [...container.childNodes];
  on("answer", show);
  on("extras", (answer) => view?.fillGradcheck(answer));
}
