/**
 * Crash recovery of the bundle writer, unit by unit (the end-to-end kill -9 and Ctrl-C runs are in
 * test/registry/pull.test.ts): what a killed save left — temporary parts and a journal — is salvaged into the
 * cache blob by blob, each verified; a blob damaged by a power cut is dropped, not kept; a save killed while
 * renaming its finished bundle is completed by the next run, never lost.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BundleWriter, type BundleContents } from "../../src/bundle/writer.js";
import { assertCanWrite, COMMIT_LINE, JOURNAL_MAGIC, journalPath, recoverUnfinished } from "../../src/bundle/journal.js";
import { CopyEngine } from "../../src/content/copy.js";
import { savePolicy } from "../../src/content/policy.js";
import { OciLayout } from "../../src/layout/layout.js";
import type { Descriptor } from "../../src/oci/descriptor.js";
import { parseReference } from "../../src/reference/reference.js";
import { allBlobs, makeImage, type TestImage } from "../helpers/images.js";
import { MemoryTarget } from "../helpers/memory-target.js";

const a = makeImage({ seed: "journal-a", layers: [300_000, 20_000] });
const b = makeImage({ seed: "journal-b", layers: [250_000] });
const refA = parseReference("example.test/team/a:1");
const d = (x: { mediaType: string; digest: string; size: number }): Descriptor => ({ mediaType: x.mediaType, digest: x.digest, size: x.size });

function contents(images: TestImage[]): BundleContents {
  const blobs = images.flatMap((i) => allBlobs(i)).map(d);
  const bytes = blobs.reduce((n, x) => n + x.size, 0);
  return {
    bundle: {
      format: "airgap-bundle/v1", name: "j", version: "1", created: "2026-01-01T00:00:00Z", tool: { name: "test", version: "0" }, platforms: ["all"],
      images: images.map((i, n) => ({ source: `example.test/team/${n}:1`, line: n + 1, digest: i.manifest.digest, mediaType: i.manifest.mediaType, platformDigests: {}, size: 0, target: "x" })),
      manifests: [], blobs: { count: blobs.length, bytes }, base: null,
    },
    index: images.map((i, n) => ({ descriptor: d(i.manifest), ref: `example.test/team/${n}:1` })),
    // Layers first, so the small manifests and configs are not written with the headers and must be journalled.
    blobs: [...blobs].sort((x, y) => y.size - x.size),
    manifests: [],
    imagelistText: "",
  };
}

/** The journal's blob lines, once the writer has flushed `count` of them. */
async function journalled(tarPath: string, count: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const lines = (await readFile(journalPath(tarPath), "utf8")).split("\n").filter((l) => l.startsWith("blob "));
    if (lines.length >= count) return lines;
    await sleep(20);
  }
  throw new Error("the journal did not reach its lines");
}

describe("the bundle writer's crash journal", () => {
  let work: string;
  before(async () => (work = await mkdtemp(join(tmpdir(), "airgap-journal-"))));
  after(() => rm(work, { recursive: true, force: true }));

  test("a killed save's parts are salvaged blob by blob into the cache; a damaged blob is dropped", async () => {
    const out = join(work, "out");
    const writer = await BundleWriter.open({ outDir: out, contents: contents([a, b]), splitSize: 200_000 });
    // Image a arrives; b never does (the run is killed).
    const engine = new CopyEngine({ policy: savePolicy("all") });
    const resolved = await engine.resolve({ label: "a", ref: refA, source: MemoryTarget.with(a, refA), sink: writer.sink });
    assert.ok(!("error" in resolved));
    assert.ok(!("error" in (await engine.transfer(resolved))));
    const tarPath = join(out, "j-1.tar");
    const lines = await journalled(tarPath, allBlobs(a).length);
    assert.equal(lines.length, allBlobs(a).length, "every blob of a is journalled, nothing of b");

    // What kill -9 leaves: the temporary parts and the journal, as they are now.
    const left = join(work, "left");
    await mkdir(left);
    for (const f of await readdir(out)) await copyFile(join(out, f), join(left, f));
    await writer.abort();
    assert.ok((await readdir(left)).some((f) => f.endsWith(".partial")), "temporary parts, under names that do not look finished");

    // A power cut tore the small layer's bytes.
    const torn = /^blob (\S+) \S+ (\d+) \d+$/.exec(lines.find((l) => l.includes(a.layers[1]!.digest))!)!;
    const offset = Number(torn[2]);
    const part = Math.floor(offset / 200_000) + 1;
    const fh = await open(join(left, `.j-1.tar.00${part}.partial`), "r+");
    await fh.write(Buffer.from("torn"), 0, 4, (offset % 200_000) + 10);
    await fh.close();

    const cache = await OciLayout.open(join(work, "cache"));
    const kept = await recoverUnfinished(left, "j", "1", cache);
    assert.equal(kept, allBlobs(a).length - 1);
    for (const x of allBlobs(a)) assert.equal(await cache.exists(d(x)), x.digest !== a.layers[1]!.digest, x.digest);
    assert.deepEqual(await readdir(left), [], "the unfinished files and the journal are gone");
  });

  test("a save killed while renaming its finished bundle is completed by the next run: the old bundle is replaced, never lost", async () => {
    const out = join(work, "commit");
    await mkdir(out);
    // The older bundle had three parts; the new one has two, complete under temporary names, journal committed.
    for (const n of [1, 2, 3]) await writeFile(join(out, `j-1.tar.00${n}`), `old ${n}`);
    await writeFile(join(out, "j-1.tar.sha256"), "old sums");
    await writeFile(join(out, ".j-1.tar.001.partial"), Buffer.alloc(1000, 1));
    await writeFile(join(out, ".j-1.tar.002.partial"), Buffer.alloc(500, 2));
    await writeFile(join(out, ".j-1.tar.sha256.partial"), "new sums");
    await writeFile(journalPath(join(out, "j-1.tar")), [JOURNAL_MAGIC, "parts 1000 1500", COMMIT_LINE, ""].join("\n"));

    await assert.rejects(assertCanWrite(out, "j", "1", false), /already exists/, "the completed bundle is there: not overwritten without --force");
    assert.deepEqual((await readdir(out)).sort(), ["j-1.tar.001", "j-1.tar.002", "j-1.tar.sha256"]);
    assert.equal(await readFile(join(out, "j-1.tar.sha256"), "utf8"), "new sums");
    assert.equal((await readFile(join(out, "j-1.tar.002"))).length, 500, "the new part, not the old");
  });

  test("a journal without its commit line leaves the older bundle alone", async () => {
    const out = join(work, "nocommit");
    await mkdir(out);
    await writeFile(join(out, "j-1.tar"), "old");
    await writeFile(join(out, ".j-1.tar.partial"), "half");
    await writeFile(journalPath(join(out, "j-1.tar")), [JOURNAL_MAGIC, "parts 0 4", ""].join("\n"));
    await assert.rejects(assertCanWrite(out, "j", "1", false), /already exists/);
    assert.equal(await readFile(join(out, "j-1.tar"), "utf8"), "old");
  });
});
