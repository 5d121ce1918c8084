// Questions about the answer's graph, answered from its JSON alone (no DOM).

// Whether there is a picture to show or export (a program without autograd draws nothing).
export function hasDrawing(answer) {
  return Boolean(answer.svg) && answer.nodes.length > 0;
}

export function nodeById(answer, id) {
  return answer?.nodes.find((node) => node.id === id) ?? null;
}

export function nodeTitle(node) {
  const names = node.variables.join(", ");
  if (node.kind === "leaf") return names || "leaf";
  return names ? `${node.op} → ${names}` : node.op;
}

// Edges feeding the node (its forward inputs) and edges leaving it (its forward outputs).
export function inputsOf(answer, id) {
  return answer.edges.filter((edge) => edge.target === id);
}

export function outputsOf(answer, id) {
  return answer.edges.filter((edge) => edge.source === id);
}

// Every node and edge on a forward path from `id` to the root: where its gradient came from.
export function pathToRoot(answer, id) {
  const reachesRoot = new Set([answer.root]);
  const pending = [answer.root];
  while (pending.length) {
    const current = pending.pop();
    for (const edge of inputsOf(answer, current)) {
      if (!reachesRoot.has(edge.source)) {
        reachesRoot.add(edge.source);
        pending.push(edge.source);
      }
    }
  }
  const nodes = new Set([id]);
  const edges = [];
  const forward = [id];
  while (forward.length) {
    const current = forward.pop();
    for (const edge of outputsOf(answer, current)) {
      if (!reachesRoot.has(edge.target)) continue;
      edges.push(edge);
      if (!nodes.has(edge.target)) {
        nodes.add(edge.target);
        forward.push(edge.target);
      }
    }
  }
  return { nodes: [...nodes], edges };
}

export function edgeElementId(edge) {
  return `edge-${edge.source}-${edge.target}-${edge.input_nr}`;
}

// Nodes whose op or variable names contain the text, ignoring case.
export function findNodes(answer, text) {
  const query = text.trim().toLowerCase();
  if (!answer || !query) return [];
  return answer.nodes.filter((node) =>
    [node.op, ...node.variables].some((name) => name.toLowerCase().includes(query)));
}
