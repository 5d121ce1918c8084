import { formatTensor } from "./format.js";

const code = document.getElementById("code");
const output = document.getElementById("output");
const runButton = document.getElementById("run");
const errorBox = document.getElementById("error");
const graphBox = document.getElementById("graph");
const stdoutBox = document.getElementById("stdout");
const warningsList = document.getElementById("warnings");
const variablesBody = document.querySelector("#variables tbody");

function showError(problem) {
  const where = problem.line ? ` (line ${problem.line}, column ${problem.column})` : "";
  errorBox.textContent = `${problem.title}: ${problem.detail}${where}`;
  errorBox.hidden = false;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

function showVariables(variables) {
  variablesBody.replaceChildren();
  for (const [name, info] of Object.entries(variables)) {
    const row = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = name;
    row.append(th);
    cell(row, formatTensor(info.value));
    cell(row, formatTensor(info.grad));
    cell(row, info.grad_fn ?? "None");
    cell(row, String(info.requires_grad));
    cell(row, info.is_leaf ? "leaf" : "non-leaf");
    variablesBody.append(row);
  }
}

function showGraph(svgText) {
  graphBox.replaceChildren();
  if (!svgText) return;
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  graphBox.append(document.importNode(parsed.documentElement, true));
}

async function run() {
  runButton.disabled = true;
  runButton.setAttribute("aria-busy", "true");
  errorBox.hidden = true;
  try {
    const response = await fetch("/api/graph", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: code.value, output: output.value.trim() || null }),
    });
    const body = await response.json();
    if (!response.ok) {
      showError(body);
      return;
    }
    showGraph(body.svg);
    showVariables(body.variables);
    stdoutBox.textContent = body.stdout;
    warningsList.replaceChildren(...body.warnings.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
  } catch (error) {
    showError({ title: "Network error", detail: String(error) });
  } finally {
    runButton.disabled = false;
    runButton.removeAttribute("aria-busy");
  }
}

runButton.addEventListener("click", run);
code.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    run();
  }
});
