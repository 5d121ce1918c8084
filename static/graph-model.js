// Questions about the answer's graph, answered from its JSON alone (no DOM).

// Whether there is a picture to show or export (a program without autograd draws nothing).
export function hasDrawing(answer) {
  return Boolean(answer.svg) && answer.nodes.length > 0;
}

export function nodeById(answer, id) {
  return answer?.nodes.find((node) => node.id === id) ?? null;
}

const groupIndexes = new WeakMap();

function groupIndex(answer) {
  let index = groupIndexes.get(answer);
  if (index) return index;
  const byId = new Map();
  const ofNode = new Map();
  for (const group of answer?.groups ?? []) {
    byId.set(group.id, group);
    for (const id of group.nodes) ofNode.set(id, group);
  }
  index = { byId, ofNode };
  if (answer) groupIndexes.set(answer, index);
  return index;
}

// The module call directly holding a node, or null (top-level code).
export function groupOf(answer, id) {
  return groupIndex(answer).ofNode.get(id) ?? null;
}

// The calls around a node, innermost first.
export function groupsAround(answer, id) {
  const { byId } = groupIndex(answer);
  const chain = [];
  for (let group = groupOf(answer, id); group; group = byId.get(group.parent) ?? null) chain.push(group);
  return chain;
}

// The same operation in every call of the node's module within the same enclosing call (the
// steps of a loop): [{ group, id }] in call order, the node's own included; empty when the
// module ran once. Calls of one module record the same operations in the same order.
export function sameInEachCall(answer, id) {
  const group = groupOf(answer, id);
  if (!group) return [];
  const position = group.nodes.indexOf(id);
  const op = nodeById(answer, id)?.op;
  const calls = (answer.groups ?? []).filter((other) =>
    other.parent === group.parent && other.module === group.module);
  if (calls.length < 2) return [];
  return calls.flatMap((call) => {
    const other = call.nodes[position];
    return other !== undefined && nodeById(answer, other)?.op === op ? [{ group: call, id: other }] : [];
  });
}

// The answer's view with every call around the node expanded and their rolls unrolled: the
// view in which the node is drawn (app/server/views.py's rolls: calls of one module in one group).
export function viewOpening(answer, id) {
  const around = groupsAround(answer, id);
  const open = new Set(around.map((group) => group.id));
  const firstCalls = new Set();
  for (const group of around) {
    const first = (answer.groups ?? []).find((other) =>
      other.parent === group.parent && other.module === group.module);
    if (first) firstCalls.add(first.id);
  }
  return {
    collapsed: answer.view.collapsed.filter((each) => !open.has(each)),
    rolled: answer.view.rolled.filter((each) => !firstCalls.has(each)),
  };
}

// Every node reached from `start` by following `next` (a node's id -> the ids it leads to),
// `start` included: the page's one walk over the graph (app/contract/graphs.py has the server's).
export function reachedFrom(start, next) {
  const seen = new Set([start]);
  const pending = [start];
  while (pending.length) {
    for (const other of next(pending.pop())) {
      if (!seen.has(other)) {
        seen.add(other);
        pending.push(other);
      }
    }
  }
  return seen;
}

// Edges by the node they feed and by the node they leave, and the nodes from which the root
// can be reached: worked out once per answer, not on every selection (a graph can have
// thousands of edges). The lists are shared: read them, do not change them.
const indexes = new WeakMap();

function indexOf(answer) {
  let index = indexes.get(answer);
  if (index) return index;
  const inputs = new Map();
  const outputs = new Map();
  for (const edge of answer.edges) {
    if (!inputs.has(edge.target)) inputs.set(edge.target, []);
    inputs.get(edge.target).push(edge);
    if (!outputs.has(edge.source)) outputs.set(edge.source, []);
    outputs.get(edge.source).push(edge);
  }
  const reachesRoot = reachedFrom(answer.root, (id) => (inputs.get(id) ?? []).map((edge) => edge.source));
  index = { inputs, outputs, reachesRoot };
  indexes.set(answer, index);
  return index;
}

// Edges feeding the node (its forward inputs) and edges leaving it (its forward outputs).
export function inputsOf(answer, id) {
  return indexOf(answer).inputs.get(id) ?? [];
}

export function outputsOf(answer, id) {
  return indexOf(answer).outputs.get(id) ?? [];
}

// Every node and edge on a forward path from `id` to the root: where its gradient came from.
export function pathToRoot(answer, id) {
  const { reachesRoot } = indexOf(answer);
  const towardsRoot = (node) => outputsOf(answer, node).filter((edge) => reachesRoot.has(edge.target));
  const nodes = [...reachedFrom(id, (node) => towardsRoot(node).map((edge) => edge.target))];
  return { nodes, edges: nodes.flatMap(towardsRoot) };
}

// How backward made a node's gradient: along each edge out of it (towards the root), the
// gradient at the edge's target times the edge's local derivative (null between tensors).
// Several terms add up. `text`: the gradient the edge carried, as the answer writes it.
export function gradientTerms(answer, id) {
  return outputsOf(answer, id).filter((edge) => !edge.cut).map((edge) => {
    const target = nodeById(answer, edge.target);
    return { edge, target, upstream: target?.grad ?? null, local: edge.local ?? null, text: edge.grad_text };
  });
}

export function edgeElementId(edge) {
  return `edge-${edge.source}-${edge.target}-${edge.input_nr}`;
}

// Nodes whose op, variable names or module path contain the text, ignoring case.
export function findNodes(answer, text) {
  const query = text.trim().toLowerCase();
  if (!answer || !query) return [];
  return answer.nodes.filter((node) =>
    [node.op, ...node.variables, node.module ?? ""].some((name) => name.toLowerCase().includes(query)));
}
