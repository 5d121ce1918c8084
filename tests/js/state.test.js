// static/state.js: the current answer and the selection, shared as events.
import assert from "node:assert/strict";
import { test } from "node:test";

import { completeAnswer, getAnswer, on, select, setAnswer } from "../../static/state.js";

test("listeners hear each answer, the selection and the pending fields' arrival", () => {
  const heard = [];
  on("answer", (answer) => heard.push(["answer", answer?.root ?? null]));
  on("select", (id) => heard.push(["select", id]));
  on("extras", (answer) => heard.push(["extras", answer.pending.length]));

  const answer = { root: 3, warnings: ["first"], gradcheck: {}, pending: ["gradcheck"], extras: "/api/graph/extras/t" };
  setAnswer(answer);
  assert.equal(getAnswer(), answer);
  select(2);
  select(null);
  completeAnswer({ gradcheck: { x: { ok: true } }, warnings: ["second"] });
  setAnswer(null);

  assert.deepEqual(heard, [
    ["answer", 3],
    ["select", 2],
    ["select", null],
    ["extras", 0],
    ["answer", null],
  ]);
  // The pending check joined the answer every view holds, warnings appended.
  assert.deepEqual(answer.gradcheck, { x: { ok: true } });
  assert.deepEqual(answer.warnings, ["first", "second"]);
  assert.equal(answer.extras, null);
  assert.equal(getAnswer(), null);
});
