// Downloads of the current answer: the drawing as SVG or PNG, its DOT source, the whole JSON.
import { hasDrawing } from "./graph-model.js";
import { inlineFontFaces } from "./fonts.js";
import { getAnswer, on } from "./state.js";

const PNG_SCALE = 2;  // crisp on high-density screens and in slides

function download(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// The SVG download names its fonts (Liberation Sans, then Arimo, Helvetica, Arial: see
// app/worker/graphviz.py) rather than embedding them, so it stays small, editable text.
function svgBlob(answer) {
  return new Blob([answer.svg], { type: "image/svg+xml" });
}

// The SVG with the graph's font inside it: an SVG drawn as an image loads no external font,
// and would fall back to a wider one that overflows the boxes Graphviz sized. The <style> goes
// in as text, right after the <svg> tag (whose attributes Graphviz writes, never user text): a
// style element added through the DOM would be refused by the page's CSP.
export async function svgWithFont(svgText) {
  const rules = await inlineFontFaces();
  const start = svgText.indexOf(">", svgText.indexOf("<svg")) + 1;
  return `${svgText.slice(0, start)}\n<style>${rules}</style>${svgText.slice(start)}`;
}

export async function pngBlob(answer) {
  const withFont = new Blob([await svgWithFont(answer.svg)], { type: "image/svg+xml" });
  const url = URL.createObjectURL(withFont);
  try {
    const image = new Image();
    image.src = url;
    await image.decode();  // settles once the image has loaded, its data: fonts included
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(image.naturalWidth * PNG_SCALE);
    canvas.height = Math.ceil(image.naturalHeight * PNG_SCALE);
    const context = canvas.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}

const EXPORTS = {
  svg: async (answer) => [svgBlob(answer), "autograd-graph.svg"],
  png: async (answer) => [await pngBlob(answer), "autograd-graph.png"],
  dot: async (answer) => [new Blob([answer.dot], { type: "text/vnd.graphviz" }), "autograd-graph.dot"],
  json: async (answer) => [
    new Blob([JSON.stringify(answer, null, 2)], { type: "application/json" }),
    "autograd-answer.json",
  ],
};

// buttons: { svg, png, dot, json }, the button for each download.
export function initExport(buttons) {
  for (const [kind, button] of Object.entries(buttons)) {
    button.addEventListener("click", async () => {
      const answer = getAnswer();
      if (answer) download(...await EXPORTS[kind](answer));
    });
  }
  on("answer", (answer) => {
    for (const [kind, button] of Object.entries(buttons)) {
      const needsDrawing = kind === "svg" || kind === "png";
      button.disabled = !answer || (needsDrawing && !hasDrawing(answer));
    }
  });
}
