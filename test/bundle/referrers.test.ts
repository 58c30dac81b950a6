/**
 * Signatures and SBOMs travel with their images: a cosign signature (tag `sha256-<hex>.sig`) and an SPDX SBOM
 * referrer (found through the referrers tag schema: distribution 2.8 has no Referrers API) are carried by save,
 * listed by inspect, and pushed by load after their image — the SBOM reaching the target through the fallback tag
 * index, merged with one already there.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { pushCosignSignature, pushFallbackIndex, pushSbomReferrer } from "../helpers/cosign.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { getManifest } from "../helpers/push.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase, type SaveCase } from "../helpers/save-case.js";

const exec = promisify(execFile);
const a = makeImage({ seed: "ref-a", layers: [10_000] });
const b = makeImage({ seed: "ref-b", layers: [12_000] });
const subjectOf = (i: typeof a) => ({ mediaType: i.manifest.mediaType, digest: i.manifest.digest, size: i.manifest.size });

describe("signatures, attestations and SBOMs travel with their images", () => {
  let work: string;
  let source: TestRegistry;
  let c: SaveCase;
  let key: string;
  let signature: string;
  let sbom: { digest: string };
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-referrers-"));
    source = await startRegistry();
    key = join(work, "cosign.key");
    await exec("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
    await seedRegistry(source, a, "team/a:1");
    await seedRegistry(source, b, "team/b:1");
    signature = await pushCosignSignature(source, "team/a", `${source.host}/team/a`, a.manifest.digest, key);
    sbom = await pushSbomReferrer(source, "team/a", subjectOf(a), "a");
    await pushFallbackIndex(source, "team/a", a.manifest.digest, [sbom]);
    c = await saveCase(work, [`${source.host}/team/a:1`, `${source.host}/team/b:1`], { name: "r", version: "1" });
    const saved = await c.save();
    assert.equal(saved.code, 0, saved.stderr);
  });
  after(async () => {
    await source.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("save carries them, recorded with their image and kind; inspect lists them; --no-referrers leaves them", async () => {
    const json = bundleJsonOf(await listTar(c.tar)) as unknown as { referrers: Array<{ subject: string; kind: string; digest: string; tag?: string; artifactType?: string }> };
    const bySubject = json.referrers.map((r) => [r.subject, r.kind, r.digest, r.tag ?? r.artifactType]);
    assert.deepEqual(bySubject.sort(), [
      [`${source.host}/team/a:1`, "cosign-signature", signature, `${a.manifest.digest.replace(":", "-")}.sig`],
      [`${source.host}/team/a:1`, "referrer", sbom.digest, "application/spdx+json"],
    ].sort());
    const inspect = await runCli(["inspect", c.tar]);
    assert.match(inspect.stdout, /attached \(2\)[\s\S]*team\/a:1\n +cosign-signature +sha256:\w+ +\(tag sha256-\w+\.sig\)\n +referrer application\/spdx\+json +sha256:/);
    assert.equal((await runCli(["verify", c.tar, "--deep"])).code, 0, "every referrer's blobs are in the bundle");
    const none = await saveCase(work, [`${source.host}/team/a:1`], { name: "n", version: "1" });
    assert.equal((await none.save(["--no-referrers"])).code, 0);
    assert.equal((bundleJsonOf(await listTar(none.tar)) as unknown as { referrers?: unknown[] }).referrers, undefined);
  });

  test("load pushes them after their image: the signature under its tag, the SBOM through a fallback index merged with one already there", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const repo = `${source.host.replace(":", "-")}/team/a`;
    // The target already lists another referrer of the same image in its fallback index: it must stay.
    await exec("skopeo", ["copy", "--preserve-digests", "--dest-tls-verify=false", "--src-tls-verify=false", `docker://${source.host}/team/a:1`, `docker://${target.host}/${repo}:1`]);
    const other = await pushSbomReferrer(target, repo, subjectOf(a), "other");
    await pushFallbackIndex(target, repo, a.manifest.digest, [other]);
    const r = await runCli(["load", c.tar, "--registry", target.host, "--no-install"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await getManifest(target, repo, `${a.manifest.digest.replace(":", "-")}.sig`))?.digest, signature);
    assert.ok(await getManifest(target, repo, sbom.digest), "the SBOM by digest");
    const index = await getManifest(target, repo, a.manifest.digest.replace(":", "-"));
    const listed = (JSON.parse(index!.body.toString()) as { manifests: Array<{ digest: string; artifactType?: string }> }).manifests;
    assert.deepEqual(listed.map((m) => m.digest).sort(), [other.digest, sbom.digest].sort(), "merged, not replaced");
    assert.ok(listed.every((m) => m.artifactType === "application/spdx+json"));
    const again = await runCli(["load", c.tar, "--registry", target.host, "--no-install"]);
    assert.equal(again.code, 0, again.stderr);
    const after2 = (JSON.parse((await getManifest(target, repo, a.manifest.digest.replace(":", "-")))!.body.toString()) as { manifests: unknown[] }).manifests;
    assert.equal(after2.length, 2, "a second load adds nothing twice");
  });

  test("verify --image-key checks each image's signature offline: signed, unsigned, bad (another image's digest, another key)", async () => {
    const pub = join(work, "cosign.pub");
    await exec("openssl", ["pkey", "-in", key, "-pubout", "-out", pub]);
    const ok = await runCli(["verify", c.tar, "--image-key", pub]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, new RegExp(`image signature: ${source.host}/team/a:1: signed`));
    assert.match(ok.stderr, new RegExp(`image signature: ${source.host}/team/b:1: unsigned`));
    assert.match(ok.stderr, /image signatures: 1 of 2 images signed with key SHA256:/);

    const otherKey = join(work, "other.key");
    const otherPub = join(work, "other.pub");
    await exec("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey]);
    await exec("openssl", ["pkey", "-in", otherKey, "-pubout", "-out", otherPub]);
    const wrongKey = await runCli(["verify", c.tar, "--image-key", otherPub]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /team\/a:1: bad \(the signature does not verify with the key\)/);

    // b's signature object names a's digest: a signature lifted from another image.
    await pushCosignSignature(source, "team/b", `${source.host}/team/b`, a.manifest.digest, key, b.manifest.digest);
    const lifted = await saveCase(work, [`${source.host}/team/a:1`, `${source.host}/team/b:1`], { name: "l", version: "1" });
    assert.equal((await lifted.save()).code, 0);
    const bad = await runCli(["verify", lifted.tar, "--image-key", pub]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`team/b:1: bad \\(it signs ${a.manifest.digest}, not this image`));
  });

  test("load --require-signatures with one unsigned image pushes nothing", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const pub = join(work, "cosign.pub");
    const r = await runCli(["load", c.tar, "--registry", target.host, "--no-install", "--require-signatures", "--image-key", pub]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /1 of 2 images lack a good signature; nothing was pushed/);
    assert.match(r.stderr, /team\/b:1": no signature in the bundle/);
    assert.equal(await countRequests(target, "POST", /\/blobs\/uploads\//), 0);
    assert.equal((await runCli(["load", c.tar, "--registry", target.host, "--require-signatures"])).code, 2, "needs --image-key");
  });
});
