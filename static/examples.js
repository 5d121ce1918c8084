// The examples menu: the seed notebook's lessons and a few more, from examples.json (a JSON
// module, so the menu and the first example are there before the page finishes loading),
// and the lesson text of the example in the editor.
import examples from "./examples.json" with { type: "json" };

const DEFAULT_EXAMPLE = "chain-rule";
let menu = null;  // the page's <select> and lesson text, from initExamples
let lessonBox = null;

export const firstExample = examples.find((example) => example.id === DEFAULT_EXAMPLE);

let shown = null;  // the example last loaded into the editor

// Which example is in the editor and what it teaches; nothing for a program of the user's own
// (a permalink's).
export function showExample(example) {
  shown = example?.id ? example : null;
  menu.value = shown?.id ?? "";
  lessonBox.textContent = shown?.lesson ?? "";
}

// The lesson describes its example's program only: once the editor holds other code, the
// lesson and the menu's choice go (picking the example again, or undoing back to its code,
// brings them back), so no lesson sits above a graph it does not describe.
export function codeChanged(code) {
  const same = shown !== null && code === shown.code;
  menu.value = same ? shown.id : "";
  lessonBox.textContent = same ? shown.lesson ?? "" : "";
}

// elements: the menu (a <select>) and the box the lesson text goes in; onPick(example) loads
// the example the menu picked.
export function initExamples(elements, onPick) {
  ({ menu, lessonBox } = elements);
  const groups = new Map();
  for (const example of examples) {
    if (!groups.has(example.group)) {
      const group = document.createElement("optgroup");
      group.label = example.group;
      groups.set(example.group, group);
      menu.append(group);
    }
    groups.get(example.group).append(new Option(example.title, example.id));
  }
  menu.addEventListener("change", () => {
    const example = examples.find((candidate) => candidate.id === menu.value);
    if (example) onPick(example);
  });
}
