// static/retry.js: a 503 with Retry-After is asked again after that long, a few times.
import assert from "node:assert/strict";
import { mock, test } from "node:test";

import { fetchRetrying } from "../../static/retry.js";

// fetch answers with `answers` in turn (the last one again when they run out).
function serve(answers) {
  const asked = [];
  globalThis.fetch = async (url, options) => {
    asked.push([url, options]);
    const [status, headers] = answers[Math.min(asked.length, answers.length) - 1];
    return new Response("{}", { status, headers });
  };
  return asked;
}

test("a busy answer is asked again after its Retry-After, with the same request", async () => {
  const asked = serve([[503, { "Retry-After": "0" }], [200, {}]]);
  const waits = [];
  const options = { method: "POST", body: "{}" };
  const response = await fetchRetrying("/api/graph", options, (seconds) => waits.push(seconds));
  assert.equal(response.status, 200);
  assert.deepEqual(asked, [["/api/graph", options], ["/api/graph", options]]);
  assert.deepEqual(waits, [0]);
});

test("a server that stays busy is asked four times, and its last answer returned", async () => {
  const asked = serve([[503, { "Retry-After": "0" }]]);
  const response = await fetchRetrying("/api/graph");
  assert.equal(response.status, 503);
  assert.equal(asked.length, 4);
});

test("a 503 without a number of seconds, and other errors, are not asked again", async () => {
  for (const [status, headers] of [
    [503, {}],
    [503, { "Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT" }],
    [429, { "Retry-After": "1" }],
    [500, {}],
  ]) {
    const asked = serve([[status, headers], [200, {}]]);
    const response = await fetchRetrying("/api/graph");
    assert.equal(response.status, status);
    assert.equal(asked.length, 1);
  }
});

test("a long Retry-After is waited for at most 10 s", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    serve([[503, { "Retry-After": "3600" }], [200, {}]]);
    const waits = [];
    const answer = fetchRetrying("/api/graph", {}, (seconds) => waits.push(seconds));
    await new Promise(setImmediate);  // the first answer arrives, the wait starts
    assert.deepEqual(waits, [10]);
    mock.timers.tick(10_000);
    assert.equal((await answer).status, 200);
  } finally {
    mock.timers.reset();
  }
});
