// teaching.js's views of each answer, following the page's answers: the step-through of
// backward under the graph, and the "Lessons and gradients" section (passes, gradient check,
// explain) below it.
import { clearHighlight, highlightNodes } from "./graph-view.js";
import { on } from "./state.js";
import { renderTeaching } from "./teaching.js";

const container = document.getElementById("teaching");
const playerContainer = document.getElementById("stepper");  // under the graph it lights up
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
  playerContainer.hidden = !answer;
  if (!answer) {
    container.replaceChildren(...empty);
    playerContainer.replaceChildren();
    return;
  }
  view = renderTeaching(answer, { container, playerContainer, highlightNode: highlightStep });
}

export function initTeachingPanel() {
  on("answer", show);
  on("extras", (answer) => view?.fillGradcheck(answer));
}
