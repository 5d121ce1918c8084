// Tensors as a learner reads them: a number as text; a vector or a matrix as a small grid with
// its shape, each cell shaded by its sign and size (a heatmap), folded away behind a one-line
// summary when it has more than a few numbers; anything else as its text (the answer's, e.g.
// a node's value_text, else format.js's).
import { element } from "./dom.js";
import { formatNumber, formatTensor } from "./format.js";

const SHADES = 4;  // app.css: .shade-pos-1 ... .shade-neg-4
const OPEN_UP_TO = 4;  // elements shown unfolded

function shapeOf(value) {
  const shape = [];
  for (let item = value; Array.isArray(item); item = item[0]) shape.push(item.length);
  return shape;
}

function grid(rows, largest) {
  const table = element("table", null, "tensor-grid");
  const body = table.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const value of row) {
      const cell = line.insertCell();
      cell.textContent = formatNumber(value);
      if (typeof value === "number" && value !== 0 && largest > 0) {
        const level = Math.min(SHADES, Math.ceil((Math.abs(value) / largest) * SHADES));
        cell.className = `shade-${value < 0 ? "neg" : "pos"}-${level}`;
      }
    }
  }
  return table;
}

export function tensorView(value, text = formatTensor(value)) {
  const shape = shapeOf(value);
  if (shape.length === 0 || shape.length > 2 || shape.includes(0)) {
    return element("code", text);
  }
  const rows = shape.length === 1 ? [value] : value;
  const numbers = rows.flat().filter((item) => typeof item === "number");
  const largest = numbers.reduce((most, item) => Math.max(most, Math.abs(item)), 0);
  const size = shape.join("×");
  const table = grid(rows, largest);
  table.setAttribute("aria-label", `${size} tensor`);
  if (rows.flat().length <= OPEN_UP_TO) {
    const box = element("div", null, "tensor");
    box.append(element("span", size, "tensor-shape"), table);
    return box;
  }
  const folded = element("details", null, "tensor");
  folded.append(element("summary", `${size}: ${text}`), table);
  return folded;
}
