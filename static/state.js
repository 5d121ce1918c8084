// The current answer, and the selection as events, shared by the page's modules through
// events instead of globals.
const events = new EventTarget();
let answer = null;

export function getAnswer() {
  return answer;
}

export function setAnswer(next) {
  answer = next;
  events.dispatchEvent(new CustomEvent("answer", { detail: next }));
}

// The fields the current answer had pending (its gradient check) have come: they join it, so
// that every view and the JSON export see one answer, and "extras" tells the views.
export function completeAnswer(extras) {
  answer.gradcheck = extras.gradcheck;
  answer.warnings = [...answer.warnings, ...extras.warnings];
  answer.pending = [];
  answer.extras = null;
  events.dispatchEvent(new CustomEvent("extras", { detail: answer }));
}

// The answer is drawn in another view (module calls collapsed or expanded): its svg, dot,
// view and shown_in changed, nothing else.
export function redrawn(next) {
  events.dispatchEvent(new CustomEvent("drawing", { detail: next }));
}

export function select(id) {
  events.dispatchEvent(new CustomEvent("select", { detail: id }));
}

// on("answer", (answer) => ...), on("extras", (answer) => ...), on("drawing", (answer) => ...)
// or on("select", (nodeId) => ...).
export function on(type, listener) {
  events.addEventListener(type, (event) => listener(event.detail));
}
