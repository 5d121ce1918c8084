// Downloads of the current answer: the drawing as SVG or PNG, its DOT source, the whole JSON.
import { hasDrawing } from "./graph-model.js";
import { getAnswer, on } from "./state.js";

const PNG_SCALE = 2;  // crisp on high-density screens and in slides
const buttons = ["svg", "png", "dot", "json"].map((kind) => document.getElementById(`export-${kind}`));

function download(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function svgBlob(answer) {
  return new Blob([answer.svg], { type: "image/svg+xml" });
}

async function pngBlob(answer) {
  const url = URL.createObjectURL(svgBlob(answer));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
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

export function initExport() {
  for (const button of buttons) {
    const kind = button.id.replace("export-", "");
    button.addEventListener("click", async () => {
      const answer = getAnswer();
      if (answer) download(...await EXPORTS[kind](answer));
    });
  }
  on("answer", (answer) => {
    for (const button of buttons) {
      const needsDrawing = button.id === "export-svg" || button.id === "export-png";
      button.disabled = needsDrawing && !hasDrawing(answer);
    }
  });
}
