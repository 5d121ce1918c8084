// The Details panel: everything about the selected node, with links to its neighbours.
import { formatTensor, formatTerm } from "./format.js";
import { gradientTerms, groupsAround, inputsOf, nodeById, sameInEachCall } from "./graph-model.js";
import { getAnswer, on, select } from "./state.js";
import { element } from "./dom.js";
import { tensorView } from "./tensor-view.js";

let panel = null;  // the page's elements, from initDetails
let body = null;
let graph = null;
let placeholder = null;  // the template's "Select a box…" note
let shownId = null;

const KIND_TEXT = {
  leaf: "leaf tensor: you created it with requires_grad=True, so backward stores its gradient in .grad",
  op: "operation: the backward function autograd recorded when this value was computed",
  root: "root: the value backward started from; its gradient is 1",
  const: "constant: cut from the graph, so no gradient flows back into it",
};

function nodeLink(node) {
  const link = element("a", node.title);
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
    item.append(nodeLink(nodeById(answer, neighbourOf(edge))), ` — grad ${edge.grad_text}`);
    list.append(item);
  }
  return list;
}

// The same operation in every call of a loop: its gradient at each step, a link to each.
function stepList(answer, steps, shownId) {
  const list = element("ol", undefined, "edge-list steps");
  for (const { group, id } of steps) {
    const item = element("li");
    const label = `call ${group.call + 1}`;
    if (id === shownId) item.append(element("strong", label));
    else {
      const link = element("a", label);
      link.href = `#node-${id}`;
      link.dataset.select = String(id);
      item.append(link);
    }
    item.append(` — grad ${nodeById(answer, id)?.grad_text}`);
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

// Where the gradient came from: along each edge towards the root, the gradient there times
// the edge's local derivative ("-5.4668 = -0.9111 × 6"); several uses add up.
function gradientStory(answer, node) {
  if (node.kind === "root") return element("p", "Backward starts here: the root's gradient with respect to itself is 1.", "story");
  const terms = gradientTerms(answer, node.id);
  if (terms.length === 0) return element("p", "No gradient reached this value.", "story muted");
  const story = element("div", undefined, "story");
  const list = element("ul", undefined, "edge-list");
  for (const term of terms) {
    const item = element("li", "from ");
    const told = formatTerm(term);
    // A lone gradient that is no product is the one shown above: not again.
    const again = terms.length === 1 && told === term.text;
    item.append(nodeLink(term.target), again ? "" : `: ${told}`);
    list.append(item);
  }
  const shares = terms.map((term) => term.text);
  const why = terms.length > 1
    ? `Each use sends back its share; they add up: ${shares.join(" + ")} = ${node.grad_text}.`
    : "The gradient at the next box times the local derivative along the edge (the chain rule).";
  story.append(list, element("p", why));
  if (node.kind === "leaf") story.append(element("p", "Backward adds it into .grad."));
  return story;
}

// What .grad holds at the end, for a named tensor: a leaf's accumulated gradient, or None for
// a value backward went through without keeping it.
function dotGrad(answer, node) {
  const name = node.variables[0];
  const variable = name === undefined ? undefined : answer.variables[name];
  if (!variable) return null;
  if (variable.grad !== null && variable.grad !== undefined) return tensorView(variable.grad);
  const why = variable.is_leaf ? "" : " (not a leaf: PyTorch keeps no .grad here unless you call retain_grad())";
  const text = element("span");
  text.append(element("code", "None"), why);
  return text;
}

function render(id) {
  const answer = getAnswer();
  const node = id === null ? null : nodeById(answer, id);
  // Below 1440 px the panel lies over the graph: only while a box is selected (app.css).
  panel.classList.toggle("empty", !node);
  if (!node) {
    body.replaceChildren(placeholder.cloneNode(true));
    shownId = null;
    return;
  }
  shownId = node.id;
  const inputs = inputsOf(answer, node.id);
  const list = element("dl", undefined, "facts");
  // What the learner came for first: the gradient, how it was made, and .grad.
  if (node.kind !== "const") {
    row(list, node.grad_name, tensorView(node.grad, node.grad_text), gradientStory(answer, node));
  }
  const rule = node.kind === "leaf" ? answer.chain_rule?.[node.variables[0]] : undefined;
  if (rule) row(list, "Chain rule", element("code", rule.text));
  const kept = dotGrad(answer, node);
  if (kept) row(list, ".grad", kept);
  row(list, "Value", tensorView(node.value, node.value_text));
  row(list, "Shape", `${node.shape_text}${node.dtype ? `, ${node.dtype}` : ""}`);
  row(list, "Kind", KIND_TEXT[node.kind] ?? node.kind);
  if (node.note) row(list, "Cut", node.note);
  row(list, "Operation", element("code", node.op));
  const around = groupsAround(answer, node.id);
  if (around.length) {
    row(list, "Module call", around.map((group) => group.title).join(", inside "));
  }
  const steps = sameInEachCall(answer, node.id);
  if (steps.length) row(list, "In each call", stepList(answer, steps, node.id));
  row(list, "Variables", node.variables.length ? node.variables.join(", ") : "none (an intermediate value)");
  row(list, "Saved tensors", savedList(node.saved));
  row(list, "Inputs", edgeList(answer, inputs, (edge) => edge.source, "none: a leaf has no inputs"));
  if (node.backward_step !== null) row(list, "Backward step", String(node.backward_step));
  const heading = element("h3", node.title);
  heading.tabIndex = -1;
  body.replaceChildren(heading, list);
}

// Closing goes back to the box the panel was about, so keyboard users keep their place.
function close() {
  const id = shownId;
  select(null);
  if (id !== null) graph.querySelector(`[data-node-id="${id}"]`)?.focus();
}

// elements: the panel, its body (holding the placeholder note), its close button, and the
// graph whose boxes it describes.
export function initDetails(elements) {
  ({ panel, body, graph } = elements);
  placeholder = body.firstElementChild.cloneNode(true);
  on("select", render);
  on("answer", () => render(null));
  elements.closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  panel.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-select]");
    if (!link) return;
    event.preventDefault();
    select(Number(link.dataset.select));
    body.querySelector("h3")?.focus();
  });
}
