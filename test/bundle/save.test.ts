import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { saveCase } from "../helpers/save-case.js";
import { makeImage, makeIndex, MEDIA, seedRegistry, sha256, skopeoRegistryFlags, type TestIndex } from "../helpers/images.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";

const exec = promisify(execFile);

describe("bundle save", () => {
  let registry: TestRegistry;
  let work: string;
  const base = { seed: "python-base", size: 150_000 };
  const a = makeImage({ seed: "app-a", layers: [base, 40_000] });
  const b = makeImage({ seed: "app-b", layers: [base, 60_000] });
  const amd64 = makeImage({ seed: "multi-amd64", layers: [base, 20_000], platform: "linux/amd64" });
  const arm64 = makeImage({ seed: "multi-arm64", layers: [30_000], platform: "linux/arm64/v8" });
  const multi: TestIndex = makeIndex([amd64, arm64]);
  const armOnly = makeImage({ seed: "arm-only", layers: [1000], platform: "linux/arm64" });
  const pinned = makeImage({ seed: "pinned", layers: [5000], format: "docker" });

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "airgap-save-"));
    await seedRegistry(registry, a, "team/a:1");
    await seedRegistry(registry, b, "team/b:1");
    await seedRegistry(registry, multi, "multi/app:2");
    await seedRegistry(registry, armOnly, "arm/only:1");
    await seedRegistry(registry, pinned, "pinned/p:tmp");
  });
  after(async () => {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  const setup = (lines: string[]) => saveCase(work, lines, { name: "test", version: "1.0" });

  const ref = (path: string) => `${registry.host}/${path}`;

  test("writes one tar: bundle.json first, the OCI layout, every blob once, SHA256SUMS last", async () => {
    const c = await setup([ref("team/a:1"), ref("team/b:1"), ref("multi/app:2"), `${ref("pinned/p")}@${pinned.manifest.digest}`]);
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), c.tar);
    assert.match(r.stderr, /4 images \(linux\/amd64\), \d+ unique blobs/);
    assert.doesNotMatch(r.stderr, /not used by any manifest/, "no manifests: no report of unused entries");

    const entries = await listTar(c.tar);
    const files = entries.filter((e) => e.type === "file");
    assert.equal(files[0]?.name, "bundle.json");
    assert.equal(files.at(-1)?.name, "SHA256SUMS");
    assert.deepEqual(files.slice(1, 3).map((e) => e.name), ["oci-layout", "index.json"]);
    assert.ok(files.some((e) => e.name === "imagelist"));

    const blobNames = files.filter((e) => e.name.startsWith("blobs/sha256/")).map((e) => e.name);
    assert.equal(new Set(blobNames).size, blobNames.length, "every blob once");
    for (const e of files.filter((f) => f.name.startsWith("blobs/sha256/"))) {
      assert.equal(sha256(e.data!), `sha256:${e.name.slice("blobs/sha256/".length)}`, `${e.name} holds its digest's bytes`);
    }
    const shared = a.layers[0]!.digest.slice("sha256:".length);
    assert.equal(blobNames.filter((x) => x.endsWith(shared)).length, 1);
    // Nothing of the arm64 image of the index (default platform linux/amd64).
    assert.ok(!blobNames.some((x) => x.endsWith(arm64.manifest.digest.slice(7))));

    const json = bundleJsonOf(entries);
    assert.equal(json.format, "airgap-bundle/v1");
    assert.deepEqual(json.platforms, ["linux/amd64"]);
    assert.equal(json.blobs.count, blobNames.length);
    assert.deepEqual(json.images.map((i) => [i.source, i.line, i.digest]), [
      [ref("team/a:1"), 1, a.manifest.digest],
      [ref("team/b:1"), 2, b.manifest.digest],
      [ref("multi/app:2"), 3, multi.index.digest],
      [`${ref("pinned/p")}@${pinned.manifest.digest}`, 4, pinned.manifest.digest],
    ]);
    assert.equal(json.images[0]?.target, `${registry.host.replace(":", "-")}/team/a:1`);
    assert.equal(json.images[3]?.mediaType, MEDIA.dockerManifest);

    const index = JSON.parse(files.find((e) => e.name === "index.json")!.data!.toString());
    assert.deepEqual(
      index.manifests.map((m: { digest: string; annotations: Record<string, string> }) => [m.digest, m.annotations["org.opencontainers.image.ref.name"]]),
      json.images.map((i) => [i.digest, i.source]),
    );

    // coreutils checks the sidecar and, once extracted, SHA256SUMS.
    await exec("sha256sum", ["-c", "test-1.0.tar.sha256"], { cwd: c.out });
    const x = join(c.dir, "extracted");
    await mkdir(x);
    await exec("tar", ["-xf", c.tar, "-C", x]);
    await exec("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: x });
    // umoci reads the layout.
    const { stdout: refs } = await exec("umoci", ["ls", "--layout", x]);
    assert.ok(refs.includes(ref("team/a:1")));
  });

  test("skopeo reads the bundle and copies an image out of it digest for digest", async (t) => {
    const c = await setup([ref("team/a:1"), ref("multi/app:2")]);
    assert.equal((await c.save()).code, 0);
    const { stdout } = await exec("skopeo", ["inspect", `oci-archive:${c.tar}:${ref("team/a:1")}`]);
    assert.equal(JSON.parse(stdout).Digest, a.manifest.digest);

    const second = await startRegistry();
    t.after(() => second.stop());
    await exec("skopeo", ["copy", "--preserve-digests", ...skopeoRegistryFlags(second, "dest"), `oci-archive:${c.tar}:${ref("team/a:1")}`, `docker://${second.host}/copied/a:1`]);
    const head = await second.fetch("/v2/copied/a/manifests/1", { method: "HEAD", headers: { accept: MEDIA.ociManifest } });
    assert.equal(head.headers["docker-content-digest"], a.manifest.digest);
    for (const layer of a.layers) assert.equal((await second.fetch(`/v2/copied/a/blobs/${layer.digest}`, { method: "HEAD" })).status, 200);
  });

  test("an index keeps its original bytes and only the selected platform's image", async () => {
    const c = await setup([ref("multi/app:2")]);
    assert.equal((await c.save()).code, 0);
    const entries = await listTar(c.tar);
    const blob = (d: string) => entries.find((e) => e.name === `blobs/sha256/${d.slice(7)}`);
    assert.ok(blob(multi.index.digest)?.data?.equals(multi.index.data), "index bytes unchanged");
    assert.ok(blob(amd64.manifest.digest));
    assert.equal(blob(arm64.manifest.digest), undefined);
    assert.equal(blob(arm64.layers[0]!.digest), undefined);
    assert.deepEqual(bundleJsonOf(entries).images[0]?.platformDigests, { "linux/amd64": amd64.manifest.digest });
  });

  test("--all-platforms keeps every platform; --platform linux/arm64 picks the arm64/v8 image", async () => {
    const all = await setup([ref("multi/app:2")]);
    assert.equal((await all.save(["--all-platforms"])).code, 0);
    const json = bundleJsonOf(await listTar(all.tar));
    assert.deepEqual(json.platforms, ["all"]);
    assert.deepEqual(json.images[0]?.platformDigests, { "linux/amd64": amd64.manifest.digest, "linux/arm64/v8": arm64.manifest.digest });

    const arm = await setup([ref("multi/app:2")]);
    assert.equal((await arm.save(["--platform", "linux/arm64"])).code, 0);
    const entries = await listTar(arm.tar);
    assert.deepEqual(bundleJsonOf(entries).images[0]?.platformDigests, { "linux/arm64": arm64.manifest.digest });
    assert.ok(entries.some((e) => e.name.endsWith(arm64.layers[0]!.digest.slice(7))));
  });

  test("a pinned index digest records the chosen platform's digest", async () => {
    const c = await setup([`${ref("multi/app")}@${multi.index.digest}`]);
    assert.equal((await c.save()).code, 0);
    const image = bundleJsonOf(await listTar(c.tar)).images[0];
    assert.equal(image?.digest, multi.index.digest);
    assert.deepEqual(image?.platformDigests, { "linux/amd64": amd64.manifest.digest });
  });

  test("a platform that an index lacks fails, naming the platforms it has", async () => {
    const c = await setup([ref("multi/app:2")]);
    const r = await c.save(["--platform", "linux/s390x"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /multi\/app:2: no linux\/s390x image; the index has linux\/amd64, linux\/arm64\/v8/);
    assert.equal(existsSync(c.tar), false);
  });

  test("a single-platform image of another platform is refused", async () => {
    const c = await setup([ref("arm/only:1")]);
    const r = await c.save();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /arm\/only:1: the image is linux\/arm64 only, not linux\/amd64/);
  });

  test("a layer shared by several images is fetched once", async () => {
    const c = await setup([ref("team/a:1"), ref("team/b:1"), ref("multi/app:2")]);
    const shared = a.layers[0]!.digest;
    const before = await countRequests(registry, "GET", new RegExp(`/blobs/${shared}$`));
    assert.equal((await c.save(["--concurrency", "4"])).code, 0);
    assert.equal((await countRequests(registry, "GET", new RegExp(`/blobs/${shared}$`))) - before, 1);
  });

  test("a missing image fails the save, named with its line; the others are cached and a rerun fetches nothing again", async () => {
    const c = await setup([ref("team/a:1"), ref("nope/missing:1"), ref("team/b:1"), ref("team/a:404")]);
    const r = await c.save();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: 2 of 4 images failed; no bundle was written/);
    assert.match(r.stderr, /imagelist:2: fetching manifest 127\.0\.0\.1:\d+\/nope\/missing:1: not found/);
    assert.match(r.stderr, /imagelist:4: fetching manifest .*team\/a:404: not found/);
    assert.equal(existsSync(c.tar), false);
    assert.deepEqual((await readdir(c.out).catch(() => [])).filter((f) => !f.startsWith(".cache")), []);
    for (const layer of [...a.layers, ...b.layers]) assert.ok(existsSync(join(c.cache, "blobs", "sha256", layer.digest.slice(7))));

    await writeFile(c.imagelist, `${ref("team/a:1")}\n${ref("team/b:1")}\n`);
    const blobGets = () => countRequests(registry, "GET", /\/v2\/team\/[ab]\/blobs\//);
    const beforeRerun = await blobGets();
    const again = await c.save();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await blobGets(), beforeRerun, "nothing downloaded again");
  });

  test("refuses to overwrite a bundle without --force", async () => {
    const c = await setup([ref("team/a:1")]);
    assert.equal((await c.save()).code, 0);
    const first = await readFile(`${c.tar}.sha256`, "utf8");
    const r = await c.save();
    assert.equal(r.code, 2);
    assert.match(r.stderr, /test-1\.0\.tar already exists\nhint: pass --force/);
    assert.equal(await readFile(`${c.tar}.sha256`, "utf8"), first);
    assert.equal((await c.save(["--force"])).code, 0);
  });

  test("--split-size writes numbered parts whose concatenation is the tar", async () => {
    const c = await setup([ref("team/a:1"), ref("team/b:1")]);
    const r = await c.save(["--split-size", "1Mi"]);
    assert.equal(r.code, 0, r.stderr);
    const names = (await readdir(c.out)).filter((f) => f.startsWith("test-1.0.tar")).sort();
    assert.deepEqual(names, ["test-1.0.tar.001", "test-1.0.tar.sha256"]);
    const c2 = await setup([ref("team/a:1"), ref("team/b:1"), ref("multi/app:2")]);
    assert.equal((await c2.save(["--split-size", "1Mi", "--all-platforms"])).code, 0);
    await rm(join(c2.out, ".cache"), { recursive: true, force: true });
    const parts = (await readdir(c2.out)).filter((f) => /\.\d{3}$/.test(f)).sort();
    assert.ok(parts.length >= 1);
    await exec("sha256sum", ["-c", "test-1.0.tar.sha256"], { cwd: c2.out });
    const sidecar = await readFile(join(c2.out, "test-1.0.tar.sha256"), "utf8");
    const whole = /^# whole ([0-9a-f]{64}) {2}test-1\.0\.tar$/m.exec(sidecar)?.[1];
    const concatenated = Buffer.concat(await Promise.all(parts.map((p) => readFile(join(c2.out, p)))));
    assert.equal(sha256(concatenated).slice(7), whole);
    const entries = await listTar(...parts.map((p) => join(c2.out, p)));
    assert.equal(entries.at(-1)?.name, "SHA256SUMS");
  });

  test("a platform or size a user mistypes is a usage error", async () => {
    const c = await setup([ref("team/a:1")]);
    const bad = await c.save(["--platform", "linux"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid platform "linux"/);
    const size = await c.save(["--split-size", "4X"]);
    assert.equal(size.code, 2);
    assert.match(size.stderr, /--split-size: "4X" is not a size/);
    const name = await runCli(["save", "--name", "../evil", "--version", "1", "--imagelist", c.imagelist], { cwd: c.dir });
    assert.equal(name.code, 2);
    assert.match(name.stderr, /invalid bundle name/);
  });

  /** Writes manifest files into the case folder's manifests/. */
  async function manifests(dir: string, files: Record<string, string>): Promise<string> {
    const m = join(dir, "manifests");
    await mkdir(m, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(m, name), text);
    return m;
  }

  const pod = (image: string, extra = "") => `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: ${image}${extra}\n`;

  test("rewrites the manifests into the bundle with {{REGISTRY}} and records the images each uses", async () => {
    const c = await setup([ref("team/a:1"), ref("multi/app:2")]);
    const text = pod(ref("team/a:1"), "   # keep this comment") + `---\nkind: ConfigMap\ndata:\n  cfg: '{"image": "${ref("multi/app")}"}'\n`;
    await manifests(c.dir, { "1-app.yaml": text, "README.md": "not a manifest" });
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    const entries = await listTar(c.tar);
    const file = entries.find((e) => e.name === "manifests/1-app.yaml");
    const host = registry.host.replace(":", "-");
    assert.equal(
      file?.data?.toString(),
      text.replace(ref("team/a:1"), `{{REGISTRY}}/${host}/team/a:1`).replace(`"${ref("multi/app")}"`, `"{{REGISTRY}}/${host}/multi/app"`),
    );
    assert.equal(entries.some((e) => e.name.includes("README")), false, "only YAML and JSON files are manifests");
    assert.deepEqual(bundleJsonOf(entries).manifests, [{ path: "manifests/1-app.yaml", images: [ref("team/a:1"), ref("multi/app")] }]);
  });

  test("an image the manifests use but the imagelist lacks stops the save before any download", async () => {
    const c = await setup([ref("team/a:1")]);
    await manifests(c.dir, { "1.yaml": pod(ref("team/a:1")), "2.yaml": pod(ref("team/b:1")), "10.yaml": pod(ref("team/a:latest")) });
    const before = await countRequests(registry, "GET", /\/blobs\//);
    const r = await c.save();
    assert.equal(r.code, 2, "an input error");
    assert.match(r.stderr, /^error: the manifests use 2 image references that the imagelist lacks; nothing was downloaded$/m);
    assert.match(r.stderr, /manifests\/2\.yaml:7: 127\.0\.0\.1:\d+\/team\/b:1 is not in the imagelist\n/);
    assert.match(r.stderr, /manifests\/10\.yaml:7: 127\.0\.0\.1:\d+\/team\/a:latest is not in the imagelist \(nearest: 127\.0\.0\.1:\d+\/team\/a:1, line 1\)/);
    assert.match(r.stderr, /hint: .*--add-manifest-images/);
    assert.equal(await countRequests(registry, "GET", /\/blobs\//), before, "nothing downloaded");
    assert.equal(existsSync(c.tar), false);

    const warned = await c.save(["--allow-missing"]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /warning: manifests\/2\.yaml:7: .*team\/b:1 is not in the imagelist/);
  });

  test("--add-manifest-images fetches the images the manifests add", async () => {
    const c = await setup([ref("team/a:1")]);
    await manifests(c.dir, { "1.yaml": pod(ref("team/a:1")), "2.yaml": pod(ref("team/b:1")) });
    const r = await c.save(["--add-manifest-images"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /added 127\.0\.0\.1:\d+\/team\/b:1 \(used by manifests\/2\.yaml:7\)/);
    const json = bundleJsonOf(await listTar(c.tar));
    assert.deepEqual(json.images.map((i) => i.digest), [a.manifest.digest, b.manifest.digest]);
  });

  test("--pin-digests pins a tag to the digest of the platform kept from an index", async () => {
    const c = await setup([ref("multi/app:2"), ref("team/a:1")]);
    await manifests(c.dir, { "1.yaml": pod(ref("multi/app:2")) + "---\n" + pod(ref("team/a:1")) });
    assert.equal((await c.save(["--pin-digests"])).code, 0);
    const text = (await listTar(c.tar)).find((e) => e.name === "manifests/1.yaml")!.data!.toString();
    const host = registry.host.replace(":", "-");
    assert.ok(text.includes(`image: {{REGISTRY}}/${host}/multi/app:2@${amd64.manifest.digest}\n`), text);
    assert.ok(text.includes(`image: {{REGISTRY}}/${host}/team/a:1@${a.manifest.digest}\n`), text);
  });

  test("a manifests folder the user names must exist; the default one may be absent", async () => {
    const c = await setup([ref("team/a:1")]);
    const r = await c.save(["--manifests", join(c.dir, "nope")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: manifests folder not found: .*nope$/m);
  });

  test("invalid YAML in a manifest is an error with file and line; nothing is written", async () => {
    const c = await setup([ref("team/a:1")]);
    await manifests(c.dir, { "1.yaml": pod(ref("team/a:1")), "2-broken.yaml": "kind: Pod\nspec:\n  containers: [\n" });
    const r = await c.save();
    assert.equal(r.code, 2, "an input error");
    assert.match(r.stderr, /^error: manifests\/2-broken\.yaml:\d+:\d+: invalid YAML: .*$/m);
    assert.equal(existsSync(c.out), false);
  });

  test("--json prints one event per line and a summary", async () => {
    const c = await setup([ref("team/a:1"), ref("team/b:1")]);
    const r = await c.save(["--json"]);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    const done = events.filter((e) => e.type === "image-done");
    assert.equal(done.length, 2);
    const summary = events.at(-1) as unknown as { type: string; images: number; uniqueBlobs: number; bytes: number; dedupSavedBytes: number; bundle: string };
    assert.equal(summary.type, "summary");
    assert.equal(summary.images, 2);
    assert.equal(summary.bundle, c.tar);
    assert.equal(summary.dedupSavedBytes, a.layers[0]!.size);
  });
});
