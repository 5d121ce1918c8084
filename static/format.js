// Numbers as PyTorch prints them: 4 decimals (-5.4668), scientific when tiny or huge, whole
// numbers without decimals. The drawing's format_number (app/contract/numbers.py) is the same rule.
const WHOLE_LIMIT = 1e15;

export function formatNumber(value) {
  if (typeof value !== "number") return String(value);
  const size = Math.abs(value);
  if (Number.isInteger(value) && size < WHOLE_LIMIT) return Object.is(value, -0) ? "-0" : String(value);
  if (size >= 1e-4 && size < 1e5) return value.toFixed(4);
  // Two exponent digits, as PyTorch and Python write them: 1.0000e-07, not 1.0000e-7.
  return value.toExponential(4).replace(/e([+-])(\d)$/, (_, sign, digit) => `e${sign}0${digit}`);
}

// A short text for a tensor's JSON form: a number, a few items, or a summary.
export function formatTensor(value, limit = 6) {
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value)) {
    const flat = value.flat(Infinity);
    const items = flat.slice(0, limit).map(formatNumber).join(", ");
    return `[${items}${flat.length > limit ? ", …" : ""}]`;
  }
  if (typeof value === "object" && "shape" in value) {
    return `shape [${value.shape.join(", ")}]: min ${formatNumber(value.min)}, ` +
      `max ${formatNumber(value.max)}, mean ${formatNumber(value.mean)}`;
  }
  return formatNumber(value);
}

// One term of the chain rule as the step-through and Details say it: "-5.4668 = -0.9111 × 6"
// (the gradient an edge carried back = the gradient at its target × the local derivative);
// the gradient alone when the factors are not single numbers.
export function formatTerm(term) {
  const product = typeof term.upstream === "number" && typeof term.local === "number";
  if (!product) return formatTensor(term.grad);
  return `${formatTensor(term.grad)} = ${formatNumber(term.upstream)} × ${formatNumber(term.local + 0)}`;
}
