// The server's SVG inline: pan and zoom, keyboard-focusable nodes, selection and highlights.
import { edgeElementId, hasDrawing, pathToRoot } from "./graph-model.js";
import { getAnswer, on, select } from "./state.js";

const box = document.getElementById("graph");
const CLICK_SLOP_PX = 4;  // a press that moves further than this is a pan, not a click
let panZoom = null;
let pressedAt = null;

function placeholder(text) {
  const note = document.createElement("p");
  note.className = "placeholder";
  note.textContent = text;
  box.replaceChildren(note);
}

function nodeElement(id) {
  return box.querySelector(`#node-${id}`);
}

// Each node becomes a button: Tab reaches it, and its name is the text it shows plus its kind.
function prepareNodes(svg, answer) {
  const elements = new Map([...svg.querySelectorAll("g.node")].map((g) => [g.id, g]));
  for (const node of answer.nodes) {
    const element = elements.get(`node-${node.id}`);
    if (!element) continue;
    const shown = [...element.querySelectorAll("text")].map((text) => text.textContent.trim());
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
    element.setAttribute("aria-label", `${shown.join(" ")} — ${node.kind}`);
    element.dataset.nodeId = String(node.id);
  }
  // Graphviz titles hold internal ids ("n2", "n2->n3"): tooltips and names that help no one.
  for (const title of svg.querySelectorAll("title")) title.remove();
}

function show(answer) {
  panZoom?.destroy();
  panZoom = null;
  if (!answer) {
    placeholder("No graph: the last run failed (see the error).");
    return;
  }
  if (!hasDrawing(answer)) {
    placeholder(answer.nodes.length
      ? "The graph could not be drawn (see the warnings); the Details and Variables still hold every gradient."
      : "No autograd graph: no tensor in this program requires grad.");
    return;
  }
  const parsed = new DOMParser().parseFromString(answer.svg, "image/svg+xml");
  const svg = document.importNode(parsed.documentElement, true);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  // Set through the CSSOM, which the CSP allows; svg-pan-zoom would otherwise write a style
  // attribute, which the CSP refuses.
  svg.style.overflow = "hidden";
  prepareNodes(svg, answer);
  box.replaceChildren(svg);
  panZoom = window.svgPanZoom(svg, {
    zoomScaleSensitivity: 0.25,
    minZoom: 0.1,
    maxZoom: 20,
    dblClickZoomEnabled: false,
    fit: true,
    center: true,
  });
}

export function highlightNodes(ids, className) {
  for (const id of ids) nodeElement(id)?.classList.add(className);
}

export function clearHighlight(className) {
  for (const element of box.querySelectorAll(`.${className}`)) element.classList.remove(className);
}

function showSelection(id) {
  clearHighlight("selected");
  clearHighlight("on-path");
  const answer = getAnswer();
  if (id === null || !answer) return;
  const path = pathToRoot(answer, id);
  highlightNodes(path.nodes, "on-path");
  for (const edge of path.edges) box.querySelector(`#${edgeElementId(edge)}`)?.classList.add("on-path");
  const element = nodeElement(id);
  element?.classList.add("selected");
  if (element && document.activeElement !== element && box.contains(document.activeElement)) {
    element.focus();
  }
  // After the Details panel has drawn itself for this selection (it listens after us).
  if (element) requestAnimationFrame(() => reveal(element));
}

// Pans a selected box into the part of the graph the Details panel leaves free (it lies over
// the graph's right side below 1440 px), when it is hidden there or out of view.
function reveal(element) {
  if (!panZoom) return;
  const area = box.getBoundingClientRect();
  const panel = document.getElementById("details");
  const overlay = panel.getBoundingClientRect();
  const covers = overlay.width > 0 && overlay.left > area.left && overlay.left < area.right;
  const freeRight = covers ? overlay.left - 8 : area.right;
  const node = element.getBoundingClientRect();
  const free = node.left >= area.left && node.right <= freeRight && node.top >= area.top &&
    node.bottom <= area.bottom;
  if (free) return;
  const visibleTop = Math.max(area.top, 0);
  const visibleBottom = Math.min(area.bottom, window.innerHeight);
  panZoom.panBy({
    x: (area.left + freeRight) / 2 - (node.left + node.right) / 2,
    y: (visibleTop + visibleBottom) / 2 - (node.top + node.bottom) / 2,
  });
}

function nodeIdFrom(target) {
  const element = target.closest?.("[data-node-id]");
  return element ? Number(element.dataset.nodeId) : null;
}

function fit() {
  panZoom?.resize();
  panZoom?.fit();
  panZoom?.center();
}

export function initGraphView() {
  on("answer", show);
  on("select", showSelection);
  box.addEventListener("pointerdown", (event) => { pressedAt = [event.clientX, event.clientY]; });
  box.addEventListener("click", (event) => {
    const moved = pressedAt && Math.hypot(event.clientX - pressedAt[0], event.clientY - pressedAt[1]);
    const id = nodeIdFrom(event.target);
    if (id !== null && !(moved > CLICK_SLOP_PX)) select(id);
  });
  box.addEventListener("keydown", (event) => {
    const id = nodeIdFrom(event.target);
    if (id !== null && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      select(id);
    }
  });
  document.getElementById("zoom-in").addEventListener("click", () => panZoom?.zoomIn());
  document.getElementById("zoom-out").addEventListener("click", () => panZoom?.zoomOut());
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("reset").addEventListener("click", () => panZoom?.reset());
  window.addEventListener("resize", () => panZoom?.resize());
}
