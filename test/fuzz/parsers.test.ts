/**
 * Property-based fuzzing of the parsers that read input from outside: the tar reader (a bundle), the imagelist
 * parser and the reference parser. Each input either parses or is refused with an AirgapError — never another
 * exception, never a hang. A fixed seed in CI (FUZZ_SEED, FUZZ_RUNS to change it); `npm run bench:fuzz` runs long.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { AirgapError } from "../../src/errors.js";
import { planTar } from "../../src/bundle/tar-plan.js";
import { indexTar, TarFile } from "../../src/bundle/tar-index.js";
import { parseImagelist } from "../../src/reference/imagelist.js";
import { formatReference, parseReference } from "../../src/reference/reference.js";
import { fixChecksum } from "../helpers/tar.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const settings = (runs = RUNS) => ({ seed: SEED, numRuns: runs, endOnFailure: true });

/** Runs `f`; true when it returned, false when it refused with an AirgapError; anything else fails the property. */
async function refusedCleanly(f: () => unknown): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (err) {
    if (err instanceof AirgapError) return false;
    throw err;
  }
}

describe("fuzz: reference and imagelist parsers", () => {
  const component = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,6}[a-z0-9])?$/);
  const wild = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 60 }));
  const shaped = fc
    .tuple(
      fc.option(fc.oneof(fc.constant("docker.io"), fc.constant("localhost:5000"), fc.constant("[::1]:5000"), component.map((c) => `${c}.io`)), { nil: undefined }),
      fc.array(component, { minLength: 1, maxLength: 4 }),
      fc.option(fc.stringMatching(/^[\w][\w.-]{0,20}$/), { nil: undefined }),
      fc.option(fc.stringMatching(/^sha256:[0-9a-f]{64}$/), { nil: undefined }),
    )
    .map(([host, path, tag, digest]) => `${host ? `${host}/` : ""}${path.join("/")}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`);

  test("parseReference: anything parses to a reference that formats and parses back to itself, or is refused", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(wild, shaped), async (input) => {
        if (!(await refusedCleanly(() => parseReference(input)))) return;
        const once = formatReference(parseReference(input));
        assert.equal(formatReference(parseReference(once)), once);
      }),
      settings(2000),
    );
  });

  test("parseImagelist: any text gives entries or one INVALID_IMAGELIST error", async () => {
    const lines = fc.array(fc.oneof(wild, shaped, fc.constant("# comment"), fc.constant("")), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(lines, async (ls) => {
        try {
          const list = parseImagelist(ls.join("\n"), "fuzz");
          for (const e of list.entries) assert.equal(formatReference(e.ref), e.normalized);
        } catch (err) {
          assert.ok(err instanceof AirgapError && err.code === "INVALID_IMAGELIST", String(err));
        }
      }),
      settings(1000),
    );
  });
});

describe("fuzz: the tar reader", () => {
  let dir: string;
  let good: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "airgap-fuzz-"));
    const plan = planTar(
      [
        { name: "bundle.json", type: "file", content: Buffer.from('{"format":"airgap-bundle/v1"}') },
        { name: "blobs/", type: "directory" },
        { name: "blobs/sha256/", type: "directory" },
        { name: `blobs/sha256/${"a".repeat(64)}`, type: "file", content: Buffer.alloc(700, 7) },
        { name: `manifests/${"deep/".repeat(30)}long-name.yaml`, type: "file", content: Buffer.from("kind: Pod\n") },
        { name: "SHA256SUMS", type: "file", content: Buffer.from("") },
      ],
      0,
    );
    good = Buffer.alloc(plan.size);
    for (const e of plan.entries) {
      e.header.copy(good, e.headerOffset);
      e.content?.copy(good, e.dataOffset);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A mutation: bytes written at offsets, optionally with the touched headers' checksums made right again. */
  const mutation = fc.record({
    edits: fc.array(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }), { minLength: 1, maxLength: 6 }),
    fixChecksums: fc.boolean(),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });

  test("indexTar: every mutated tar is indexed or refused with an AirgapError, quickly", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async ({ edits, fixChecksums, cut }) => {
        const bytes = Buffer.from(good);
        for (const e of edits) Buffer.from(e.bytes).copy(bytes, e.at % bytes.length);
        if (fixChecksums) {
          for (let at = 0; at + 512 <= bytes.length; at += 512) {
            if (bytes.toString("ascii", at + 257, at + 262) === "ustar") fixChecksum(bytes, at);
          }
        }
        const file = join(dir, `t${n++ % 4}.tar`);
        await writeFile(file, cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length));
        const tar = await TarFile.open([{ path: file, start: 0, size: cut === undefined ? bytes.length : cut % bytes.length }]);
        const started = Date.now();
        try {
          await refusedCleanly(() => indexTar(tar, "fuzz.tar"));
        } finally {
          await tar.close();
        }
        assert.ok(Date.now() - started < 2000, "indexing ends quickly");
      }),
      settings(),
    );
  });
});
