// Every module of the page but its entry points (app.js, the wiring; docs.js, the plain
// script of /docs) is handed its elements: importing one looks
// nothing up in the document, so modules can be loaded, tested and reused on their own.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";

const STATIC = new URL("../../static/", import.meta.url);
const reads = [];

// A document that records every property read at import time; fonts.js starts loading the
// graph's font as the page starts (not an element lookup), so document.fonts answers.
globalThis.document = new Proxy({}, {
  get(_, name) {
    if (name === "fonts") return { load: () => Promise.resolve() };
    reads.push(String(name));
    return () => null;
  },
});

test("no module but app.js looks up page elements when imported", async () => {
  const entries = new Set(["app.js", "docs.js"]);
  const modules = readdirSync(STATIC).filter((name) => name.endsWith(".js") && !entries.has(name));
  assert.ok(modules.includes("graph-view.js") && modules.includes("details.js"));
  for (const name of modules) {
    await import(new URL(name, STATIC));
    assert.deepEqual(reads, [], `${name} read document.${reads[0]} at import`);
  }
});
