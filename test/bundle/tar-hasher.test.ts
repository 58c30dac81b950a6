/**
 * The bundle's checksum taken while the tar is written (src/bundle/tar-hasher.ts): whatever the order blobs land
 * in, the digests are those of the files on disk — `sha256sum` of the tar and of each part.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PartFiles, partLayout } from "../../src/bundle/part-files.js";
import { TarHasher } from "../../src/bundle/tar-hasher.js";

type FixedRun = { offset: number; buffers: Buffer[] };

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A tar-like file: fixed runs between blobs, as the writer lays them out. */
function layout(blobSizes: number[]): { bytes: Buffer; fixed: FixedRun[]; blobs: Array<{ offset: number; size: number }> } {
  const pieces: Buffer[] = [];
  const fixed: FixedRun[] = [];
  const blobs: Array<{ offset: number; size: number }> = [];
  let at = 0;
  const put = (b: Buffer) => (pieces.push(b), (at += b.length));
  for (const size of blobSizes) {
    const header = randomBytes(512);
    fixed.push({ offset: at, buffers: [header.subarray(0, 100), header.subarray(100)] });
    put(header);
    blobs.push({ offset: at, size });
    put(randomBytes(size));
  }
  const tail = randomBytes(1024);
  fixed.push({ offset: at, buffers: [tail] });
  put(tail);
  return { bytes: Buffer.concat(pieces), fixed, blobs };
}

/**
 * Writes the blobs in chunks, hashing as the writer does: interleaved as concurrent downloads are (round robin
 * in `order`), or one after another.
 */
async function writeAndHash(dir: string, name: string, blobSizes: number[], options: { order?: number[]; oneByOne?: boolean; split?: number } = {}) {
  const { bytes, fixed, blobs } = layout(blobSizes);
  const parts = partLayout(join(dir, name), bytes.length, options.split);
  const files = await PartFiles.create(parts);
  const hasher = new TarHasher(parts);
  for (const run of fixed) await files.writev(run.buffers, run.offset);
  const written = blobs.map(() => 0);
  const frontier = () => {
    const i = written.findIndex((w, j) => w < blobs[j]!.size);
    return i < 0 ? bytes.length : blobs[i]!.offset + written[i]!;
  };
  const order = options.order ?? blobs.map((_, i) => i);
  const chunk = 50_000;
  while (written.some((w, i) => w < blobs[i]!.size)) {
    for (const i of order) {
      const b = blobs[i]!;
      if (written[i] === b.size || (options.oneByOne && written.findIndex((w, j) => w < blobs[j]!.size) !== i)) continue;
      const at = b.offset + written[i]!;
      const n = Math.min(chunk, b.size - written[i]!);
      const half = at + Math.floor(n / 2);
      const data = [bytes.subarray(at, half), bytes.subarray(half, at + n)];
      await files.writev(data, at);
      written[i] = written[i]! + n;
      hasher.advance(frontier());
    }
  }
  const digests = await hasher.finish();
  await files.commit();
  return { digests, parts, bytes };
}

describe("the bundle's checksum taken as it is written", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tar-hasher-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("blobs written one after another: the digest of the file", async () => {
    const { digests, parts, bytes } = await writeAndHash(dir, "in-order.tar", [400_000, 300_000, 7], { oneByOne: true });
    assert.equal(digests.whole, sha256(await readFile(parts[0]!.final)));
    assert.equal(digests.whole, sha256(bytes));
  });

  test("blobs written concurrently, the last first: the same digest", async () => {
    const { digests, parts, bytes } = await writeAndHash(dir, "interleaved.tar", [900_000, 700_000, 500_000, 300_001], { order: [3, 2, 1, 0] });
    assert.equal(digests.whole, sha256(await readFile(parts[0]!.final)));
    assert.equal(digests.whole, sha256(bytes));
  });

  test("a split bundle: each part's digest is its file's, across blobs that straddle parts", async () => {
    const { digests, parts } = await writeAndHash(dir, "split.tar", [600_000, 450_000, 250_000], { order: [2, 0, 1], split: 333_333 });
    assert.ok(parts.length >= 4);
    const files = await Promise.all(parts.map((p) => readFile(p.final)));
    assert.deepEqual(digests.parts, files.map(sha256));
    assert.equal(digests.whole, sha256(Buffer.concat(files)));
  });
});
