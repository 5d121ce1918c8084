// The server's SVG inline: pan and zoom, keyboard-focusable nodes, selection and highlights.
import { edgeElementId, hasDrawing, pathToRoot, viewOpening } from "./graph-model.js";
import { fetchRetrying } from "./retry.js";
import { getAnswer, on, redrawn, select } from "./state.js";

let box = null;  // the page's elements, from initGraphView
let stage = null;  // .graph-stage: its --graph-height sizes the pane
let detailsPanel = null;
let statusLine = null;  // where a view that could not be drawn is told
let programOf = () => undefined;  // the program an answer came from
const CLICK_SLOP_PX = 4;  // a press that moves further than this is a pan, not a click
let panZoom = null;
let pressedAt = null;

function placeholder(text) {
  const note = document.createElement("p");
  note.className = "placeholder";
  note.textContent = text;
  box.replaceChildren(note);
}

// Every box drawn for a node: one, or one per use of a leaf drawn once per use (app/server/render.py),
// or the box of the collapsed module call that holds it.
function nodeElements(id) {
  const own = [...box.querySelectorAll(`[data-node-id="${id}"]`)];
  const holder = own.length ? null : getAnswer()?.shown_in?.[id];
  const group = holder ? box.querySelector(`g.node#${holder}`) : null;
  return group ? [group] : own;
}

// How many boxes show these nodes (a leaf drawn once per use counts each use).
export function drawnCount(ids) {
  return ids.reduce((count, id) => count + nodeElements(id).length, 0);
}

