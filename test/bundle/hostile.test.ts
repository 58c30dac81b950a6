/**
 * Hostile bundles: every mutation of a good bundle must end by itself, exit 1 or 2 with one clear line —
 * never a stack trace, never a hang — and push nothing. Each case is run through inspect, verify --deep
 * and load. The mutations cover the tar's header fields, pax records, bundle.json and index.json shapes,
 * SHA256SUMS and the sidecar; the sidecar is redone after each, so only the deeper checks can catch them.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { copyFile, lstat, mkdir, mkdtemp, open, readFile, readdir, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { tarEntryOffsets } from "../helpers/bundle.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { editJson, endOfEntries, headerOffsets, mutateBundle, paxBlocks, setHeaderField } from "../helpers/mutate-bundle.js";
import { ustarHeader } from "../helpers/tar.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";
import { aliasBomb } from "../helpers/yaml-bomb.js";

/** A command that must refuse: it ended by itself, exit 1 or 2, one `error:` line first, no stack, nothing unexpected. */
function assertRefused(r: CliResult, label: string): void {
  assert.notEqual(r.code, null, `${label}: ended by itself`);
  assert.ok(r.code === 1 || r.code === 2, `${label}: exit ${r.code}\n${r.stderr}`);
  assertClean(r, label);
  assert.match(r.stderr, /^error: /m, `${label}: says what is wrong`);
}

/** Whatever the outcome, no crash: no stack trace, no "unexpected", at most one error line. */
function assertClean(r: CliResult, label: string): void {
  assert.notEqual(r.code, null, `${label}: ended by itself`);
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${label}: no stack trace\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^error: unexpected/m, `${label}: no unexpected error\n${r.stderr}`);
  assert.ok((r.stderr.match(/^error: /gm) ?? []).length <= 1, `${label}: one error line\n${r.stderr}`);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function residecar(path: string): Promise<void> {
  await writeFile(`${path}.sha256`, `${sha256(await readFile(path))}  ${basename(path)}\n`);
}

