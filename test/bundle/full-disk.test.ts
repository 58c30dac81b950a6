/**
 * Full disks, in one place (small tmpfs mounted by the test, as root). A save onto a filesystem that fills up while
 * it writes: a clear one-line error, nothing that looks finished, and after space is freed a rerun completes without
 * downloading again what was already written and checked. A bundle that cannot fit is refused before anything is
 * downloaded; a cache that fills is a clear error naming the blob, with no temporary file left. The second layer is held back by the fault proxy until the first is in the
 * bundle's journal; then the disk is filled.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { runCli } from "../helpers/cli.js";
import { faultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { makeImage, seedRegistry, type TestImage } from "../helpers/images.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";

const root = process.getuid?.() === 0;
const image = makeImage({ seed: "full-disk", layers: [700_000, 600_000] });

describe("a disk that fills up during a save", { skip: root ? false : "needs root to mount a small tmpfs" }, () => {
  let work: string;
  let disk: string;
  let source: TestRegistry;
  let proxy: FaultProxy;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-full-"));
    disk = join(work, "disk");
    await mkdir(disk);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk]);
    source = await startRegistry();
    await seedRegistry(source, image, "team/full:1");
    const second = image.layers.find((l) => l.size < 700_000 * 0.99 && l.size === Math.min(...image.layers.map((x) => x.size)))!;
    proxy = await faultProxy(source.url, [{ method: "GET", path: `/blobs/${second.digest}`, delayMs: 1500, times: 1 }]);
  });
  after(async () => {
    await proxy.stop();
    await source.stop();
    execFileSync("umount", [disk]);
    await rm(work, { recursive: true, force: true });
  });

  test("a clear error, nothing that looks finished; freed, a rerun finishes without downloading again", async () => {
    const out = join(disk, "out");
    await writeFile(join(work, "imagelist"), `${proxy.host}/team/full:1\n`);
    const args = ["save", "--name", "f", "--version", "1", "--imagelist", join(work, "imagelist"), "--out", out, "--cache-dir", join(disk, "cache")];
    const first = runCli(args);
    // Once the first layer is journalled (written and checked), the disk fills before the second arrives.
    const journal = join(out, ".f-1.tar.journal");
    const big = image.layers.reduce((a, b) => (a.size > b.size ? a : b));
    for (let i = 0; i < 100 && !(await readFile(journal, "utf8").catch(() => "")).includes(big.digest); i++) await sleep(20);
    const free = Number(execFileSync("df", ["--output=avail", "-B1", disk], { encoding: "utf8" }).split("\n")[1]);
    await writeFile(join(disk, "filler"), Buffer.alloc(Math.max(0, free - 16 * 1024)));
    const r = await first;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: disk full while writing .*\nhint: free space \(or choose another folder\) and run again/m);
    assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
    assert.deepEqual((await readdir(out)).filter((f) => !f.startsWith(".")), [], "nothing that looks finished");

    await rm(join(disk, "filler"));
    const gets = (digest: string) => proxy.requests.filter((q) => q.method === "GET" && q.path.endsWith(`/blobs/${digest}`)).length;
    const before = gets(big.digest);
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(gets(big.digest), before, "the layer written before the disk filled is not downloaded again");
    assert.equal((await readdir(out)).filter((f) => !f.startsWith(".")).sort().join(" "), "f-1.tar f-1.tar.sha256");
    execFileSync("sha256sum", ["-c", "f-1.tar.sha256"], { cwd: out });
  });
});

describe("a disk too small for the bundle, or for the cache", { skip: root ? false : "needs root to mount a small tmpfs" }, () => {
  let registry: TestRegistry;
  let dir: string;
  let small: string;
  const big: TestImage = makeImage({ seed: "big", layers: [3_000_000] });

  before(async () => {
    registry = await startRegistry();
    await seedRegistry(registry, big, "big/image:1");
    dir = await mkdtemp(join(tmpdir(), "airgap-full-"));
    small = join(dir, "small");
    await mkdir(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", small]);
    await writeFile(join(dir, "imagelist"), `${registry.host}/big/image:1\n`);
  });
  after(async () => {
    try {
      execFileSync("umount", [small]);
    } catch {
      // not mounted
    }
    await rm(dir, { recursive: true, force: true });
    await registry.stop();
  });

  test("a bundle that cannot fit is refused before anything is downloaded", async () => {
    const r = await runCli(["save", "--name", "full", "--version", "1", "--imagelist", join(dir, "imagelist"), "--out", small, "--cache-dir", join(dir, "cache")], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not enough space in .*small for full-1\.tar: it needs 3\.0 MB, 2\.\d MB are free$/m);
    assert.deepEqual(await readdir(small), []);
    assert.equal(await countRequests(registry, "GET", new RegExp(`/blobs/${big.layers[0]!.digest}`)), 0, "the layer was not downloaded");
  });

  test("running out of space while writing is a clear error and leaves no temporary file", async () => {
    // The cache sits on the small disk; a second, missing image makes save cache the big one there.
    await writeFile(join(dir, "imagelist2"), `${registry.host}/big/image:1\n${registry.host}/big/missing:1\n`);
    const cache = join(small, "cache");
    const r = await runCli(["save", "--name", "full", "--version", "2", "--imagelist", join(dir, "imagelist2"), "--out", join(dir, "out"), "--cache-dir", cache], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /imagelist2:1: disk full while writing .*cache\/blobs\/sha256\/[0-9a-f]{64}$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const left = await readdir(join(cache, "blobs", "sha256"));
    assert.deepEqual(left.filter((f) => f.startsWith(".tmp")), [], "no temporary file");
    assert.ok(!left.includes(big.layers[0]!.digest.slice(7)), "no partial layer under its digest");
  });
});