// Each box becomes a button: Tab reaches it, and its name is the text it shows plus its kind.
// The copies of a leaf drawn once per use (id node-N-copyK) are the same node.
function prepareNodes(svg, answer) {
  const kinds = new Map(answer.nodes.map((node) => [node.id, node.kind]));
  for (const element of svg.querySelectorAll("g.node")) {
    const match = /^node-(\d+)(?:-copy\d+)?$/.exec(element.id);
    const id = match ? Number(match[1]) : null;
    if (id === null || !kinds.has(id)) continue;
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
    element.dataset.nodeId = String(id);
  }
  // Graphviz titles hold internal ids ("n2", "n2->n3"): tooltips and names that help no one.
  // A box's own title names it instead: the text it shows plus its kind. (Not aria-label,
  // which must hold the visible text in order, and a box half out of the view shows part.)
  for (const title of svg.querySelectorAll("title")) title.remove();
  for (const element of svg.querySelectorAll("g.node[data-node-id]")) {
    const shown = [...element.querySelectorAll("text")].map((text) => text.textContent.trim());
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${shown.join(" ")} — ${kinds.get(Number(element.dataset.nodeId))}`;
    element.prepend(title);
  }
  prepareGroups(svg);
}

// A module call is a cluster whose title collapses it, or one box (a roll of calls: one box
// for all) that expands it: each a button, named by what it does.
function prepareGroups(svg) {
  const toggles = [
    ...[...svg.querySelectorAll("g.group-cluster")].map((cluster) => [cluster.querySelector("text"), cluster, "Collapse"]),
    ...[...svg.querySelectorAll("g.node-group")].map((group) => [group, group, group.classList.contains("node-rolled") ? "Unroll" : "Expand"]),
  ];
  for (const [element, group, action] of toggles) {
    const match = /^group-(\d+)$/.exec(group.id);
    if (!element || !match) continue;
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
    element.classList.add("group-toggle");
    element.dataset.groupId = match[1];
    element.dataset.action = action.toLowerCase();
    const name = group.querySelector("text")?.textContent.trim() ?? "";
    element.setAttribute("aria-label", `${action} ${name}`);
  }
}

// Text stays readable: the smallest text of the drawing at least this many pixels tall, and
// a small graph magnified no more than MAX_SCALE; a tall graph makes the pane taller (up to
// TALL_SCREENS window heights; beyond, drag to pan) and the page scrolls to it.
const MIN_TEXT_PX = 11;
const MAX_SCALE = 1.5;
const TALL_SCREENS = 3;
const MIN_HEIGHT_PX = 300;
const MAX_ZOOM = 20;  // times the whole graph fitted in the pane, unless reading needs more
const MARGIN_PX = 8;
let content = null;  // the drawing's extent, in its own units
let smallestText = MIN_TEXT_PX;

// The pane's height before a graph asks for more: app.css's clamp(360px, 62vh, 820px).
function defaultHeight() {
  return Math.min(Math.max(360, 0.62 * window.innerHeight), 820);
}

// The page has its own legend (with the selection, path and step-through marks), so the
// drawing's is taken out, and the picture cropped to what is left. Exports keep it.
function cropToGraph(svg) {
  svg.querySelector("#legend")?.remove();
  const graph = svg.querySelector("g.graph");
  graph?.querySelector(":scope > polygon")?.remove();  // the page-sized background
  if (!graph) return;
  const extent = drawnExtent(graph);
  const m = graph.transform.baseVal.consolidate()?.matrix ?? { a: 1, d: 1, e: 0, f: 0 };
  const x = m.a * extent.x + m.e - MARGIN_PX;
  const y = m.d * extent.y + m.f - MARGIN_PX;
  const width = m.a * extent.width + 2 * MARGIN_PX;
  svg.setAttribute("viewBox", `${x} ${y} ${width} ${m.d * extent.height + 2 * MARGIN_PX}`);
}

// What the drawing covers, in its own units: the outlines of its boxes and clusters, and its
// edge labels. Not the text inside boxes: Chromium lays SVG text out at its size on screen,
// with a minimum, so in a drawing thousands of boxes tall, just inserted and fitted whole,
// each title's extent reads dozens of times its size. (Drawings that big carry no edge
// labels; smaller ones are not scaled down enough to matter.)
function drawnExtent(graph) {
  const parts = graph.querySelectorAll(
    ":scope > :is(g.node, g.cluster) > :is(path, polygon, ellipse), :scope > g.edge > text",
  );
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (const part of parts) {
    const { x, y, width, height } = part.getBBox();
    left = Math.min(left, x);
    top = Math.min(top, y);
    right = Math.max(right, x + width);
    bottom = Math.max(bottom, y + height);
  }
  if (left === Infinity) return graph.getBBox();
  return { x: left, y: top, width: right - left, height: bottom - top };
}

// The readable view: the whole graph when its text stays readable so, else wide enough to
// read, in a pane as tall as the graph needs; centred, or from the top when taller.
function fitReadable() {
  if (!panZoom || !content) return;
  const width = box.clientWidth;
  const base = defaultHeight();
  const fitted = Math.min(width / content.width, base / content.height);
  const scale = Math.max(MIN_TEXT_PX / smallestText, Math.min(fitted, MAX_SCALE));
  const needed = content.height * scale + 2 * MARGIN_PX;
  const height = Math.min(Math.max(needed, base, MIN_HEIGHT_PX), TALL_SCREENS * window.innerHeight);
  stage.style.setProperty("--graph-height", `${Math.round(height)}px`);
  panZoom.resize();
  const original = Math.min(box.clientWidth / content.width, box.clientHeight / content.height);
  // svg-pan-zoom's zoom is relative to the whole graph fitted in the pane: a graph of
  // thousands of steps needs far more than MAX_ZOOM times that to be read, and a little more
  // to zoom in from there.
  panZoom.setMaxZoom(Math.max(MAX_ZOOM, (2 * scale) / original));
  panZoom.zoom(scale / original);
  const drawnWidth = content.width * scale;
  const drawnHeight = content.height * scale;
  panZoom.pan({
    x: (box.clientWidth - drawnWidth) / 2 - content.x * scale,
    y: drawnHeight <= box.clientHeight
      ? (box.clientHeight - drawnHeight) / 2 - content.y * scale
      : MARGIN_PX - content.y * scale,
  });
}

function show(answer) {
  panZoom?.destroy();
  panZoom = null;
  content = null;
  stage.style.removeProperty("--graph-height");
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
  selectedId = null;
  const { view, svg, dot, shown_in: shownIn } = answer;
  drawings = new Map([[viewKey(view), { view, svg, dot, shown_in: shownIn }]]);
  draw(answer);
}

// The answer's current SVG into the pane, fitted.
function draw(answer) {
  panZoom?.destroy();
  panZoom = null;
  if (!answer.svg) {
    placeholder("This view could not be drawn (see the warnings); the Details still hold every gradient.");
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
  cropToGraph(svg);
  const sizes = [...svg.querySelectorAll("text")]
    .map((text) => Number.parseFloat(text.getAttribute("font-size")))
    .filter((size) => size > 0);
  smallestText = sizes.length ? Math.min(...sizes) : MIN_TEXT_PX;
  const [x, y, width, height] = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
  content = { x, y, width, height };
  panZoom = window.svgPanZoom(svg, {
    zoomScaleSensitivity: 0.25,
    minZoom: 0.1,
    maxZoom: MAX_ZOOM,
    dblClickZoomEnabled: false,
    // The wheel scrolls the page (a tall graph makes the pane tall); Ctrl+wheel zooms.
    mouseWheelZoomEnabled: false,
    fit: true,
    center: true,
  });
  fitReadable();
}

// Ctrl (or ⌘) + wheel, and a touchpad's pinch, zoom at the pointer.
function wheelZoom(event) {
  if (!panZoom || !(event.ctrlKey || event.metaKey)) return;
  event.preventDefault();
  const area = box.getBoundingClientRect();
  const factor = Math.pow(1.25, -Math.sign(event.deltaY));
  panZoom.zoomAtPointBy(factor, { x: event.clientX - area.left, y: event.clientY - area.top });
}

export function highlightNodes(ids, className) {
  for (const id of ids) for (const element of nodeElements(id)) element.classList.add(className);
}

export function clearHighlight(className) {
  for (const element of box.querySelectorAll(`.${className}`)) element.classList.remove(className);
}

function showSelection(id) {
  selectedId = id;
  if (id !== null && getAnswer()?.shown_in?.[id]) {
    openAround(id);  // draws again, then shows this selection
    return;
  }
  clearHighlight("selected");
  clearHighlight("on-path");
  const answer = getAnswer();
  if (id === null || !answer) return;
  const path = pathToRoot(answer, id);
  highlightNodes(path.nodes, "on-path");
  for (const edge of path.edges) box.querySelector(`#${edgeElementId(edge)}`)?.classList.add("on-path");
  const elements = nodeElements(id);
  for (const each of elements) each.classList.add("selected");
  const focused = elements.find((each) => each === document.activeElement);
  const element = focused ?? elements[0];
  if (element && !focused && box.contains(document.activeElement)) element.focus();
  // After the Details panel has drawn itself for this selection (it listens after us).
  if (element) requestAnimationFrame(() => reveal(element));
}

// Pans a selected box into the part of the graph the Details panel leaves free (it lies over
// the graph's right side below 1440 px), when it is hidden there or out of view.
function reveal(element) {
  if (!panZoom) return;
  const area = box.getBoundingClientRect();
  const overlay = detailsPanel.getBoundingClientRect();
  const covers = overlay.width > 0 && overlay.left > area.left && overlay.left < area.right;
  const freeRight = covers ? overlay.left - 8 : area.right;
  const node = element.getBoundingClientRect();
  const free = node.left >= area.left && node.right <= freeRight && node.top >= area.top &&
    node.bottom <= area.bottom;
  if (free) return;
  const visibleTop = Math.max(area.top, 0);
  const visibleBottom = Math.min(area.bottom, window.innerHeight);
  const across = node.left >= area.left && node.right <= freeRight;
  const down = node.top >= visibleTop && node.bottom <= visibleBottom;
  panZoom.panBy({
    x: across ? 0 : (area.left + freeRight) / 2 - (node.left + node.right) / 2,
    y: down ? 0 : (visibleTop + visibleBottom) / 2 - (node.top + node.bottom) / 2,
  });
}

// `element` centred in the pane's visible part; from its top-left corner (a cluster's title)
// where it is taller or wider than that part.
function revealTop(element) {
  if (!panZoom) return;
  const area = box.getBoundingClientRect();
  const drawn = element.getBoundingClientRect();
  const visibleTop = Math.max(area.top, 0);
  const visibleBottom = Math.min(area.bottom, window.innerHeight);
  const tall = drawn.height > visibleBottom - visibleTop;
  const wide = drawn.width > area.width;
  panZoom.panBy({
    x: wide
      ? area.left + MARGIN_PX - drawn.left
      : (area.left + area.right) / 2 - (drawn.left + drawn.right) / 2,
    y: tall
      ? visibleTop + MARGIN_PX - drawn.top
      : (visibleTop + visibleBottom) / 2 - (drawn.top + drawn.bottom) / 2,
  });
}

function nodeIdFrom(target) {
  const element = target.closest?.("[data-node-id]");
  return element ? Number(element.dataset.nodeId) : null;
}

// Views of module calls (collapsed, rolled) are drawn by the server from the graph it keeps,
// without running the program again; each view drawn is kept here while the answer lasts.
let drawings = new Map();
let selectedId = null;

function viewKey(view) {
  const sorted = (ids) => [...new Set(ids ?? [])].sort((a, b) => a - b);
  return JSON.stringify([sorted(view?.collapsed), sorted(view?.rolled)]);
}

// The drawing of a view: kept (as its promise, so a hover and a click share one request),
// or asked of the server. A failure is not kept: the next toggle asks again.
function drawingOf(answer, view) {
  const key = viewKey(view);
  if (!drawings.has(key)) {
    const request = askForView(answer, view);
    request.catch(() => drawings.delete(key));
    drawings.set(key, request);
  }
  return Promise.resolve(drawings.get(key));
}

const JSON_POST = { method: "POST", headers: { "Content-Type": "application/json" } };

// The view from the graph the server keeps; where it keeps it no longer (a restart, a busy
// server's cache, another replica), from the program run again with that view.
async function askForView(answer, view) {
  let response = await fetchRetrying("/api/graph/view", {
    ...JSON_POST, body: JSON.stringify({ shape: answer.shape, view }),
  });
  const program = programOf(answer);
  if (response.status === 404 && program) {
    response = await fetchRetrying("/api/graph", {
      ...JSON_POST, body: JSON.stringify({ ...program, view }),
    });
  }
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.title ?? "Error"}: ${body.detail}`);
  const { svg, dot, shown_in: shownIn } = body;
  return { view: body.view, svg, dot, shown_in: shownIn };
}

async function showView(view) {
  const answer = getAnswer();
  if (!answer?.shape) return;
  let drawing;
  try {
    drawing = await drawingOf(answer, view);
  } catch (error) {
    statusLine.textContent = error.message;
    return;
  }
  if (getAnswer() !== answer) return;  // another run replaced it meanwhile
  answer.view = drawing.view;
  answer.svg = drawing.svg;
  answer.dot = drawing.dot;
  answer.shown_in = drawing.shown_in;
  draw(answer);
  showSelection(selectedId);
  redrawn(answer);
}

// The view a toggle leads to: its call collapsed, expanded, or its roll unrolled.
function toggledView(element) {
  const { view } = getAnswer();
  const id = Number(element.dataset.groupId);
  const collapsed = new Set(view.collapsed);
  const rolled = new Set(view.rolled);
  if (element.dataset.action === "collapse") collapsed.add(id);
  else if (element.dataset.action === "unroll") rolled.delete(id);
  else collapsed.delete(id);
  return { collapsed: [...collapsed], rolled: [...rolled] };
}

// A pointer resting on a toggle, or focus on it, asks for the view it leads to: the drawing
// is usually there by the click. A pointer passing over boxes asks for nothing (each request
// counts against the client's rate limit).
const HOVER_MS = 120;
let hovering = null;

function prefetch(toggle) {
  const answer = getAnswer();
  if (toggle && answer?.shape) drawingOf(answer, toggledView(toggle)).catch(() => {});
}

function pointerOver(event) {
  clearTimeout(hovering);
  const toggle = event.target.closest?.(".group-toggle");
  if (toggle) hovering = setTimeout(() => prefetch(toggle), HOVER_MS);
}

// A cluster's title collapses its call; a box expands it, or unrolls a roll of calls.
function toggleGroup(element) {
  const id = Number(element.dataset.groupId);
  return showView(toggledView(element)).then(() => {
    // The call's new toggle: its box once collapsed, its title once expanded, or the first
    // call's box once a roll is unrolled; in view and focused, so the next toggle is at hand.
    const target = box.querySelector(`.group-toggle[data-group-id="${id}"]`);
    if (!target) return;
    target.focus({ preventScroll: true });
    // svg-pan-zoom moves the drawing on the next frame: where the target is is known after.
    // An expanded call is shown whole when it fits the pane (what was inside is what the
    // person asked to see), else from its top, centred across.
    const cluster = target.closest("g.group-cluster");
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (cluster) revealTop(cluster);
      else reveal(target);
    }));
  });
}

// A node inside a collapsed call: its calls open, then it is selected as any other.
async function openAround(id) {
  const answer = getAnswer();
  if (!answer?.shown_in?.[id]) return;
  await showView(viewOpening(answer, id));
}


// elements: the box the drawing goes in (inside .graph-stage), the Details panel (which may
// lie over it) and the buttons zoomIn, zoomOut, fit and reset.
export function initGraphView(elements) {
  box = elements.box;
  stage = box.parentElement;
  detailsPanel = elements.detailsPanel;
  statusLine = elements.status;
  programOf = elements.programOf;
  on("answer", show);
  on("select", showSelection);
  box.addEventListener("pointerdown", (event) => { pressedAt = [event.clientX, event.clientY]; });
  box.addEventListener("click", (event) => {
    const moved = pressedAt && Math.hypot(event.clientX - pressedAt[0], event.clientY - pressedAt[1]);
    const toggle = event.target.closest?.(".group-toggle");
    if (toggle && !(moved > CLICK_SLOP_PX)) {
      toggleGroup(toggle);
      return;
    }
    const id = nodeIdFrom(event.target);
    if (id !== null && !(moved > CLICK_SLOP_PX)) select(id);
  });
  box.addEventListener("keydown", (event) => {
    const toggle = event.target.closest?.(".group-toggle");
    if (toggle && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      toggleGroup(toggle);
      return;
    }
    const id = nodeIdFrom(event.target);
    if (id !== null && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      select(id);
    }
  });
  elements.zoomIn.addEventListener("click", () => panZoom?.zoomIn());
  elements.zoomOut.addEventListener("click", () => panZoom?.zoomOut());
  elements.fit.addEventListener("click", fitReadable);
  elements.reset.addEventListener("click", fitReadable);
  elements.defaultView.addEventListener("click", () => {
    const first = getAnswer() && drawings.values().next().value;
    if (first) showView(first.view);
  });
  box.addEventListener("wheel", wheelZoom, { passive: false });
  box.addEventListener("pointerover", pointerOver);
  box.addEventListener("pointerleave", () => clearTimeout(hovering));
  box.addEventListener("focusin", (event) => {
    const toggle = event.target.closest?.(".group-toggle");
    prefetch(toggle);
    // Tab reaches boxes outside the pane too: the one with focus is brought into view.
    const focused = toggle ?? event.target.closest?.("g.node");
    if (focused) reveal(focused);
  });
  window.addEventListener("resize", () => panZoom?.resize());
}
