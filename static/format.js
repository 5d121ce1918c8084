// Numbers and tensors as text, for what the answer does not already hold as text: the grids'
// numbers, variables' .grad, saved values, the gradient check, the passes, the chain rule's
// factors. A node's title, value and gradient, and an edge's gradient, come as text in the
// answer (app/contract/text.py), which writes them by the same rule as here: one table of cases,
// tests/text_cases.json, holds both to it.
const WHOLE_LIMIT = 1e15;
const TENSOR_ITEMS = 4;  // app/contract/text.py's TENSOR_ITEMS

// Numbers as PyTorch prints them: 4 decimals (-5.4668), scientific when tiny or huge, whole
// numbers without decimals; True and False as Python writes them.
export function formatNumber(value) {
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value !== "number") return String(value);
  const size = Math.abs(value);
  if (Number.isInteger(value) && size < WHOLE_LIMIT) return Object.is(value, -0) ? "-0" : String(value);
  if (size >= 1e-4 && size < 1e5) return value.toFixed(4);
  // Two exponent digits, as PyTorch and Python write them: 1.0000e-07, not 1.0000e-7.
  return value.toExponential(4).replace(/e([+-])(\d)$/, (_, sign, digit) => `e${sign}0${digit}`);
}

// A tensor's JSON form in a few words: a number, its first `limit` items, or a large
// tensor's summary (its shape is shown beside it wherever it is shown); None when missing.
export function formatTensor(value, limit = TENSOR_ITEMS) {
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value)) {
    const flat = value.flat(Infinity);
    const items = flat.slice(0, limit).map((item) => formatTensor(item)).join(", ");
    return `[${items}${flat.length > limit ? ", …" : ""}]`;
  }
  if (typeof value === "object" && "shape" in value) {
    return `min ${formatNumber(value.min)}, max ${formatNumber(value.max)}, mean ${formatNumber(value.mean)}`;
  }
  return formatNumber(value);
}

// One term of the chain rule as the step-through and Details say it: "-5.4668 = -0.9111 × 6"
// (the gradient an edge carried back = the gradient at its target × the local derivative);
// the gradient alone when the factors are not single numbers. `term.text`: the edge's
// gradient as the answer writes it (graph-model.js's gradientTerms).
export function formatTerm(term) {
  const product = typeof term.upstream === "number" && typeof term.local === "number";
  if (!product) return term.text;
  return `${term.text} = ${formatNumber(term.upstream)} × ${formatNumber(term.local + 0)}`;
}
