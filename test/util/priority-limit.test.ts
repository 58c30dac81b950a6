import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { priorityLimit } from "../../src/util/priority-limit.js";

describe("priorityLimit", () => {
  test("starts the highest priority first, first come first among equals, never more than its concurrency", async () => {
    const limit = priorityLimit(2);
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string) => async () => {
      started.push(name);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return name;
    };
    const results = await Promise.all([
      limit(1, task("small-a")),
      limit(50, task("big")),
      limit(1, task("small-b")),
      limit(20, task("medium")),
      limit(1, task("small-c")),
    ]);
    assert.deepEqual(started, ["big", "medium", "small-a", "small-b", "small-c"]);
    assert.deepEqual(results, ["small-a", "big", "small-b", "medium", "small-c"]);
    assert.equal(most, 2);
  });

  test("a failing task frees its slot and rejects its own promise only", async () => {
    const limit = priorityLimit(1);
    const failing = limit(2, async () => {
      throw new Error("boom");
    });
    const after = limit(1, async () => "ran");
    await assert.rejects(failing, /boom/);
    assert.equal(await after, "ran");
  });
});
