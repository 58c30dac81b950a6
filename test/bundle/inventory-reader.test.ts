/**
 * Reading an inventory (`save --since`, `diff`): whatever the file holds, one clear error or an inventory;
 * its .sha256 checked; its size capped before it is read; its repository names fit for URLs.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { INVENTORY_FORMAT, inventoryDigest, parseInventory } from "../../src/bundle/inventory.js";
import { AirgapError } from "../../src/errors.js";
import { MAX_INVENTORY_BYTES, readBase } from "../../src/ops/inventory.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const good = (repository = "team/app") => ({
  format: INVENTORY_FORMAT,
  created: "2026-12-03T00:00:00Z",
  source: "registry 10.0.0.5:5000",
  repositories: { [repository]: { tags: { "1": DIGEST } } },
  manifests: { [DIGEST]: { mediaType: "application/vnd.oci.image.manifest.v1+json", size: 300, repository } },
  blobs: { [`sha256:${"b".repeat(64)}`]: { size: 1000, repository } },
});

describe("the inventory reader", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "airgap-inventory-reader-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("any text at all: an inventory, or an INVALID_ARGUMENT error, never anything else", () => {
    const values = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({ format: fc.constantFrom(INVENTORY_FORMAT, "x"), created: fc.anything(), source: fc.anything(), repositories: fc.anything(), manifests: fc.anything(), blobs: fc.anything() }).map((v) => JSON.stringify(v)),
      fc.string().map((name) => JSON.stringify(good(name))),
    );
    fc.assert(fc.property(values, (text) => {
      try {
        parseInventory(text, "inv.json");
      } catch (err) {
        assert.ok(err instanceof AirgapError && err.code === "INVALID_ARGUMENT", `${String(err)} for ${text.slice(0, 80)}`);
      }
    }), { numRuns: Number(process.env.FUZZ_RUNS ?? 500) });
  });

  test("repository names that are not repository paths are refused, each named (they go into registry URLs)", () => {
    for (const name of ["../../v2/x", "team/app?x=1", "a b", "Team/App", "team//app", "%2e%2e/x"]) {
      assert.throws(() => parseInventory(JSON.stringify(good(name)), "inv.json"), (err: unknown) => err instanceof AirgapError && err.problems.some((p) => p.reason.includes("is not a repository path")), name);
    }
    assert.equal(Object.keys(parseInventory(JSON.stringify(good("team/app-1.x__y")), "inv.json").repositories).length, 1);
  });

  test("an inventory that starts with whitespace or a byte-order mark is read as one, not as a tar", async () => {
    const path = join(dir, "spaced.json");
    await writeFile(path, `\uFEFF\n  ${JSON.stringify(good())}`);
    assert.equal(Object.keys((await readBase(path)).inventory.blobs).length, 1);
  });

  test("its .sha256 is checked: a changed inventory is refused; without one it is read and said unchecked", async () => {
    const path = join(dir, "site.json");
    const text = JSON.stringify(good(), null, 1);
    await writeFile(path, text);
    await writeFile(`${path}.sha256`, `${inventoryDigest(text)}  site.json\n`);
    assert.equal((await readBase(path)).sidecarChecked, true);
    await writeFile(path, text.replace('"size": 1000', '"size": 1001'));
    await assert.rejects(readBase(path), (err: unknown) => err instanceof AirgapError && err.code === "VERIFY_FAILED" && /does not match site\.json\.sha256/.test(err.message));
    const bare = join(dir, "bare.json");
    await writeFile(bare, text);
    assert.equal((await readBase(bare)).sidecarChecked, false);
  });

  test(`an inventory larger than ${MAX_INVENTORY_BYTES / 1024 / 1024} MiB is refused before it is read`, async () => {
    const path = join(dir, "huge.json");
    await writeFile(path, "{");
    await truncate(path, MAX_INVENTORY_BYTES + 1); // sparse: no disk, no memory
    const rss = process.memoryUsage().rss;
    await assert.rejects(readBase(path), (err: unknown) => err instanceof AirgapError && /is \d+ bytes; more than the \d+ such a file can be/.test(err.message));
    assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, "not read into memory");
  });
});
