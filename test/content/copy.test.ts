/**
 * The copy engine on its own, between in-memory targets (test/helpers/memory-target.ts, which keeps the roles'
 * contract: test/content/roles.test.ts): what it selects, what it moves once, what it skips, what it mounts, and
 * how it words failures that are not ours.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CopyEngine, type CopyEvent, type CopyJob } from "../../src/content/copy.js";
import { loadPolicy, onePlatformPolicy, REFERRERS_POLICY, savePolicy, type CopyPolicy } from "../../src/content/policy.js";
import type { Mounter, Opener } from "../../src/content/target.js";
import type { Descriptor } from "../../src/oci/descriptor.js";
import { parsePlatform } from "../../src/oci/platform.js";
import { parseReference } from "../../src/reference/reference.js";
import { makeImage, makeIndex } from "../helpers/images.js";
import { MemoryTarget } from "../helpers/memory-target.js";

const ref = parseReference("example.test/team/app:1");
const amd = makeImage({ seed: "copy-amd", layers: [{ seed: "copy-base", size: 50_000 }, 3000] });
const arm = makeImage({ seed: "copy-arm", platform: "linux/arm64/v8", layers: [{ seed: "copy-base-arm", size: 40_000 }] });
const index = makeIndex([amd, arm]);

/** Copies one image with a use case's policy (default: taken whole, as a save's referrers are). */
async function copy(job: Partial<CopyJob> & Pick<CopyJob, "source" | "sink">, policy: CopyPolicy = REFERRERS_POLICY) {
  const events: CopyEvent[] = [];
  const engine = new CopyEngine({ policy, onEvent: (e) => events.push(e) });
  const resolved = await engine.resolve({ label: "app", ref, tagAs: ref, ...job });
  const result = "error" in resolved ? resolved : await engine.transfer(resolved);
  return { result, events, engine };
}

