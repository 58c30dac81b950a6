import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { makeImage, makeIndex, MEDIA, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(", ");

describe("what the cluster will pull exists after a load", () => {
  let source: TestRegistry;
  let work: string;
  const amd64 = makeImage({ seed: "pin-amd64", layers: [4000] });
  const arm64 = makeImage({ seed: "pin-arm64", layers: [5000], platform: "linux/arm64/v8" });
  const s390x = makeImage({ seed: "pin-s390x", layers: [6000], platform: "linux/s390x" });
  const two = makeIndex([amd64, arm64]);
  const three = makeIndex([amd64, arm64, s390x]);
  const plain = makeImage({ seed: "pin-plain", layers: [3000] });
  const knative = () => `${source.host}/knative/controller@${two.index.digest}`;

  before(async () => {
    source = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "airgap-pin-"));
    await seedRegistry(source, two, "knative/controller:v1");
    await seedRegistry(source, three, "multi/three:1");
    await seedRegistry(source, plain, "team/plain:1");
  });
  after(async () => {
    await source.stop();
    await rm(work, { recursive: true, force: true });
  });

  const deployment = (images: string[]) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n${images.map((image, i) => `        - name: c${i}\n          image: ${image}\n`).join("")}`;

  /** Saves `lines` with `manifest` as manifests/1-app.yaml, loads into a fresh registry; returns the rendered references. */
  async function roundTrip(lines: string[], manifest: string, saveArgs: string[]): Promise<{ target: TestRegistry; refs: string[]; load: { code: number | null; stdout: string; stderr: string }; tar: string }> {
    const c = await saveCase(work, lines, { name: `pin${saveArgs.join("").replace(/\W/g, "")}` });
    await mkdir(join(c.dir, "manifests"), { recursive: true });
    await writeFile(join(c.dir, "manifests", "1-app.yaml"), manifest);
    const saved = await c.save(["--manifests", join(c.dir, "manifests"), ...saveArgs]);
    assert.equal(saved.code, 0, saved.stderr);
    const target = await startRegistry();
    const load = await runCli(["load", c.tar, "--registry", target.host, "--no-install"]);
    const rendered = join(c.dir, "rendered");
    const dry = await runCli(["install", c.tar, "--registry", target.host, "--dry-run", "--out", rendered]);
    assert.equal(dry.code === 0 || load.code !== 0, true, dry.stderr);
    const text = await readFile(join(rendered, "1-app.yaml"), "utf8");
    const refs = [...text.matchAll(/image: (\S+)/g)].map((m) => m[1]!);
    return { target, refs, load, tar: c.tar };
  }

  /** HEADs a rendered reference in the target registry: the digest it resolves to, or undefined. */
  async function resolves(target: TestRegistry, ref: string): Promise<string | undefined> {
    const rest = ref.slice(target.host.length + 1);
    const at = rest.indexOf("@");
    const colon = rest.lastIndexOf(":", at < 0 ? undefined : at);
    const repo = at >= 0 ? rest.slice(0, colon > rest.lastIndexOf("/") ? colon : at) : rest.slice(0, colon);
    const selector = at >= 0 ? rest.slice(at + 1) : rest.slice(colon + 1);
    const res = await target.fetch(`/v2/${repo}/manifests/${selector}`, { method: "HEAD", headers: { accept: ACCEPT } });
    return res.status === 200 ? String(res.headers["docker-content-digest"]) : undefined;
  }

  for (const [label, args, pushed] of [
    ["the default platform", [], () => amd64.manifest.digest],
    ["--platform linux/arm64", ["--platform", "linux/arm64"], () => arm64.manifest.digest],
    ["--all-platforms", ["--all-platforms"], () => two.index.digest],
  ] as const) {
    test(`a two-platform index pinned by digest resolves after load (${label})`, async (t) => {
      const tagged = `${source.host}/knative/controller:v1`;
      const { target, refs, load, tar } = await roundTrip([knative(), tagged], deployment([knative(), tagged]), [...args]);
      t.after(() => target.stop());
      assert.equal(load.code, 0, load.stderr);
      assert.match(load.stderr, /every image reference of the rendered manifests resolves in 127\.0\.0\.1:\d+ \(2 references checked\)/);
      assert.equal(refs.length, 2);
      for (const ref of refs) assert.ok(await resolves(target, ref), `${ref} resolves in the target`);
      assert.ok(refs[0]!.endsWith(`@${pushed()}`), refs[0]);
      const image = bundleJsonOf(await listTar(tar)).images[0] as { digest: string; targetDigest?: string };
      assert.equal(image.digest, two.index.digest);
      assert.equal(image.targetDigest, pushed() === two.index.digest ? undefined : pushed(), "bundle.json records what is pushed");
      if (pushed() !== two.index.digest) {
        assert.match(load.stdout, new RegExp(`${two.index.digest.slice(0, 19)} → ${pushed().slice(0, 19)}`), "the load table shows the pair");
        // The TARGET column names what the registry holds, not the index digest it never received.
        assert.match(load.stdout, new RegExp(`/knative/controller@${pushed()} `), "the target names the pushed digest");
        assert.doesNotMatch(load.stdout, new RegExp(`${target.host}/\\S*knative/controller@${two.index.digest}`));
        // rewrite without the bundle cannot know: it says so; with it, it pins to what was pushed.
        const manifests = join(tar, "..", "..", "manifests");
        const blind = await runCli(["rewrite", "--registry", target.host, "--manifests", manifests, "--out", join(tar, "..", "..", `rw-${label.replace(/\W/g, "")}`)]);
        assert.equal(blind.code, 0, blind.stderr);
        assert.match(blind.stderr, /^warning: 1 reference is pinned to a digest \(first: 1-app\.yaml:\d+\); if the bundle kept only some platforms of an index, its load pushed another digest: give --bundle B to pin to what it pushed$/m);
        // export takes the user's own reference: the index digest, the pushed manifest's digest.
        for (const digest of [two.index.digest, pushed()]) {
          const out = join(tar, "..", `export-${digest.slice(7, 15)}.tar`);
          const exported = await runCli(["export", tar, `${source.host}/knative/controller@${digest}`, "-o", out]);
          assert.equal(exported.code, 0, `${digest}: ${exported.stderr}`);
        }
        const inspect = await runCli(["inspect", tar]);
        assert.match(inspect.stdout, new RegExp(`${two.index.digest} → ${pushed()}`));
      }
    });
  }

  test("--pin-digests pins a tag to the new index of the two platforms kept from three", async (t) => {
    const ref = `${source.host}/multi/three:1`;
    const { target, refs, load, tar } = await roundTrip([ref], deployment([ref]), ["--pin-digests", "--platform", "linux/amd64", "--platform", "linux/arm64"]);
    t.after(() => target.stop());
    assert.equal(load.code, 0, load.stderr);
    const image = bundleJsonOf(await listTar(tar)).images[0] as { digest: string; targetDigest?: string };
    assert.ok(image.targetDigest && image.targetDigest !== three.index.digest);
    assert.ok(refs[0]!.endsWith(`:1@${image.targetDigest}`), refs[0]);
    assert.equal(await resolves(target, refs[0]!), image.targetDigest);
    assert.equal(await resolves(target, `${target.host}/${source.host.replace(":", "-")}/multi/three:1`), image.targetDigest, "the tag names the same manifest");
  });

  test("a rendered reference the registry lacks fails the load with its file and line", async (t) => {
    const c = await saveCase(work, [`${source.host}/team/plain:1`], { name: "lacks" });
    await mkdir(join(c.dir, "manifests"), { recursive: true });
    await writeFile(join(c.dir, "manifests", "1-app.yaml"), deployment([`${source.host}/team/plain:1`, `${source.host}/team/absent:9`]));
    assert.equal((await c.save(["--manifests", join(c.dir, "manifests"), "--allow-missing"])).code, 0);
    const target = await startRegistry();
    t.after(() => target.stop());
    const load = await runCli(["load", c.tar, "--registry", target.host, "--no-install"]);
    assert.equal(load.code, 1, load.stderr);
    assert.match(load.stderr, /^error: 1 image reference in the rendered manifests does not resolve in 127\.0\.0\.1:\d+/m);
    assert.match(load.stderr, /manifests\/1-app\.yaml:11: ".*team\/absent:9": the tag 9 is not in .*team\/absent/);
    const dry = await runCli(["install", c.tar, "--registry", target.host, "--dry-run", "--out", join(c.dir, "r")]);
    assert.equal(dry.code, 1, "install --dry-run runs the same check when the registry answers");
    assert.match(dry.stderr, /1-app\.yaml:11/);
    assert.deepEqual(await readdir(join(c.dir, "r")), ["1-app.yaml"]);
  });
});
