// The examples menu: the seed notebook's lessons and a few more, from examples.json (a JSON
// module, so the menu and the first example are there before the page finishes loading).
import examples from "./examples.json" with { type: "json" };

export { examples };

export function initExamples(onPick) {
  const menu = document.getElementById("examples");
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
