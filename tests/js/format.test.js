// static/format.js: numbers as PyTorch prints them, tensors as short text (as app/contract/text.py
// writes them: both are held to tests/text_cases.json), and one chain-rule term.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { formatNumber, formatTensor, formatTerm } from "../../static/format.js";

const { cases } = JSON.parse(readFileSync(new URL("../text_cases.json", import.meta.url), "utf8"));

test("values read as app/contract/text.py writes them (tests/text_cases.json)", () => {
  assert.ok(cases.length > 20);
  for (const { value, limit, text } of cases) {
    assert.equal(formatTensor(value, limit), text, `formatTensor(${JSON.stringify(value)}, ${limit})`);
  }
});

test("a missing value is None, as PyTorch prints a .grad that never came", () => {
  assert.equal(formatTensor(undefined), "None");
});

test("numbers print as PyTorch prints them", () => {
  assert.equal(formatNumber(-5.466781139373779), "-5.4668");
  assert.equal(formatNumber(-0), "-0");
  assert.equal(formatNumber(false), "False");
});

test("a chain-rule term is the product when both factors are numbers", () => {
  const term = { upstream: -0.9111, local: 6, text: "-5.4668" };
  assert.equal(formatTerm(term), "-5.4668 = -0.9111 × 6");
  // A local derivative of -0 reads 0: it multiplied by nothing negative.
  assert.equal(formatTerm({ upstream: 1, local: -0, text: "0" }), "0 = 1 × 0");
});

test("a term between tensors is the gradient alone", () => {
  assert.equal(formatTerm({ upstream: [1, 2], local: null, text: "[3, 4]" }), "[3, 4]");
  assert.equal(formatTerm({ upstream: 1, local: null, text: "2" }), "2");
});
