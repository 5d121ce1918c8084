// The font the graph's text is drawn in: Liberation Sans, served by app.css's @font-face (see
// there why). Loaded as the page starts, so the first graph is never drawn in a wider fallback,
// and inlined as data: URLs for the PNG export, whose SVG image can load nothing from outside.
export const GRAPH_FONT = "Liberation Sans";
const FACES = [
  { weight: 400, file: "LiberationSans-Regular.woff2" },
  { weight: 700, file: "LiberationSans-Bold.woff2" },
];

// Settles when both faces are loaded, or failed to (the text then falls back to Helvetica or
// Arial, which the SVG names next).
export const graphFontReady = Promise.allSettled(
  FACES.map((face) => document.fonts.load(`${face.weight} 12px "${GRAPH_FONT}"`)),
);

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function inlineFace(face) {
  const response = await fetch(new URL(`vendor/fonts/${face.file}`, import.meta.url));
  if (!response.ok) throw new Error(`${face.file}: HTTP ${response.status}`);
  const url = await dataUrl(await response.blob());
  return `@font-face { font-family: "${GRAPH_FONT}"; src: url("${url}") format("woff2"); `
    + `font-weight: ${face.weight}; font-style: normal; }`;
}

let inlined = null;

// CSS @font-face rules holding both faces as data: URLs (made once; again after a failure).
export function inlineFontFaces() {
  inlined ??= Promise.all(FACES.map(inlineFace)).then(
    (rules) => rules.join("\n"),
    (error) => { inlined = null; throw error; },
  );
  return inlined;
}
