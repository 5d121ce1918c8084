// Wires the page together: editor, run, and the views that follow the current answer.
import { initDetails } from "./details.js";
import { getCode, initEditor, markError, setCode } from "./editor.js";
import { codeChanged, firstExample, initExamples, showExample } from "./examples.js";
import { initExport } from "./export.js";
import { graphFontReady } from "./fonts.js";
import { initGraphView } from "./graph-view.js";
import { permalink, readPermalink } from "./permalink.js";
import { fetchRetrying } from "./retry.js";
import { initSearch } from "./search.js";
import { completeAnswer, getAnswer, on, setAnswer } from "./state.js";
import { initTeachingPanel } from "./teaching-panel.js";
import { initVariables } from "./variables.js";

// The one module that looks up the page's elements: the others are handed theirs.
const byId = (id) => document.getElementById(id);
const output = byId("output");
const runButton = byId("run");
const status = byId("status");
const errorBox = byId("error");
const stdoutBox = byId("stdout");
const warningsList = byId("warnings");
const graphPane = document.querySelector(".graph-pane");

function showError(problem) {
  status.textContent = "";
  const where = problem.line ? ` (line ${problem.line}, column ${problem.column})` : "";
  errorBox.textContent = `${problem.title}: ${problem.detail}${where}`;
  errorBox.hidden = false;
  markError(problem.line, problem.column, `${problem.title}: ${problem.detail}`);
  // Nothing of the previous run stays to pass as this one's: graph, output, variables and
  // exports go with it (every view follows the answer, here none).
  setAnswer(null);
  stdoutBox.textContent = "";
  warningsList.replaceChildren();
  status.textContent = "Failed: nothing shown is from an earlier run.";
}

function showPrinted(answer) {
  stdoutBox.textContent = answer.stdout;
  warningsList.replaceChildren(...answer.warnings.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
}

function setBusy(busy) {
  runButton.disabled = busy;
  runButton.classList.toggle("busy", busy);
  graphPane.setAttribute("aria-busy", String(busy));
  if (busy) status.textContent = "Running…";
}

async function run() {
  if (runButton.disabled) return;
  setBusy(true);
  errorBox.hidden = true;
  try {
    const response = await fetchRetrying("/api/graph", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: getCode(), output: output.value.trim() || null }),
    }, (seconds) => { status.textContent = `Server busy: trying again in ${seconds} s…`; });
    const body = await response.json();
    if (!response.ok) {
      showError(body);
      return;
    }
    await graphFontReady;  // the first graph waits for its font if the page has only just opened
    setAnswer(body);
    showPrinted(body);
    status.textContent = body.root_name ? `Done: gradients of ${body.root_name}.` : "Done.";
    if (body.extras) fetchExtras(body);
  } catch (error) {
    showError({ title: "Network error", detail: String(error) });
  } finally {
    setBusy(false);
  }
}

// The answer comes as soon as its graph is drawn; its gradient check follows from the URL in
// `extras`. An answer replaced meanwhile (another run) takes nothing of it.
async function fetchExtras(answer) {
  let extras;
  try {
    const response = await fetchRetrying(answer.extras);  // 503 while it is still computed
    const body = await response.json();
    extras = response.ok
      ? body
      : { gradcheck: {}, warnings: [`The gradient check could not be fetched: ${body.detail}`] };
  } catch (error) {
    extras = { gradcheck: {}, warnings: [`The gradient check could not be fetched: ${error}`] };
  }
  if (getAnswer() === answer) completeAnswer(extras);
}

async function copyPermalink() {
  const url = permalink(getCode(), output.value.trim());
  window.history.replaceState(null, "", url);
  try {
    await navigator.clipboard.writeText(url);
    status.textContent = "Permalink copied.";
  } catch {
    status.textContent = "Permalink is in the address bar.";
  }
}

function load(program) {
  showExample(program);
  setCode(program.code);
  output.value = program.output ?? "";
}

initEditor(byId("editor"), {
  onRun: run,
  onLeave: () => runButton.focus(),
  onChange: codeChanged,
  tabToggle: byId("tab-moves-focus"),
});
initGraphView({
  box: byId("graph"),
  detailsPanel: byId("details"),
  zoomIn: byId("zoom-in"),
  zoomOut: byId("zoom-out"),
  fit: byId("fit"),
  reset: byId("reset"),
});
initSearch({ input: byId("search"), status: byId("search-status") });
initDetails({
  panel: byId("details"),
  body: byId("details-body"),
  closeButton: byId("details-close"),
  graph: byId("graph"),
});
initVariables(document.querySelector("#variables tbody"));
initExport({ svg: byId("export-svg"), png: byId("export-png"), dot: byId("export-dot"), json: byId("export-json") });
initTeachingPanel({ container: byId("teaching"), playerContainer: byId("stepper") });
on("extras", showPrinted);  // the gradient check's own warnings, if it had any
runButton.addEventListener("click", run);
byId("permalink").addEventListener("click", copyPermalink);
initExamples({ menu: byId("examples"), lessonBox: byId("lesson") }, load);
// The page opens on its first lesson (or a permalink's program) already run: the graph is
// what a learner came for.
const linked = readPermalink();
load(linked ?? firstExample);
run();
