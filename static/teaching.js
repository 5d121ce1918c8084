// The teaching views of one API answer: step through backward, the passes timeline, the
// gradient check and the chain rule's "explain" view. Built with textContent only (the
// answer holds user names and values) and classes only (the CSP forbids inline styles).
//
//   import { renderTeaching } from "./teaching.js";
//   const view = renderTeaching(answer, { container, highlightNode });
//   view.fillGradcheck(answer);  // once a pending gradient check has come into the answer
//   view.destroy();  // before rendering the next answer: stops the player
//
// container: the element the views are built into (its children are replaced).
// playerContainer: where the step-through goes instead (the page puts it under the graph).
// highlightNode(id, step): lights up the node backward has reached, the step-th (id null:
//   clear the marks); the page does it through graph-view.js (see teaching-panel.js).
import { formatNumber, formatTensor, formatTerm } from "./format.js";
import { gradientTerms } from "./graph-model.js";
import { element } from "./dom.js";

const PLAY_INTERVAL_MS = 1200;

function section(title, id) {
  const box = element("section", null, "teaching-section");
  const heading = element("h3", title);
  heading.id = id;
  box.setAttribute("aria-labelledby", id);
  box.append(heading);
  return box;
}

function table(headers, rows, label) {
  const grid = element("table", null, "teaching-table");
  grid.setAttribute("aria-label", label);
  const head = grid.createTHead().insertRow();
  for (const text of headers) {
    const th = element("th", text);
    th.scope = "col";
    head.append(th);
  }
  const body = grid.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    cells.forEach((cell, index) => {
      const td = element(index === 0 ? "th" : "td", null);
      if (index === 0) td.scope = "row";
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      row.append(td);
    });
  }
  return grid;
}

// Step through backward ------------------------------------------------------------------

// How the gradient reaching a node was made: "-5.4668 = -0.9111 × 6 (the gradient at y times
// the local derivative)", or the shares of several uses adding up.
function arrival(answer, node) {
  const terms = gradientTerms(answer, node.id);
  if (node.kind === "root" || terms.length === 0) return node.grad_text;
  if (terms.length === 1) {
    const [term] = terms;
    const at = term.target?.title ?? "the next node";
    const told = formatTerm(term);
    return told === term.text ? told : `${told} (the gradient at ${at} times the local derivative)`;
  }
  const shares = terms.map((term) => term.text);
  return `${node.grad_text}, the sum of its ${terms.length} uses: ${shares.join(" + ")}`;
}

function stepper(answer, options) {
  const box = section("Step through backward", "teaching-steps-heading");
  const order = answer.nodes
    .filter((node) => node.backward_step !== null && node.backward_step !== undefined)
    .sort((a, b) => a.backward_step - b.backward_step);
  if (!order.length) {
    box.append(element("p", "No backward pass ran through this graph."));
    return { box, stop() {} };
  }
  const highlight = options.highlightNode;
  const controls = element("div", null, "teaching-controls");
  const play = element("button", "Play");
  const pause = element("button", "Pause");
  const step = element("button", "Step");
  const reset = element("button", "Reset");
  for (const button of [play, pause, step, reset]) {
    button.type = "button";
    controls.append(button);
  }
  const status = element("p", "Press Play or Step: backward starts at the root.", "teaching-status");
  status.setAttribute("aria-live", "polite");
  // Every step so far, folded away: the narration above says the current one.
  const steps = element("details", null, "teaching-steps");
  steps.append(element("summary", "All steps so far"));
  const trail = element("ol", null, "teaching-trail");
  steps.append(trail);
  box.append(controls, status, steps);

  let position = 0;
  let timer = null;
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    pause.disabled = true;
    play.disabled = false;
  };
  const restart = () => {
    stop();
    position = 0;
    trail.replaceChildren();
    highlight(null, 0);
    status.textContent = "Press Play or Step: backward starts at the root.";
    step.disabled = false;
  };
  const advance = () => {
    if (position >= order.length) {
      stop();
      return;
    }
    const node = order[position];
    position += 1;
    highlight(node.id, position);
    const text = `Step ${position} of ${order.length}: ${node.title} receives the gradient ` +
      `${arrival(answer, node)}${node.kind === "leaf" ? ", which is added to its .grad." : "."}`;
    status.textContent = text;
    trail.append(element("li", text));
    if (position >= order.length) {
      stop();
      step.disabled = true;
      status.textContent = `${text} Backward is done.`;
    }
  };
  play.addEventListener("click", () => {
    if (position >= order.length) restart();
    advance();
    if (position < order.length) {
      timer = setInterval(advance, PLAY_INTERVAL_MS);
      play.disabled = true;
      pause.disabled = false;
    }
  });
  pause.addEventListener("click", stop);
  step.addEventListener("click", () => {
    stop();
    advance();
  });
  reset.addEventListener("click", restart);
  pause.disabled = true;
  return { box, stop };
}

// Passes timeline --------------------------------------------------------------------------

const PASS_TITLES = {
  backward: (root) => `backward() from ${root ?? "an unnamed tensor"}`,
  grad: (root) => `torch.autograd.grad from ${root ?? "an unnamed tensor"} (.grad unchanged)`,
  server: (root) => `backward from ${root ?? "the root"}, run by the explorer`,
  reset: () => ".grad reset (zero_(), zero_grad())",
  changed: () => ".grad changed between passes",
};

