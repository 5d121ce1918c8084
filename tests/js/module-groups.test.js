// static/graph-model.js: module calls (groups) in an answer, and the views that open them.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  findNodes,
  groupOf,
  groupsAround,
  sameInEachCall,
  viewOpening,
} from "../../static/graph-model.js";

function node(id, op, kind, variables, grad, module = null, call = null) {
  return { id, op, kind, variables, grad, module, call, value: null, shape: [], saved: {} };
}

// model (Net) holds a loop of three calls of model.cell (Linear): addmm then tanh in each;
// model.cell.weight is shared by the three, so it belongs to model's call.
function loop() {
  const nodes = [node(0, "SumBackward0", "root", ["loss"], 1, "model", 0)];
  const groups = [{ id: 0, module: "model", type: "Net", call: 0, parent: null, nodes: [0, 9] }];
  for (let step = 0; step < 3; step += 1) {
    const addmm = 1 + 2 * step;
    nodes.push(node(addmm, "AddmmBackward0", "op", [], [step, 0], "model.cell", step));
    nodes.push(node(addmm + 1, "TanhBackward0", "op", [], [step, 1], "model.cell", step));
    groups.push({ id: step + 1, module: "model.cell", type: "Linear", call: step, parent: 0, nodes: [addmm, addmm + 1] });
  }
  nodes.push(node(9, "AccumulateGrad", "leaf", ["model.cell.weight"], [1, 1], "model", 0));
  return { root: 0, nodes, edges: [], groups, layers: {}, view: { collapsed: [1, 2, 3], rolled: [1] } };
}

test("the calls around a node, innermost first", () => {
  const answer = loop();
  assert.deepEqual(groupsAround(answer, 4).map((group) => group.id), [2, 0]);
  assert.equal(groupOf(answer, 9).id, 0);
  assert.equal(groupOf(answer, 42), null);
});

test("opening a node expands its calls and unrolls their rolls, and nothing else", () => {
  const answer = loop();
  assert.deepEqual(viewOpening(answer, 6), { collapsed: [1, 2], rolled: [] });
  assert.deepEqual(viewOpening(answer, 0), { collapsed: [1, 2, 3], rolled: [1] });
});

test("the same operation in each step of a loop", () => {
  const answer = loop();
  const steps = sameInEachCall(answer, 4);
  assert.deepEqual(steps.map((step) => [step.group.call, step.id]), [[0, 2], [1, 4], [2, 6]]);
  assert.deepEqual(sameInEachCall(answer, 0), []);
});

test("find matches a module path", () => {
  assert.deepEqual(findNodes(loop(), "model.cell").map((each) => each.id), [1, 2, 3, 4, 5, 6, 9]);
});
