/**
 * A registry that rate-limits like Docker Hub (a fixed budget of requests per window, `ratelimit-*` headers, 429 with
 * Retry-After past the budget), through the fault proxy: the save completes without failing an image, pauses the
 * whole host instead of hammering it, and says it is waiting and until when.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { faultProxy } from "../helpers/fault-proxy.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

describe("rate limits like Docker Hub's", () => {
  let work: string;
  let source: TestRegistry;
  const images = ["a", "b", "c", "d"].map((n) => ({ name: n, image: makeImage({ seed: `rate-${n}`, layers: [4000, 3000] }) }));
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-rate-"));
    source = await startRegistry();
    await Promise.all(images.map(({ name, image }) => seedRegistry(source, image, `team/${name}:1`)));
  });
  after(async () => {
    await source.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("save completes within the budget: the host paused, not hammered, the wait said with its end", async (t) => {
    const proxy = await faultProxy(source.url, [{ path: "/v2/", rateLimit: { requests: 10, windowMs: 1500 } }]);
    t.after(() => proxy.stop());
    const c = await saveCase(work, images.map(({ name }) => `${proxy.host}/team/${name}:1`));
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    const json = bundleJsonOf(await listTar(c.tar));
    assert.deepEqual(json.images.map((i) => i.digest), images.map(({ image }) => image.manifest.digest), "every image, exact");
    assert.match(r.stderr, new RegExp(`rate limited by ${proxy.host} \\([^)]*\\): waiting until \\d\\d:\\d\\d:\\d\\d UTC`));
    const refused = proxy.requests.filter((q) => q.status === 429).length;
    const forwarded = proxy.requests.filter((q) => q.status !== 429).length;
    assert.ok(forwarded > 10, `the work needed more than one window (${forwarded} requests)`);
    // Spent budgets pause the host before it refuses; only requests already in flight can meet a 429.
    assert.ok(refused <= 16, `${refused} requests refused with 429`);
  });
});