function timeline(answer) {
  const box = section("Backward passes", "teaching-passes-heading");
  const passes = answer.backward_passes ?? [];
  if (!passes.length) {
    box.append(element("p", "No backward pass ran."));
    return box;
  }
  const list = element("ol", null, "teaching-passes");
  passes.forEach((entry) => {
    const item = element("li", null, `teaching-pass teaching-pass-${entry.kind}`);
    item.append(element("p", PASS_TITLES[entry.kind]?.(entry.root) ?? entry.kind, "teaching-pass-title"));
    const rows = Object.keys(entry.grads).map((name) => [
      name,
      formatTensor(entry.grads[name]),
      formatTensor(entry.values[name]),
    ]);
    if (rows.length) item.append(table(["leaf", ".grad", "value"], rows, "Leaves after this entry"));
    list.append(item);
  });
  box.append(list);
  return box;
}

// Gradient check and chain rule ------------------------------------------------------------

// A leaf checked along one random direction only (too large to move element by element).
function alongOnly(check) {
  return Boolean(check.direction) && check.numeric === null;
}

function verdict(check) {
  if (check.ok === null || check.ok === undefined) {
    return element("span", check.note ?? "not checked", "teaching-skipped");
  }
  const box = element("span");
  box.append(check.ok ? element("span", "✓ agrees", "teaching-ok") : element("span", "✗ differs", "teaching-bad"));
  // Checked along one direction only: the note says why, under the verdict.
  if (alongOnly(check)) box.append(element("span", check.note, "teaching-note"));
  return box;
}

// Element by element: the numeric gradient. Along one direction v: its slope, beside
// autograd's gradient · v (what the two must agree on).
function numeric(check) {
  if (!alongOnly(check)) return formatTensor(check.numeric);
  const along = check.direction;
  const autograd = along.autograd === null ? "none" : formatNumber(along.autograd);
  return `slope along v: ${formatNumber(along.numeric)} (autograd's gradient · v: ${autograd})`;
}

function gradcheck(answer) {
  const box = section("Gradient check: autograd against finite differences", "teaching-check-heading");
  if (answer.pending?.includes("gradcheck")) {
    // The answer came before its gradient check: fillGradcheck replaces this when it comes.
    box.setAttribute("aria-busy", "true");
    box.append(element("p", "Each leaf nudged up and down, the root computed again: checking…", "teaching-pending"));
    return box;
  }
  const entries = Object.entries(answer.gradcheck ?? {});
  if (!entries.length) {
    // A check that could not be made or fetched says why among the warnings.
    const failed = answer.warnings.find((text) => text.startsWith("The gradient check could not"));
    box.append(element("p", failed ?? "There is no leaf to check."));
    return box;
  }
  box.append(
    element(
      "p",
      "Each leaf nudged up and down by a tiny step, the root computed again in float64: " +
        "(f(x + h) − f(x − h)) / 2h should equal autograd's gradient.",
    ),
  );
  if (entries.some(([, check]) => alongOnly(check))) {
    box.append(
      element(
        "p",
        "A leaf too large to nudge one element at a time is nudged along one random " +
          "direction v instead (every element up or down by the same tiny step): the " +
          "slope (f(x + hv) − f(x − hv)) / 2h should equal autograd's gradient · v.",
      ),
    );
  }
  const rows = entries.map(([name, check]) => [
    name,
    formatTensor(check.autograd),
    numeric(check),
    verdict(check),
  ]);
  box.append(table(["leaf", "autograd", "numeric", "result"], rows, "Gradient check per leaf"));
  return box;
}

function explain(answer) {
  const box = section("Explain: the chain rule", "teaching-explain-heading");
  const entries = Object.entries(answer.chain_rule ?? {});
  if (!entries.length) {
    box.append(
      element("p", "The chain rule is spelled out for graphs of single numbers (scalars) only."),
    );
    return box;
  }
  for (const [leaf, rule] of entries) {
    const details = element("details", null, "teaching-explain");
    details.append(element("summary", `Explain the gradient of ${leaf}`));
    details.append(element("p", rule.text, "teaching-formula"));
    rule.paths.forEach((path, index) => {
      if (rule.paths.length > 1) details.append(element("p", `Path ${index + 1}:`));
      const factors = element("ul", null, "teaching-factors");
      for (const factor of path.factors) {
        const formula = factor.formula ? ` = ${factor.formula}` : "";
        factors.append(element("li", `${factor.derivative}${formula} = ${formatTensor(factor.value)}`));
      }
      factors.append(element("li", `product = ${formatTensor(path.product)}`, "teaching-product"));
      details.append(factors);
    });
    box.append(details);
  }
  return box;
}

function constants(answer) {
  const cut = answer.nodes.filter((node) => node.kind === "const");
  if (!cut.length) return null;
  const box = section("Cut from the graph", "teaching-cut-heading");
  const list = element("ul", null, "teaching-cut");
  for (const node of cut) {
    list.append(element("li", `${node.variables.join(", ") || "a tensor"}: ${node.note ?? ""}`));
  }
  box.append(list);
  return box;
}

export function renderTeaching(answer, options = {}) {
  const { container } = options;
  const player = stepper(answer, options);
  let check = gradcheck(answer);
  const parts = [timeline(answer), check, explain(answer), constants(answer)];
  if (options.playerContainer) options.playerContainer.replaceChildren(player.box);
  else parts.unshift(player.box);
  container.replaceChildren(...parts.filter((part) => part !== null));
  container.classList.add("teaching");
  return {
    destroy: player.stop,
    // The answer's gradient check has come (it was pending): shown in place of "checking…".
    fillGradcheck(completed) {
      const filled = gradcheck(completed);
      check.replaceWith(filled);
      check = filled;
    },
  };
}
