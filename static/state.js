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

export function select(id) {
  events.dispatchEvent(new CustomEvent("select", { detail: id }));
}

// on("answer", (answer) => ...) or on("select", (nodeId) => ...).
export function on(type, listener) {
  events.addEventListener(type, (event) => listener(event.detail));
}