/** Runs `work` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

describe("hostile bundles", () => {
  let source: TestRegistry;
  let target: TestRegistry;
  let work: string;
  let good: string;
  let goodBytes: Buffer;
  const a = makeImage({ seed: "hostile-a", layers: [20_000] });
  const b = makeImage({ seed: "hostile-b", layers: [30_000] });

  before(async () => {
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    work = await mkdtemp(join(tmpdir(), "airgap-hostile-"));
    await seedRegistry(source, a, "team/a:1");
    await seedRegistry(source, b, "team/b:1");
    const c = await saveCase(work, [`${source.host}/team/a:1`, `${source.host}/team/b:1`], { name: "good" });
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "1-app.yaml"), `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: ${source.host}/team/a:1\n`);
    const saved = await c.save(["--manifests", join(c.dir, "manifests")]);
    assert.equal(saved.code, 0, saved.stderr);
    good = c.tar;
    goodBytes = await readFile(good);
  });
  after(async () => {
    await Promise.all([source.stop(), target.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  let n = 0;
  /** A raw copy of the good bundle changed by `change`, its sidecar redone. */
  async function raw(change: (bytes: Buffer) => Buffer): Promise<string> {
    const path = join(work, `raw-${++n}.tar`);
    await writeFile(path, change(Buffer.from(goodBytes)));
    await residecar(path);
    return path;
  }
  async function entries(change: Parameters<typeof mutateBundle>[2]): Promise<string> {
    const path = join(work, `mut-${++n}.tar`);
    await mutateBundle(good, path, change);
    return path;
  }
  /** The good bundle with pax `records` (and an empty manifest entry after them) before its end. */
  function withPax(records: string) {
    return (bytes: Buffer) => {
      const end = endOfEntries(bytes);
      const withFile = ustarHeader("manifests/a.yaml", 0);
      return Buffer.concat([bytes.subarray(0, end), paxBlocks(records), withFile, Buffer.alloc(1024)]);
    };
  }
  const blobHeader = (bytes: Buffer) => headerOffsets(bytes).find((o) => bytes.toString("utf8", o, o + 13) === "blobs/sha256/" && bytes[o + 13] !== 0)!;

  test("every mutation ends by itself with one clear line, exit 1 or 2, and pushes nothing", async () => {
    const cases: Array<[string, () => Promise<string>]> = [
      ["pax length 1e-300", () => raw(withPax("1e-300 path=manifests/a.yaml\n"))],
      ["pax length 0", () => raw(withPax("0 path=x\n"))],
      ["pax length past its data", () => raw(withPax("999 path=x\n"))],
      ["pax negative size", () => raw(withPax("13 size=-512\n"))],
      ["pax size not a number", () => raw(withPax("12 size=abc\n"))],
      ["pax size beyond the file", () => raw(withPax("24 size=99999999999999\n"))],
      ["pax record without a key", () => raw(withPax("8 =abc\n\n"))],
      ["header size not octal", () => raw((x) => setHeaderField(x, blobHeader(x), "size", "zz"))],
      ["header size negative", () => raw((x) => setHeaderField(x, blobHeader(x), "size", "-1"))],
      ["header size huge", () => raw((x) => setHeaderField(x, blobHeader(x), "size", "77777777777"))],
      ["hard link", () => raw((x) => setHeaderField(x, blobHeader(x), "typeflag", "1"))],
      ["symbolic link", () => raw((x) => setHeaderField(x, blobHeader(x), "typeflag", "2"))],
      ["device", () => raw((x) => setHeaderField(x, blobHeader(x), "typeflag", "3"))],
      ["FIFO", () => raw((x) => setHeaderField(x, blobHeader(x), "typeflag", "6"))],
      ["name with ..", () => raw((x) => setHeaderField(x, blobHeader(x), "name", "blobs/../../etc/passwd"))],
      ["absolute name", () => raw((x) => setHeaderField(x, blobHeader(x), "name", "/etc/passwd"))],
      ["name outside the format", () => raw((x) => setHeaderField(x, blobHeader(x), "name", "notes.txt"))],
      ["bad header checksum", () => raw((x) => { const at = blobHeader(x) + 1; x[at] = x[at]! ^ 0xff; return x; })],
      ["truncated mid-blob", () => raw((x) => x.subarray(0, blobHeader(x) + 700))],
      ["not a tar at all", () => raw(() => Buffer.from("hello, this is not a bundle\n".repeat(40)))],
      ["bundle.json images: 5", () => entries((e) => editJson(e, "bundle.json", (j) => ({ ...j, images: 5 })))],
      ["bundle.json images: [null]", () => entries((e) => editJson(e, "bundle.json", (j) => ({ ...j, images: [null] })))],
      ["bundle.json platforms: 7", () => entries((e) => editJson(e, "bundle.json", (j) => ({ ...j, platforms: 7 })))],
      ["bundle.json a digest of 3", () => entries((e) => editJson(e, "bundle.json", (j) => ({ ...j, images: (j.images as object[]).map((i) => ({ ...i, digest: 3 })) })))],
      ["bundle.json a source that is no reference", () => entries((e) => editJson(e, "bundle.json", (j) => ({ ...j, images: (j.images as object[]).map((i) => ({ ...i, source: "UP//x" })) })))],
      ["bundle.json not JSON", () => entries((e) => void (e.find((x) => x.name === "bundle.json")!.data = Buffer.from("{nope")))],
      ["bundle.json a format of its own", () => entries((e) => editJson(e, "bundle.json", (j) => ({ ...j, format: "airgap-bundle/v9" })))],
      ["index.json manifests: {}", () => entries((e) => editJson(e, "index.json", (j) => ({ ...j, manifests: {} })))],
      ["index.json manifests: [null]", () => entries((e) => editJson(e, "index.json", (j) => ({ ...j, manifests: [null] })))],
      ["index.json a size of -1", () => entries((e) => editJson(e, "index.json", (j) => ({ ...j, manifests: (j.manifests as object[]).map((m) => ({ ...m, size: -1 })) })))],
      ["index.json maps an image to another's manifest", () => entries((e) => editJson(e, "index.json", (j) => {
        const m = j.manifests as Array<Record<string, unknown>>;
        return { ...j, manifests: [{ ...m[1], annotations: m[0]!.annotations }, m[1]] };
      }))],
      ["two images for one tag", () => entries((e) => editJson(e, "bundle.json", (j) => {
        const images = j.images as Array<Record<string, unknown>>;
        return { ...j, images: [images[0], { ...images[1], source: String(images[0]!.source).replace(/:1$/, ":1@" + String(images[1]!.digest)) }] };
      }))],
      ["no bundle.json", () => entries((e) => e.filter((x) => x.name !== "bundle.json"))],
      ["a manifest file gone from the tar but listed in SHA256SUMS", async () => {
        const path = join(work, `sums-${++n}.tar`);
        await mutateBundle(good, path, (e) => e.filter((x) => x.name !== "manifests/1-app.yaml"));
        return path;
      }],
      ["sidecar names notes.txt", async () => {
        const path = await raw((x) => x);
        await writeFile(`${path}.sha256`, `${sha256(Buffer.from(""))}  notes.txt\n`);
        await writeFile(join(work, "notes.txt"), "");
        return path;
      }],
      ["sidecar names ../../../etc/hostname", async () => {
        const path = await raw((x) => x);
        await writeFile(`${path}.sha256`, `${sha256(await readFile("/etc/hostname"))}  ../../../etc/hostname\n`);
        return path;
      }],
      ["sidecar is garbage", async () => {
        const path = await raw((x) => x);
        await writeFile(`${path}.sha256`, "\u001b[2Jnot a checksum\n");
        return path;
      }],
    ];
    const before = await countRequests(target, "POST", /\/blobs\/uploads\//);
    const failures: string[] = [];
    await pool(cases, 3, async ([label, make]) => {
      const path = await make();
      for (const args of [["inspect", path], ["verify", path, "--deep"], ["load", path, "--registry", target.host, "--no-install"]]) {
        if (label.startsWith("sidecar") && args[0] === "inspect") continue; // inspect reads no sidecar
        if (label.startsWith("a manifest file gone") && args[0] === "inspect") continue;
        const r = await runCli(args, { timeoutMs: 30_000 });
        try {
          assertRefused(r, `${label}: ${args[0]}`);
        } catch (err) {
          failures.push((err as Error).message.split("\n").slice(0, 4).join("\n"));
        }
      }
    });
    assert.deepEqual(failures, []);
    assert.equal(await countRequests(target, "POST", /\/blobs\/uploads\//), before, "nothing was pushed");
    assert.deepEqual(JSON.parse((await target.fetch("/v2/_catalog")).body.toString()).repositories, []);
  });

  test("an alias bomb among the manifests: save ends at once, install refuses it before touching anything", async () => {
    const c = await saveCase(work, [`${source.host}/team/a:1`], { name: "bomb" });
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "1.yaml"), aliasBomb().replace("nginx:1.25", `${source.host}/team/a:1`));
    const started = Date.now();
    const saved = await c.save(["--manifests", join(c.dir, "manifests")]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.ok(Date.now() - started < 15_000, "the save ended at once");
    const install = await runCli(["install", c.tar, "--registry", target.host, "--dry-run", "--out", join(c.dir, "r")], { timeoutMs: 20_000 });
    assert.equal(install.code, 1);
    assert.match(install.stderr, /1\.yaml: not valid YAML after rendering: .*|aliases expand too far/);
  });

  test("a joined split bundle is proved by its # whole line, not by the parts it was made from", async () => {
    const c = await saveCase(work, [`${source.host}/team/a:1`, `${source.host}/team/b:1`], { name: "split" });
    await mkdir(join(c.dir, "manifests"));
    await writeFile(join(c.dir, "manifests", "1-app.yaml"), `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: ${source.host}/team/a:1\n`);
    assert.equal((await c.save(["--split-size", "1Mi", "--manifests", join(c.dir, "manifests")])).code, 0);
    const parts = (await readdir(c.out)).filter((f) => /\.\d{3}$/.test(f)).sort();
    const joined = join(c.out, "split-1.tar");
    await writeFile(joined, Buffer.concat(await Promise.all(parts.map((p) => readFile(join(c.out, p))))));
    assert.equal((await runCli(["verify", joined])).code, 0, "the joined tar matches the # whole line");
    // One byte of the manifest changed in the joined tar: the intact parts beside it must not vouch for it.
    const entry = (await tarEntryOffsets(joined)).find((e) => e.name === "manifests/1-app.yaml")!;
    const fh = await open(joined, "r+");
    await fh.write(Buffer.from("b"), 0, 1, entry.offset);
    await fh.close();
    const r = await runCli(["verify", joined]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /split-1\.tar: checksum mismatch/);
    const install = await runCli(["install", joined, "--registry", target.host, "--dry-run", "--out", join(c.dir, "r")]);
    assert.equal(install.code, 1, "nothing is rendered from the changed manifest");
  });

  test("a bundle changed in place with its size and times kept is not trusted from the earlier check", async () => {
    const c = await saveCase(work, [`${source.host}/team/a:1`], { name: "stamped" });
    assert.equal((await c.save()).code, 0);
    const fresh = await startRegistry();
    try {
      const before = await stat(c.tar);
      // bundle.json's "name": "stamped" → "stamper": same size, same inode; the times put back.
      const entry = (await tarEntryOffsets(c.tar)).find((e) => e.name === "bundle.json")!;
      const text = (await readFile(c.tar)).toString("latin1", entry.offset, entry.offset + 400);
      const at = entry.offset + text.indexOf('"stamped"') + 7;
      const fh = await open(c.tar, "r+");
      await fh.write(Buffer.from("r"), 0, 1, at);
      await fh.close();
      await utimes(c.tar, before.atime, before.mtime);
      const r = await runCli(["load", c.tar, "--registry", fresh.host]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /checksum mismatch/);
      assert.equal(await countRequests(fresh, "POST", /\/blobs\/uploads\//), 0);
    } finally {
      await fresh.stop();
    }
  });

  test("save --force killed while renaming keeps a whole bundle; a plain rerun finds it complete", async () => {
    const c = await saveCase(work, [`${source.host}/team/a:1`], { name: "atomic" });
    assert.equal((await c.save()).code, 0);
    const old = await readFile(c.tar);
    // The state a kill -9 leaves between renaming the new tar into place and renaming its sidecar: the journal
    // says "commit", the new sidecar is still under its temporary name, the old sidecar beside the new tar.
    await copyFile(c.tar, join(c.out, ".atomic-1.tar.partial"));
    await copyFile(`${c.tar}.sha256`, join(c.out, ".atomic-1.tar.sha256.partial"));
    await writeFile(`${c.tar}.sha256`, `${"0".repeat(64)}  atomic-1.tar\n`);
    await writeFile(join(c.out, ".atomic-1.tar.journal"), `airgap-bundle-journal v1\nparts 0 ${old.length}\ncommit\n`);
    const r = await c.save();
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists/);
    assert.equal((await runCli(["verify", c.tar])).code, 0, "the interrupted commit was completed");
    assert.deepEqual((await readdir(c.out)).filter((f) => f.startsWith(".")), [], "no temporary file left");
  });

  test("save --force killed at any moment never loses the bundle; a rerun finds its way to one that verifies", async () => {
    const big = makeImage({ seed: "hostile-big", layers: [6_000_000, 6_000_000] });
    await seedRegistry(source, big, "team/big:1");
    const c = await saveCase(work, [`${source.host}/team/big:1`, `${source.host}/team/a:1`], { name: "killed" });
    assert.equal((await c.save()).code, 0);
    const { spawn } = await import("node:child_process");
    const { CLI } = await import("../helpers/cli.js");
    const forced = async (killAfterMs?: number): Promise<number> => {
      await rm(c.cache, { recursive: true, force: true }); // each save downloads again, so it takes its time
      const started = Date.now();
      const child = spawn(process.execPath, [CLI, ...c.args(["--force"])], { stdio: "ignore" });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      if (killAfterMs !== undefined) setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      await exited;
      return Date.now() - started;
    };
    const whole = await forced();
    for (const fraction of [0.2, 0.4, 0.6, 0.8, 0.9, 0.95]) {
      const ms = Math.round(whole * fraction);
      await forced(ms);
      // Never lost: a whole bundle is there, the old or the new one.
      assert.ok(await stat(c.tar).then(() => true, () => false), `killed after ${ms} ms: the bundle is still there`);
      let v = await runCli(["verify", c.tar]);
      if (v.code !== 0) {
        // Killed between renaming the new tar into place and its sidecar: a plain rerun completes the commit.
        const rerun = await c.save();
        assert.match(rerun.stderr, /already exists/, `killed after ${ms} ms: ${rerun.stderr}`);
        v = await runCli(["verify", c.tar]);
      }
      assert.equal(v.code, 0, `killed after ${ms} ms: ${v.stderr}`);
    }
  });

  test("export never replaces what is not ours: a FIFO, a device node, a symlink or the bundle it reads, --force or not", async () => {
    const ref = `${source.host}/team/a:1`;
    const fifo = join(work, "a-fifo");
    await new Promise<void>((resolve, reject) => execFile("mkfifo", [fifo], (err) => (err ? reject(err) : resolve())));
    const precious = join(work, "precious.txt");
    await writeFile(precious, "the user's file\n");
    const link = join(work, "a-link");
    await symlink(precious, link);
    for (const [target, words] of [[fifo, "a FIFO"], ["/dev/null", "a device node"], [link, "a symbolic link"], [work, "a folder"]] as const) {
      for (const force of [[], ["--force"]]) {
        const r = await runCli(["export", good, ref, "-o", target, ...force]);
        assertRefused(r, `export -o ${target} ${force.join(" ")}`);
        assert.equal(r.code, 2);
        assert.match(r.stderr, new RegExp(`^error: -o ${target.replace(/[.]/g, "\\.")} is ${words}, not a file; it is never replaced, --force or not$`, "m"));
        assert.doesNotMatch(r.stdout + r.stderr, /wrote/);
      }
    }
    assert.ok((await lstat(fifo)).isFIFO(), "the FIFO is still a FIFO");
    assert.ok((await lstat("/dev/null")).isCharacterDevice(), "/dev/null is still a device");
    assert.ok((await lstat(link)).isSymbolicLink(), "the link is still a link");
    assert.equal(await readFile(precious, "utf8"), "the user's file\n");
    const copy = join(work, "self.tar");
    await copyFile(good, copy);
    const self = await runCli(["export", copy, ref, "-o", copy, "--force"]);
    assertRefused(self, "export B -o B --force");
    assert.match(self.stderr, /is .*self\.tar, which this command reads/);
    assert.deepEqual(await readFile(copy), goodBytes, "the bundle read is untouched");
  });

  test("install --dry-run --out a folder holding files refuses before doing anything (also when the run would fail), --force writes into it", async () => {
    const out = join(work, "rendered-user");
    await mkdir(out);
    await writeFile(join(out, "notes.txt"), "mine\n");
    for (const extra of [[], ["--config", join(work, "no-such.config")]]) {
      const r = await runCli(["install", good, "--registry", target.host, "--dry-run", "--out", out, ...extra]);
      assertRefused(r, "install --dry-run --out non-empty");
      assert.match(r.stderr, /^error: --out .*rendered-user is not empty$/m);
      assert.deepEqual((await readdir(out)).sort(), ["notes.txt"], "nothing written");
    }
    // Loaded, so that the dry run's check of the rendered references passes too.
    assert.equal((await runCli(["load", good, "--registry", target.host, "--no-install"])).code, 0);
    const forced = await runCli(["install", good, "--registry", target.host, "--dry-run", "--out", out, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual((await readdir(out)).sort(), ["1-app.yaml", "notes.txt"]);
    assert.equal(await readFile(join(out, "notes.txt"), "utf8"), "mine\n");
  });

  test("a config altered with the sidecar made again: the default load refuses before the first push, naming it", async () => {
    const at = (await tarEntryOffsets(good)).find((e) => e.name === `blobs/sha256/${b.config.digest.slice(7)}`)!.offset;
    const path = await raw((bytes) => {
      bytes[at + 2] = bytes[at + 2]! ^ 0x01;
      return bytes;
    });
    const fresh = await startRegistry();
    try {
      const r = await runCli(["load", path, "--registry", fresh.host, "--no-install"]);
      assertRefused(r, "load of an altered config");
      assert.match(r.stderr, /^error: .*: 1 manifest or config in the bundle does not match its digest; nothing was pushed$/m);
      assert.match(r.stderr, new RegExp(b.config.digest.slice(7, 20)));
      assert.equal(await countRequests(fresh, "POST", /\/blobs\/uploads\//), 0, "nothing pushed, not even the intact image");
    } finally {
      await fresh.stop();
    }
  });
});
