/**
 * Signed bundles, checked by openssl as an independent reader and by our own verify and load: keys made by
 * openssl in the test (and by `bundle key create`), a tampered tar whose sidecar was regenerated, a wrong key, a
 * missing signature, an encrypted key's passphrase that never shows.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../helpers/cli.js";
import { makeImage, seedRegistry, sha256 } from "../helpers/images.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase, type SaveCase } from "../helpers/save-case.js";

const exec = promisify(execFile);

describe("signed bundles", () => {
  let work: string;
  let source: TestRegistry;
  let target: TestRegistry;
  let c: SaveCase;
  let key: string;
  let pub: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-sign-"));
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    await seedRegistry(source, makeImage({ seed: "sign-a", layers: [20_000] }), "team/a:1");
    key = join(work, "key.pem");
    pub = join(work, "pub.pem");
    await exec("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
    await exec("openssl", ["pkey", "-in", key, "-pubout", "-out", pub]);
    c = await saveCase(work, [`${source.host}/team/a:1`], { name: "s", version: "1" });
    const saved = await c.save(["--sign-key", key]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stderr, /signed: .*s-1\.tar\.sig \(key SHA256:[A-Za-z0-9+/]+\)/);
  });
  after(async () => {
    await Promise.all([source.stop(), target.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  test("openssl checks the .sig over the .sha256 without our tool; so does bundle verify --key", async () => {
    const der = join(work, "sig.der");
    await writeFile(der, Buffer.from(await readFile(`${c.tar.slice(0, -4)}.tar.sig`, "utf8"), "base64"));
    const { stdout } = await exec("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", der, `${c.tar}.sha256`]);
    assert.match(stdout, /Verified OK/);
    const v = await runCli(["verify", c.tar, "--key", pub]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /signed by SHA256:/);
  });

  test("a tampered tar with a regenerated sidecar passes the checksum but not the signature; load pushes nothing", async () => {
    const dir = join(work, "tampered");
    await mkdir(dir);
    const tar = join(dir, basename(c.tar));
    await copyFile(c.tar, tar);
    await copyFile(`${c.tar.slice(0, -4)}.tar.sig`, `${tar.slice(0, -4)}.tar.sig`);
    const fh = await open(tar, "r+");
    await fh.write(Buffer.from("x"), 0, 1, (await stat(tar)).size - 2048);
    await fh.close();
    await writeFile(`${tar}.sha256`, `${sha256(await readFile(tar)).slice(7)}  ${basename(tar)}\n`);
    assert.equal((await runCli(["verify", tar])).code, 0, "whoever swaps the tar can swap the sidecar");
    const v = await runCli(["verify", tar, "--key", pub]);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /error: s-1\.tar\.sig: the signature over s-1\.tar\.sha256 does not verify with key SHA256:\S+; the bundle is refused/);
    const l = await runCli(["load", tar, "--registry", target.host, "--key", pub]);
    assert.equal(l.code, 1);
    assert.equal(await countRequests(target, "POST", /\/blobs\/uploads\//), 0, "nothing pushed");
  });

  test("a wrong key and a missing signature are refused, each naming the key", async () => {
    const other = join(work, "other.pem");
    const otherPub = join(work, "other.pub");
    await exec("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other]);
    await exec("openssl", ["pkey", "-in", other, "-pubout", "-out", otherPub]);
    const wrong = await runCli(["verify", c.tar, "--key", otherPub]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /does not verify with key SHA256:/);
    const unsigned = await saveCase(work, [`${source.host}/team/a:1`], { name: "u", version: "1" });
    assert.equal((await unsigned.save()).code, 0);
    const missing = await runCli(["verify", unsigned.tar, "--key", pub]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /u-1\.tar\.sig: missing: the bundle is not signed \(checked with key SHA256:\S+\)/);
    assert.equal((await runCli(["load", unsigned.tar, "--registry", target.host, "--key", pub, "--skip-verify"])).code, 2, "--key and --skip-verify contradict");
  });

  test("save --force without --sign-key over a signed bundle leaves no old .sig behind: the site is told it is unsigned, not tampered with", async () => {
    const again = await saveCase(work, [`${source.host}/team/a:1`], { name: "f", version: "1" });
    assert.equal((await again.save(["--sign-key", key])).code, 0);
    const sig = `${again.tar.slice(0, -4)}.tar.sig`;
    await stat(sig);
    await seedRegistry(source, makeImage({ seed: "sign-b", layers: [10_000] }), "team/b:1");
    await writeFile(again.imagelist, `${source.host}/team/a:1\n${source.host}/team/b:1\n`);
    const forced = await again.save(["--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    await assert.rejects(stat(sig), "the old signature went with the old bundle");
    const v = await runCli(["verify", again.tar, "--key", pub]);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /f-1\.tar\.sig: missing: the bundle is not signed/);
    assert.doesNotMatch(v.stderr, /does not verify/);
  });

  test("bundle key create: an encrypted Ed25519 pair (0600), its passphrase from the environment and never printed; openssl checks the signature", async () => {
    const base = join(work, "release");
    const env = { ...process.env, RELEASE_PASS: "correct horse battery staple" };
    const made = await runCli(["key", "create", base, "--algorithm", "ed25519", "--pass-env", "RELEASE_PASS"], { env });
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await stat(`${base}.key`)).mode & 0o777, 0o600);
    assert.match(await readFile(`${base}.key`, "utf8"), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal((await runCli(["key", "create", base])).code, 2, "an existing key is not overwritten");
    const ed = await saveCase(work, [`${source.host}/team/a:1`], { name: "e", version: "1", env });
    const noPass = await ed.save(["--sign-key", `${base}.key`]);
    assert.equal(noPass.code, 2);
    assert.match(noPass.stderr, /is encrypted: give its passphrase with --sign-key-pass-env VAR/);
    const wrongPass = await saveCase(work, [`${source.host}/team/a:1`], { name: "w", version: "1", env: { ...env, WRONG: "not it" } });
    const w = await wrongPass.save(["--sign-key", `${base}.key`, "--sign-key-pass-env", "WRONG"]);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /the passphrase does not open it/);
    const saved = await ed.save(["--sign-key", `${base}.key`, "--sign-key-pass-env", "RELEASE_PASS"]);
    assert.equal(saved.code, 0, saved.stderr);
    for (const r of [made, noPass, w, saved]) assert.ok(!(r.stdout + r.stderr).includes("correct horse"), "the passphrase never shows");
    const der = join(work, "ed.der");
    await writeFile(der, Buffer.from(await readFile(`${ed.tar.slice(0, -4)}.tar.sig`, "utf8"), "base64"));
    const { stdout } = await exec("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", `${base}.pub`, "-rawin", "-in", `${ed.tar}.sha256`, "-sigfile", der]);
    assert.match(stdout, /Signature Verified Successfully/);
    assert.equal((await runCli(["verify", ed.tar, "--key", `${base}.pub`])).code, 0);
  });
});
