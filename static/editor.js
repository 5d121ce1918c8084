// The code editor: CodeMirror 5 (vendored) with Python highlighting, line numbers and the
// template's label, plus marks for the line an error points at.
const ERROR_GUTTER = "error-gutter";
let editor = null;
let errorLine = null;
let errorWidget = null;
let tabMovesFocus = false;  // the "Tab moves focus" switch beside the editor (Ctrl+M too)

// Tab indents, as in any code editor, unless the switch says it moves focus like elsewhere on
// the page: a visible way out of the editor besides Esc.
function tab(cm) {
  if (tabMovesFocus) return window.CodeMirror.Pass;
  return cm.somethingSelected() ? cm.indentSelection("add") : cm.execCommand("insertSoftTab");
}

function shiftTab(cm) {
  if (tabMovesFocus) return window.CodeMirror.Pass;
  return cm.indentSelection("subtract");
}

function setTabMovesFocus(toggle, on) {
  tabMovesFocus = on;
  toggle.setAttribute("aria-pressed", String(on));
}

function clearError() {
  if (errorLine === null) return;
  editor.removeLineClass(errorLine, "wrap", "error-line");
  editor.clearGutter(ERROR_GUTTER);
  errorWidget?.clear();
  errorLine = null;
  errorWidget = null;
}

// The line an error points at is marked, and the message shows right under it (the page's
// alert has it too, for screen readers: this copy is hidden from them), scrolled into sight
// however long the program.
export function markError(line, column, message) {
  clearError();
  if (!line || line > editor.lineCount()) return;
  errorLine = editor.getLineHandle(line - 1);
  editor.addLineClass(errorLine, "wrap", "error-line");
  const marker = document.createElement("span");
  marker.className = "error-marker";
  marker.textContent = "!";
  marker.title = message;
  editor.setGutterMarker(errorLine, ERROR_GUTTER, marker);
  const note = document.createElement("div");
  note.className = "error-widget";
  note.setAttribute("aria-hidden", "true");
  note.textContent = message;
  errorWidget = editor.addLineWidget(errorLine, note, { noHScroll: true });
  editor.setCursor({ line: line - 1, ch: Math.max(0, (column ?? 1) - 1) });
  note.scrollIntoView({ block: "center" });  // clear of the Run bar stuck at the bottom
}

export function getCode() {
  return editor.getValue();
}

export function setCode(code) {
  editor.setValue(code);
  editor.clearHistory();
}

export function initEditor(host, { onRun, onLeave, onChange, tabToggle }) {
  // Tab is ours alone (extraKeys below): when it passes, the browser moves focus, rather than
  // CodeMirror's basic keymap inserting a tab after all.
  delete window.CodeMirror.keyMap.basic.Tab;
  delete window.CodeMirror.keyMap.basic["Shift-Tab"];
  const flipTab = () => setTabMovesFocus(tabToggle, !tabMovesFocus);
  tabToggle.addEventListener("click", flipTab);
  editor = window.CodeMirror(host, {
    mode: "python",
    lineNumbers: true,
    // The editor grows with the program and wraps long lines, so it never becomes a scrolled
    // region that only a mouse could scroll.
    lineWrapping: true,
    viewportMargin: Infinity,
    indentUnit: 4,
    tabSize: 4,
    gutters: ["CodeMirror-linenumbers", ERROR_GUTTER],
    inputStyle: "textarea",
    extraKeys: {
      "Ctrl-Enter": onRun,
      "Cmd-Enter": onRun,
      Tab: tab,
      "Shift-Tab": shiftTab,
      "Ctrl-M": flipTab,
      Esc: onLeave,
    },
  });
  editor.on("change", () => {
    clearError();
    onChange(editor.getValue());
  });
  // The template's <label for="code"> names the textarea that takes the keystrokes.
  editor.getInputField().id = "code";
}
