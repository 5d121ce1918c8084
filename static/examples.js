// The examples menu: the seed notebook's lessons and a few more, from examples.json (a JSON
// module, so the menu and the first example are there before the page finishes loading),
// and the lesson text of the example in the editor.
import examples from "./examples.json" with { type: "json" };

const DEFAULT_EXAMPLE = "chain-rule";
const menu = document.getElementById("examples");
const lessonBox = document.getElementById("lesson");

export const firstExample = examples.find((example) => example.id === DEFAULT_EXAMPLE);

// Which example is in the editor and what it teaches; nothing for a program of the user's own
// (a permalink's).
export function showExample(example) {
  menu.value = example?.id ?? "";
  lessonBox.textContent = example?.lesson ?? "";
}

export function initExamples(onPick) {
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