describe("the copy engine", () => {
  test("platforms: the one asked for is selected; one the index lacks is named with those it has", async () => {
    const sink = new MemoryTarget();
    const { result } = await copy({ source: MemoryTarget.with(index, ref), sink }, savePolicy([parsePlatform("linux/arm64")]));
    assert.ok(!("error" in result));
    assert.deepEqual(result.platformDigests, { "linux/arm64": arm.manifest.digest });
    assert.equal(sink.blobs.has(amd.config.digest), false, "the other platform is not copied");
    const missing = await copy({ source: MemoryTarget.with(index, ref), sink: new MemoryTarget() }, savePolicy([parsePlatform("linux/s390x")]));
    assert.ok("error" in missing.result);
    assert.equal(missing.result.error.code, "PLATFORM_NOT_FOUND");
    assert.match(missing.result.error.message, /no linux\/s390x image; the index has linux\/amd64, linux\/arm64\/v8/);
  });

  test("one platform (export, load --docker): an index becomes its one image — the only one there, or the exact one asked for", async () => {
    const onlyArm = MemoryTarget.with(index, ref);
    for (const b of [amd.manifest, amd.config, ...amd.layers]) onlyArm.blobs.delete(b.digest);
    const sink = new MemoryTarget();
    const loose = await copy({ source: onlyArm, sink }, onePlatformPolicy(parsePlatform("linux/amd64"), false));
    assert.ok(!("error" in loose.result));
    assert.equal(loose.result.top.descriptor.digest, arm.manifest.digest, "the only one kept");
    assert.equal(sink.tags.get("example.test/team/app:1"), arm.manifest.digest, "tagged to the image, not the index");
    assert.equal(sink.blobs.has(index.index.digest), false);
    const exact = await copy({ source: onlyArm, sink: new MemoryTarget() }, onePlatformPolicy(parsePlatform("linux/amd64"), true));
    assert.ok("error" in exact.result);
    assert.match(exact.result.error.message, /no linux\/amd64 image here \(it has: linux\/arm64\/v8\)/);
  });

  test("a blob two images share is fetched once; largest first when asked", async () => {
    const other = makeImage({ seed: "copy-other", layers: [{ seed: "copy-base", size: 50_000 }, 100] });
    const source = MemoryTarget.with(amd, ref);
    for (const [digest, b] of MemoryTarget.with(other, parseReference("example.test/team/other:1")).blobs) source.blobs.set(digest, b);
    source.tags.set("example.test/team/other:1", other.manifest.digest);
    const sink = new MemoryTarget();
    const events: CopyEvent[] = [];
    const engine = new CopyEngine({ policy: savePolicy("all"), concurrency: 1, onEvent: (e) => events.push(e) });
    const jobs = [ref, parseReference("example.test/team/other:1")].map((r) => ({ label: r.path, ref: r, source, sink, tagAs: r }));
    const resolved = await Promise.all(jobs.map((j) => engine.resolve(j)));
    await Promise.all(resolved.map((r) => ("error" in r ? r : engine.transfer(r))));
    assert.equal(source.calls.fetch, 3, "two own layers and the shared one, once");
    const sizes = events.filter((e): e is Extract<CopyEvent, { type: "blob-start" }> => e.type === "blob-start").map((e) => e.size);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), "largest first");
  });

  test("a load skips an image whose tag the sink already gives is not copied again", async () => {
    const sink = new MemoryTarget();
    await copy({ source: MemoryTarget.with(index, ref), sink });
    const pushes = sink.calls.push;
    const again = await copy({ source: MemoryTarget.with(index, ref), sink }, loadPolicy(false));
    assert.ok(!("error" in again.result) && again.result.foundInPlace === true);
    assert.equal(sink.calls.push, pushes, "nothing pushed");
    assert.ok(again.events.some((e) => e.type === "image-done" && e.present === true));
  });

  test("mounting: a blob bound for two sinks of one store is uploaded once and mounted into the other", async () => {
    const store = new Map<string, MountingTarget>();
    class MountingTarget extends MemoryTarget implements Mounter {
      readonly mountDomain = "store";
      readonly mounts: string[] = [];
      constructor(readonly mountName: string) {
        super(`store/${mountName}`);
        store.set(mountName, this);
      }
      async mount(d: Descriptor, from: string, open: Opener): Promise<void | "mounted"> {
        const held = store.get(from)?.blobs.get(d.digest);
        if (!held) return this.push(d, open);
        this.mounts.push(`${d.digest}<-${from}`);
        this.blobs.set(d.digest, held);
        return "mounted";
      }
    }
    const a = new MountingTarget("team/a");
    const b = new MountingTarget("team/b");
    const source = MemoryTarget.with(amd, ref);
    const engine = new CopyEngine({ policy: REFERRERS_POLICY });
    const jobs = [a, b].map((sink) => ({ label: sink.name, ref, source, sink, tagAs: ref }));
    const resolved = await Promise.all(jobs.map((j) => engine.resolve(j)));
    const results = await Promise.all(resolved.map((r) => ("error" in r ? r : engine.transfer(r))));
    assert.deepEqual(results.filter((r) => "error" in r), []);
    assert.equal(source.calls.fetch, 2, "each layer read from the source once");
    assert.equal(a.mounts.length + b.mounts.length, 2, "and mounted into the second repository");
  });

  test("failures that are not ours are worded as IO (a file system's) or INTERNAL, never REGISTRY", async () => {
    const failing = (err: Error): MemoryTarget => {
      const t = MemoryTarget.with(amd, ref);
      t.fetch = async () => Promise.reject(err);
      return t;
    };
    const full = Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    const io = await copy({ source: failing(full), sink: new MemoryTarget() });
    assert.ok("error" in io.result && io.result.error.code === "IO");
    const bug = await copy({ source: failing(new TypeError("x is undefined")), sink: new MemoryTarget() });
    assert.ok("error" in bug.result && bug.result.error.code === "INTERNAL");
    assert.match(bug.result.error.message, /^app: x is undefined/);
  });
});

