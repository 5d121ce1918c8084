// The current answer and selection, shared by the page's modules (and by later features such
// as a backward step-through) through events instead of globals.
const events = new EventTarget();
let answer = null;
let selected = null;

export function getAnswer() {
  return answer;
}

export function getSelected() {
  return selected;
}

export function setAnswer(next) {
  answer = next;
  selected = null;
  events.dispatchEvent(new CustomEvent("answer", { detail: next }));
}

export function select(id) {
  selected = id;
  events.dispatchEvent(new CustomEvent("select", { detail: id }));
}

// on("answer", (answer) => ...) or on("select", (nodeId) => ...).
export function on(type, listener) {
  events.addEventListener(type, (event) => listener(event.detail));
}
