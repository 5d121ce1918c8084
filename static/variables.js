// The variables table: every name bound to a tensor when the program ended.
import { formatTensor } from "./format.js";
import { on, select } from "./state.js";

const body = document.querySelector("#variables tbody");

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

// The name links to the graph node that holds the variable, when there is one.
function nameCell(name, node) {
  const th = document.createElement("th");
  th.scope = "row";
  if (node) {
    const link = document.createElement("a");
    link.href = `#node-${node.id}`;
    link.textContent = name;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      select(node.id);
    });
    th.append(link);
  } else {
    th.textContent = name;
  }
  return th;
}

function show(answer) {
  body.replaceChildren();
  if (!answer) return;
  for (const [name, info] of Object.entries(answer.variables)) {
    const node = answer.nodes.find((candidate) => candidate.variables.includes(name));
    const row = document.createElement("tr");
    row.append(nameCell(name, node));
    cell(row, formatTensor(info.value));
    cell(row, formatTensor(info.grad));
    cell(row, info.grad_fn ?? "None");
    cell(row, String(info.requires_grad));
    cell(row, info.is_leaf ? "leaf" : "non-leaf");
    body.append(row);
  }
}

export function initVariables() {
  on("answer", show);
}
