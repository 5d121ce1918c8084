// The variables table: every name bound to a tensor when the program ended, then the module
// parameters (model.0.weight...), which are reached through their module rather than a name.
import { on, select } from "./state.js";
import { tensorView } from "./tensor-view.js";

let body = null;  // the table's <tbody>, from initVariables

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
}

// Parameters by path, as the last backward pass left them (.grad and value), when no name of
// the program's holds them.
function parameters(answer) {
  const last = answer.backward_passes?.at(-1);
  if (!last) return [];
  return Object.keys(last.grads)
    .filter((name) => name.includes(".") && !(name in answer.variables))
    .map((name) => [name, { value: last.values[name], grad: last.grads[name], grad_fn: null, requires_grad: true, is_leaf: true }]);
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
  for (const [name, info] of [...Object.entries(answer.variables), ...parameters(answer)]) {
    const node = answer.nodes.find((candidate) => candidate.variables.includes(name));
    const row = document.createElement("tr");
    row.append(nameCell(name, node));
    cell(row, tensorView(info.value));
    cell(row, info.grad === null || info.grad === undefined ? "None" : tensorView(info.grad));
    cell(row, info.grad_fn ?? "None");
    cell(row, String(info.requires_grad));
    cell(row, info.is_leaf ? "leaf" : "non-leaf");
    body.append(row);
  }
}

export function initVariables(tableBody) {
  body = tableBody;
  on("answer", show);
}
