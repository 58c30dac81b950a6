/**
 * The graph walk on its own: it needs only a source (serve, inventory and deltas walk graphs without a sink), and a
 * use case's policy decides which index entries it takes, what an absent entry means and which configs it reads.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { walkGraph } from "../../src/content/graph.js";
import { BUNDLE_GRAPH, onePlatformPolicy, savePolicy } from "../../src/content/policy.js";
import { AirgapError } from "../../src/errors.js";
import { parsePlatform } from "../../src/oci/platform.js";
import { parseReference } from "../../src/reference/reference.js";
import { makeImage, makeIndex } from "../helpers/images.js";
import { MemoryTarget } from "../helpers/memory-target.js";

const ref = parseReference("example.test/team/app:1");
const amd = makeImage({ seed: "walk-amd", layers: [2000, 3000] });
const arm = makeImage({ seed: "walk-arm", platform: "linux/arm64/v8", layers: [1000] });
const index = makeIndex([amd, arm]);

describe("the graph walk", () => {
  test("a bundle's graph: the entries it holds, the others listed as absent, no config read", async () => {
    const source = MemoryTarget.with(index, ref);
    for (const b of [arm.manifest, arm.config, ...arm.layers]) source.blobs.delete(b.digest);
    const image = await walkGraph({ label: "app", ref, source }, BUNDLE_GRAPH);
    assert.deepEqual(image.children.map((c) => c.descriptor.digest), [amd.manifest.digest]);
    assert.deepEqual(image.absentChildren.map((c) => c.digest), [arm.manifest.digest]);
    assert.deepEqual(image.contents.map((c) => c.descriptor.digest), [amd.config.digest, ...amd.layers.map((l) => l.digest)]);
    assert.equal(image.size, [index.index, amd.manifest, amd.config, ...amd.layers].reduce((n, d) => n + d.size, 0));
    assert.equal(source.calls.fetchBytes, 1, "the kept child's manifest only: configs are not read");
    assert.equal(source.calls.fetch + source.calls.push, 0, "nothing streamed, nothing written");
  });

  test("a save's graph: every entry asked for must be there; a single-platform image of another platform is refused", async () => {
    const source = MemoryTarget.with(index, ref);
    source.blobs.delete(arm.manifest.digest);
    await assert.rejects(walkGraph({ label: "app", ref, source }, savePolicy("all")), (err: AirgapError) => err.code === "NOT_FOUND" && err.message.includes(arm.manifest.digest));
    const single = MemoryTarget.with(arm, ref);
    await assert.rejects(walkGraph({ label: "app", ref, source: single }, savePolicy([parsePlatform("linux/amd64")])), (err: AirgapError) => {
      assert.equal(err.code, "PLATFORM_NOT_FOUND");
      assert.match(err.message, /app: the image is linux\/arm64\/v8 only, not linux\/amd64/);
      return true;
    });
    const learned = await walkGraph({ label: "app", ref, source: MemoryTarget.with(arm, ref) }, savePolicy("all"));
    assert.deepEqual(learned.platformDigests, { "linux/arm64/v8": arm.manifest.digest }, "the config read tells the platform");
    assert.ok(learned.contents[0]!.bytes, "and its bytes are kept for the copy");
  });

  test("one platform: the index becomes the image chosen", async () => {
    const image = await walkGraph({ label: "app", ref, source: MemoryTarget.with(index, ref) }, onePlatformPolicy(parsePlatform("linux/arm64"), true));
    assert.equal(image.top.descriptor.digest, arm.manifest.digest);
    assert.deepEqual(image.children, []);
    assert.deepEqual(image.blobs.map((b) => b.digest), [arm.manifest.digest, arm.config.digest, ...arm.layers.map((l) => l.digest)]);
  });

  test("a pinned digest the source resolves to another manifest is refused", async () => {
    const source = MemoryTarget.with(amd, ref);
    const honest = source.resolve.bind(source);
    source.resolve = (r) => honest({ ...r, digest: undefined });
    const pinned = parseReference(`example.test/team/app:1@${arm.manifest.digest}`);
    await assert.rejects(walkGraph({ label: "app", ref: pinned, source }, BUNDLE_GRAPH), (err: AirgapError) => {
      assert.equal(err.code, "DIGEST_MISMATCH");
      assert.match(err.message, new RegExp(`app: resolved to ${amd.manifest.digest}, not the pinned digest`));
      return true;
    });
  });
});
