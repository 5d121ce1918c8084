// static/graph-model.js: questions about an answer's graph, from its JSON alone.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  edgeElementId,
  findNodes,
  gradientTerms,
  hasDrawing,
  inputsOf,
  nodeById,
  outputsOf,
  pathToRoot,
  reachedFrom,
} from "../../static/graph-model.js";

function node(id, op, kind, variables, grad) {
  return { id, op, kind, variables, grad, value: null, shape: [], dtype: "float32", saved: {} };
}

// The chain-rule lesson as the API answers it: x = 3 (leaf), y = x**2, z = sin(y) (root).
function chainRule() {
  return {
    root: 3,
    svg: "<svg></svg>",
    layers: {},
    nodes: [
      node(1, "AccumulateGrad", "leaf", ["x"], -5.4668),
      node(2, "PowBackward0", "op", ["y"], -0.9111),
      node(3, "SinBackward0", "root", ["z"], 1),
    ],
    edges: [
      { source: 1, target: 2, input_nr: 0, grad: -5.4668, grad_text: "-5.4668", local: 6 },
      { source: 2, target: 3, input_nr: 0, grad: -0.9111, grad_text: "-0.9111", local: -0.9111 },
    ],
  };
}

// w is used twice (u = w * w, out = u + w) and c, a constant, is cut: (w*w + w) * c.
function sharedLeaf() {
  return {
    root: 4,
    svg: "<svg></svg>",
    layers: { 2: "model.0" },
    nodes: [
      node(1, "AccumulateGrad", "leaf", ["w"], 5),
      node(2, "MulBackward0", "op", ["u"], 1),
      node(3, "AddBackward0", "op", [], 1),
      node(4, "MulBackward0", "root", ["out"], 1),
      node(5, "Const", "const", ["c"], null),
    ],
    edges: [
      { source: 1, target: 2, input_nr: 0, grad: 2, local: 2 },
      { source: 1, target: 2, input_nr: 1, grad: 2, local: 2 },
      { source: 2, target: 3, input_nr: 0, grad: 1, local: 1 },
      { source: 1, target: 3, input_nr: 1, grad: 1, local: 1 },
      { source: 3, target: 4, input_nr: 0, grad: 1, local: 1 },
      { source: 5, target: 4, input_nr: 1, grad: null, local: null, cut: true },
    ],
  };
}

test("a drawing needs an SVG and nodes", () => {
  assert.equal(hasDrawing(chainRule()), true);
  assert.equal(hasDrawing({ ...chainRule(), svg: null }), false);
  assert.equal(hasDrawing({ ...chainRule(), nodes: [] }), false);
});

test("nodes are found by id, and an unknown id or no answer is null", () => {
  const answer = chainRule();
  assert.equal(nodeById(answer, 2).op, "PowBackward0");
  assert.equal(nodeById(answer, 99), null);
  assert.equal(nodeById(null, 1), null);
});

test("a walk reaches every node once, its start included, whatever the cycles", () => {
  const next = { 1: [2, 3], 2: [4], 3: [4], 4: [1], 5: [1] };
  assert.deepEqual(reachedFrom(1, (id) => next[id] ?? []), new Set([1, 2, 3, 4]));
  assert.deepEqual(reachedFrom(5, (id) => next[id] ?? []), new Set([5, 1, 2, 3, 4]));
  assert.deepEqual(reachedFrom(9, () => []), new Set([9]));
});

test("a chain as long as a long loop is walked without recursion", () => {
  const steps = 200_000;
  assert.equal(reachedFrom(0, (id) => (id < steps ? [id + 1] : [])).size, steps + 1);
});

test("inputs and outputs follow the forward direction", () => {
  const answer = sharedLeaf();
  assert.deepEqual(inputsOf(answer, 2).map((edge) => edge.input_nr), [0, 1]);
  assert.deepEqual(outputsOf(answer, 1).map((edge) => edge.target), [2, 2, 3]);
  assert.deepEqual(inputsOf(answer, 1), []);
  assert.deepEqual(outputsOf(answer, 4), []);
});

test("the path to the root holds every node and edge a gradient came along", () => {
  const answer = sharedLeaf();
  const path = pathToRoot(answer, 1);
  assert.deepEqual(new Set(path.nodes), new Set([1, 2, 3, 4]));
  // Both uses in u, u into the sum, w's own use in the sum, the sum into out; not the cut edge.
  assert.equal(path.edges.length, 5);
  const fromRoot = pathToRoot(answer, 4);
  assert.deepEqual(fromRoot, { nodes: [4], edges: [] });
});

test("each use sends back its term: upstream gradient times local derivative", () => {
  const answer = chainRule();
  const [term] = gradientTerms(answer, 1);
  assert.equal(term.target.id, 2);
  assert.equal(term.upstream, -0.9111);
  assert.equal(term.local, 6);
  assert.equal(term.text, "-5.4668");
  // w's three uses add up; a cut edge from a constant carries nothing.
  const shared = sharedLeaf();
  assert.equal(gradientTerms(shared, 1).length, 3);
  assert.deepEqual(gradientTerms(shared, 5), []);
});

test("edge element ids are unique per input of a target", () => {
  const [first, second] = inputsOf(sharedLeaf(), 2);
  assert.equal(edgeElementId(first), "edge-1-2-0");
  assert.notEqual(edgeElementId(first), edgeElementId(second));
});

test("search matches op and variable names, ignoring case and spaces around", () => {
  const answer = sharedLeaf();
  assert.deepEqual(findNodes(answer, "  mulback ").map((found) => found.id), [2, 4]);
  assert.deepEqual(findNodes(answer, "OUT").map((found) => found.id), [4]);
  assert.deepEqual(findNodes(answer, "   "), []);
  assert.deepEqual(findNodes(null, "x"), []);
});
