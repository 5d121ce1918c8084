// The Details panel: everything about the selected node, with links to its neighbours.
import { formatTensor } from "./format.js";
import { inputsOf, nodeById, nodeTitle, outputsOf } from "./graph-model.js";
import { getAnswer, on, select } from "./state.js";
import { element } from "./dom.js";

const body = document.getElementById("details-body");
const panel = document.getElementById("details");
const placeholder = body.firstElementChild.cloneNode(true);

const KIND_TEXT = {
  leaf: "leaf tensor: you created it with requires_grad=True, so backward stores its gradient in .grad",
  op: "operation: the backward function autograd recorded when this value was computed",
  root: "root: the value backward started from; its gradient is 1",
};

function shapeText(shape) {
  if (shape === null || shape === undefined) return "unknown";
  return shape.length === 0 ? "scalar" : shape.join("×");
}

function nodeLink(node) {
  const link = element("a", nodeTitle(node));
  link.href = `#node-${node.id}`;
  link.dataset.select = String(node.id);
  return link;
}

function row(list, term, ...content) {
  list.append(element("dt", term));
  const definition = element("dd");
  definition.append(...content);
  list.append(definition);
}

// Each edge as "<neighbour link>: grad <value>", the gradient that flowed along it.
function edgeList(answer, edges, neighbourOf, empty) {
  if (edges.length === 0) return element("span", empty, "muted");
  const list = element("ul", undefined, "edge-list");
  for (const edge of edges) {
    const item = element("li");
    item.append(nodeLink(nodeById(answer, neighbourOf(edge))), ` — grad ${formatTensor(edge.grad)}`);
    list.append(item);
  }
  return list;
}

function savedList(saved) {
  const entries = Object.entries(saved);
  if (entries.length === 0) return element("span", "none", "muted");
  const list = element("ul", undefined, "edge-list");
  for (const [name, value] of entries) list.append(element("li", `${name} = ${formatTensor(value)}`));
  return list;
}

function neighbours(answer, edges, neighbourOf) {
  return edges.map((edge) => `${nodeTitle(nodeById(answer, neighbourOf(edge)))} (${formatTensor(edge.grad)})`)
    .join(", ");
}

// Where the gradient came from, in words: what arrived at this node and what it sent on.
function gradientStory(answer, node, inputs, outputs) {
  const of = answer.root_name ?? "the root";
  const arrived = neighbours(answer, outputs, (edge) => edge.target);
  const sent = neighbours(answer, inputs, (edge) => edge.source);
  if (node.kind === "leaf") {
    const summed = outputs.length > 1 ? ", added up," : "";
    return `d${of}/d(this) = ${formatTensor(node.grad)} came back from ${arrived}${summed} ` +
      "and backward stored it in .grad.";
  }
  const start = node.kind === "root"
    ? `Backward starts here with d${of}/d${of} = 1.`
    : `d${of}/d(this) = ${formatTensor(node.grad)} came back from ${arrived}.`;
  return `${start} This node multiplies it by the local derivative of ${node.op.replace(/Backward\d*$/, "")} ` +
    `(using its saved tensors) and sends the result to its inputs: ${sent || "none"}.`;
}

function render(id) {
  const answer = getAnswer();
  const node = id === null ? null : nodeById(answer, id);
  if (!node) {
    body.replaceChildren(placeholder.cloneNode(true));
    return;
  }
  const inputs = inputsOf(answer, node.id);
  const outputs = outputsOf(answer, node.id);
  const list = element("dl", undefined, "facts");
  row(list, "Kind", KIND_TEXT[node.kind]);
  row(list, "Operation", element("code", node.op));
  row(list, "Variables", node.variables.length ? node.variables.join(", ") : "none (an intermediate value)");
  row(list, "Shape", shapeText(node.shape));
  row(list, "dtype", node.dtype ?? "unknown");
  row(list, "Value", element("code", formatTensor(node.value)));
  row(list, "Gradient", element("code", formatTensor(node.grad)), element("p", gradientStory(answer, node, inputs, outputs), "story"));
  row(list, "Saved tensors", savedList(node.saved));
  row(list, "Inputs", edgeList(answer, inputs, (edge) => edge.source, "none: a leaf has no inputs"));
  row(list, "Outputs", edgeList(answer, outputs, (edge) => edge.target, "none: this is the root"));
  if (node.backward_step !== null) row(list, "Backward step", String(node.backward_step));
  const heading = element("h3", nodeTitle(node));
  heading.tabIndex = -1;
  body.replaceChildren(heading, list);
}

export function initDetails() {
  on("select", render);
  on("answer", () => render(null));
  panel.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-select]");
    if (!link) return;
    event.preventDefault();
    select(Number(link.dataset.select));
    body.querySelector("h3")?.focus();
  });
}
