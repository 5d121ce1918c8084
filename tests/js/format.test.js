// static/format.js: numbers as PyTorch prints them (and as app/contract/numbers.py's
// format_number draws them), tensors as short text, and one chain-rule term.
import assert from "node:assert/strict";
import { test } from "node:test";

import { formatNumber, formatTensor, formatTerm } from "../../static/format.js";

test("numbers print as PyTorch prints them", () => {
  const cases = [
    [3, "3"],
    [6.0, "6"],
    [-0, "-0"],
    [0, "0"],
    [-5.466781139373779, "-5.4668"],
    [0.5, "0.5000"],
    [1e-4, "0.0001"],
    [99999.5, "99999.5000"],
    [1e-7, "1.0000e-07"],
    [-2.5e-5, "-2.5000e-05"],
    [123456.5, "1.2346e+05"],
    [1e15, "1.0000e+15"],
    [1.5e300, "1.5000e+300"],
  ];
  for (const [value, text] of cases) assert.equal(formatNumber(value), text, `formatNumber(${value})`);
});

test("what JSON carries for special numbers passes through as text", () => {
  assert.equal(formatNumber("nan"), "nan");
  assert.equal(formatNumber("-inf"), "-inf");
  assert.equal(formatNumber(true), "true");
});

test("a tensor is a number, a few items, or a summary", () => {
  assert.equal(formatTensor(null), "None");
  assert.equal(formatTensor(undefined), "None");
  assert.equal(formatTensor(2.5), "2.5000");
  assert.equal(formatTensor([1, 2, 3]), "[1, 2, 3]");
  assert.equal(formatTensor([[1, 2], [3, 4]]), "[1, 2, 3, 4]");
  assert.equal(formatTensor([1, 2, 3, 4, 5, 6, 7]), "[1, 2, 3, 4, 5, 6, …]");
  assert.equal(formatTensor([1, 2, 3], 2), "[1, 2, …]");
  const summary = { shape: [32, 16], numel: 512, min: -1.25, max: 2, mean: 0.0001, head: [] };
  assert.equal(formatTensor(summary), "shape [32, 16]: min -1.2500, max 2, mean 0.0001");
});

test("a chain-rule term is the product when both factors are numbers", () => {
  const term = { upstream: -0.9111, local: 6, grad: -5.4668 };
  assert.equal(formatTerm(term), "-5.4668 = -0.9111 × 6");
  // A local derivative of -0 reads 0: it multiplied by nothing negative.
  assert.equal(formatTerm({ upstream: 1, local: -0, grad: 0 }), "0 = 1 × 0");
});

test("a term between tensors is the gradient alone", () => {
  assert.equal(formatTerm({ upstream: [1, 2], local: null, grad: [3, 4] }), "[3, 4]");
  assert.equal(formatTerm({ upstream: 1, local: null, grad: 2 }), "2");
});
