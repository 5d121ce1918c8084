// static/permalink.js: the program travels in the URL fragment and comes back byte for byte.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { permalink, readPermalink } from "../../static/permalink.js";

// The module reads only window.location: a URL stands in for it.
beforeEach(() => {
  globalThis.window = { location: new URL("http://127.0.0.1:8000/?lang=en#old") };
});

function follow(url) {
  globalThis.window.location = new URL(url);
  return readPermalink();
}

test("a program comes back from its permalink unchanged, output name included", () => {
  const code = "import torch\nx = torch.tensor(3.0, requires_grad=True)  # x² → dz/dx ≈ −5.47 🎓\nz = (x**2).sin()\n";
  const url = permalink(code, "z");
  assert.ok(url.startsWith("http://127.0.0.1:8000/?lang=en#code="));
  assert.deepEqual(follow(url), { code, output: "z" });
});

test("the fragment is URL-safe base64 without padding", () => {
  const url = new URL(permalink("a = 1\n>>>???", ""));
  const code = new URLSearchParams(url.hash.slice(1)).get("code");
  assert.match(code, /^[A-Za-z0-9_-]+$/);
  assert.equal(url.hash.includes("output"), false);
  assert.deepEqual(follow(url.href), { code: "a = 1\n>>>???", output: "" });
});

test("no program, or a damaged one, is null", () => {
  assert.equal(follow("http://127.0.0.1:8000/"), null);
  assert.equal(follow("http://127.0.0.1:8000/#output=z"), null);
  assert.equal(follow("http://127.0.0.1:8000/#code=%%%"), null);
  assert.equal(follow("http://127.0.0.1:8000/#code=_w"), null);  // not UTF-8
});
