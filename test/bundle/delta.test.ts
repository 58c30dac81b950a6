/**
 * Deltas on real registries: two versions of a workload that share most layers (a tag moved, an image added, one
 * removed). v1 is saved and loaded; the site's registry is inventoried; v2 is saved --since that inventory and
 * carries only what the site lacks; the delta loads into the same registry with every v2 reference exact, is
 * refused by an empty one with nothing pushed, and completes there with --base v1.tar.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bundleJsonOf, listTar, tarEntryOffsets } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { faultProxy } from "../helpers/fault-proxy.js";
import { makeImage, seedRegistry, type TestImage } from "../helpers/images.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const base = { seed: "delta-base", size: 400_000 };
const v1 = {
  a: makeImage({ seed: "delta-a1", layers: [base, 30_000] }),
  b: makeImage({ seed: "delta-b1", layers: [base, 20_000] }),
  c: makeImage({ seed: "delta-c1", layers: [50_000] }),
};
const v2 = {
  a: v1.a,
  // team/b:1 moved: a new top layer over the same base.
  b: makeImage({ seed: "delta-b2", layers: [base, 25_000] }),
  // team/d:1 is new and shares the base.
  d: makeImage({ seed: "delta-d2", layers: [base, 15_000] }),
};

async function digestAt(registry: TestRegistry, repo: string, tag: string): Promise<string | undefined> {
  const r = await registry.fetch(`/v2/${repo}/manifests/${tag}`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
  return r.status === 200 ? String(r.headers["docker-content-digest"]) : undefined;
}

describe("delta bundles: inventory, save --since, load", () => {
  let work: string;
  let source: TestRegistry;
  let site: TestRegistry;
  let v1Tar: string;
  let deltaTar: string;
  let inventory: string;
  const host = () => source.host.replace(":", "-");
  const line = (name: string) => `${source.host}/team/${name}:1`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-delta-"));
    [source, site] = await Promise.all([startRegistry(), startRegistry()]);
    await Promise.all(Object.entries(v1).map(([name, image]) => seedRegistry(source, image, `team/${name}:1`)));
    const c = await saveCase(work, ["a", "b", "c"].map(line), { name: "w", version: "1" });
    const saved = await c.save();
    assert.equal(saved.code, 0, saved.stderr);
    v1Tar = c.tar;
    const loaded = await runCli(["load", v1Tar, "--registry", site.host, "--no-install"]);
    assert.equal(loaded.code, 0, loaded.stderr);
  });
  after(async () => {
    await Promise.all([source.stop(), site.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  test("inventory: every repository and tag, each manifest and its blobs, with a sha256 beside it", async () => {
    inventory = join(work, "site.json");
    const r = await runCli(["inventory", "--registry", site.host, "-o", inventory]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 repositories, 3 tags, 3 manifests, 7 configs and layers/);
    const inv = JSON.parse(await readFile(inventory, "utf8"));
    assert.equal(inv.format, "airgap-bundle-inventory/v1");
    assert.equal(inv.repositories[`${host()}/team/b`].tags["1"], v1.b.manifest.digest);
    assert.equal(inv.blobs[v1.a.layers[0]!.digest].size, v1.a.layers[0]!.size);
    const sidecar = await readFile(`${inventory}.sha256`, "utf8");
    assert.match(sidecar, /^[0-9a-f]{64} {2}site\.json\n$/);
    // From the bundle, the same record (what the load put there).
    const fromBundle = join(work, "from-bundle.json");
    assert.equal((await runCli(["inventory", "--from-bundle", v1Tar, "-o", fromBundle])).code, 0);
    const b = JSON.parse(await readFile(fromBundle, "utf8"));
    assert.deepEqual(b.repositories, inv.repositories);
    assert.deepEqual(Object.keys(b.blobs).sort(), Object.keys(inv.blobs).sort());
  });

  test("a catalog refused: --from-bundle names the repositories to read", async (t) => {
    const proxy = await faultProxy(site.url, [{ method: "GET", path: "/v2/_catalog", status: 401 }]);
    t.after(() => proxy.stop());
    const refused = await runCli(["inventory", "--registry", proxy.host, "-o", join(work, "x.json")]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /does not list \/v2\/_catalog to us\nhint: name the repositories to read with --repos FILE/);
    const r = await runCli(["inventory", "--registry", proxy.host, "--from-bundle", v1Tar, "-o", join(work, "y.json")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 repositories, 3 tags/);
  });

  test("save --since carries only what the site lacks; the summary says what was left out", async () => {
    await Promise.all([seedRegistry(source, v2.b, "team/b:1"), seedRegistry(source, v2.d, "team/d:1")]);
    const c = await saveCase(work, ["a", "b", "d"].map(line), { name: "w", version: "2" });
    const r = await c.save(["--since", inventory]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /delta: \d+ configs and layers the site holds left out/);
    deltaTar = c.tar;
    const entries = await listTar(deltaTar);
    const carried = new Set(entries.filter((e) => e.name.startsWith("blobs/sha256/")).map((e) => `sha256:${e.name.slice(13)}`));
    const lacks = (i: TestImage) => [i.config, ...i.layers].filter((b) => ![v1.a, v1.b, v1.c].some((o) => [o.config, ...o.layers].some((x) => x.digest === b.digest)));
    const needed = new Set([...lacks(v2.b), ...lacks(v2.d)].map((b) => b.digest));
    for (const d of needed) assert.ok(carried.has(d), `carries ${d}`);
    for (const i of Object.values(v2)) assert.ok(carried.has(i.manifest.digest), "every manifest is carried");
    assert.ok(!carried.has(v1.a.layers[0]!.digest), "the shared base is left out");
    const json = bundleJsonOf(entries) as unknown as { base: { external: { count: number }; blobs: Array<{ digest: string; repository: string }> } };
    assert.ok(json.base.external.count >= 3);
    assert.ok(json.base.blobs.some((b) => b.digest === v1.a.layers[0]!.digest && /\/team\/[ab]$/.test(b.repository)));
    const inspect = await runCli(["inspect", deltaTar]);
    assert.match(inspect.stdout, /delta of: +registry 127\.0\.0\.1:\d+ \(inventory sha256/);
    const verify = await runCli(["verify", deltaTar, "--deep"]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /a delta: \d+ configs and layers .* left out, held by the site/);
  });

  test("diff: images added, removed and changed, bytes new and shared, bundles or inventories in either place", async () => {
    const r = await runCli(["diff", v1Tar, deltaTar]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`added +${host()}/team/d:1`));
    assert.match(r.stdout, new RegExp(`removed +${host()}/team/c:1`));
    assert.match(r.stdout, new RegExp(`changed +${host()}/team/b:1 +${v1.b.manifest.digest.slice(0, 19)} +${v2.b.manifest.digest.slice(0, 19)}`));
    assert.match(r.stdout, /1 added, 1 removed, 1 changed, 1 unchanged; .* new in 4 configs and layers/);
    const json = await runCli(["diff", inventory, deltaTar, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const d = JSON.parse(json.stdout) as { newBlobs: { count: number; bytes: number } };
    assert.equal(d.newBlobs.count, 4, "what the delta carries besides manifests");
  });

  test("into an empty registry the delta is refused with nothing pushed; with --base v1.tar it is complete", async (t) => {
    const empty = await startRegistry();
    t.after(() => empty.stop());
    const refused = await runCli(["load", deltaTar, "--registry", empty.host, "--no-install"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is a delta: the target lacks \d+ blobs it relies on; nothing was pushed/);
    assert.match(refused.stderr, new RegExp(`${v1.a.layers[0]!.digest}"?: not in .*; needed by .*team/a:1.*team/b:1.*team/d:1`));
    assert.equal(await countRequests(empty, "POST", /\/blobs\/uploads\//), 0);
    const r = await runCli(["load", deltaTar, "--registry", empty.host, "--no-install", "--base", v1Tar]);
    assert.equal(r.code, 0, r.stderr);
    for (const [name, image] of Object.entries(v2)) assert.equal(await digestAt(empty, `${host()}/team/${name}`, "1"), image.manifest.digest, name);
  });

  test("export from a delta of an image whose layers it left out says the bundle is a delta", async () => {
    const r = await runCli(["export", deltaTar, `${host()}/team/a:1`.replace(host(), source.host), "-o", join(work, "from-delta.tar")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: .* is a delta: .*team\/a:1's configs and layers that the site holds were left out of it, so it cannot be exported from it alone$/m);
    assert.equal((r.stderr.match(/is not in|left out/g) ?? []).length, 1, "said once");
  });

  test("load --deep re-hashes the --base bundles too: a base with a changed layer and a sidecar made again is refused before any push", async (t) => {
    const empty = await startRegistry();
    t.after(() => empty.stop());
    const base = join(work, "base-altered.tar");
    const bytes = await readFile(v1Tar);
    const layer = v1.a.layers[0]!;
    const at = (await tarEntryOffsets(v1Tar)).find((e) => e.name === `blobs/sha256/${layer.digest.slice(7)}`)!.offset + 10;
    bytes[at] = bytes[at]! ^ 0xff;
    await writeFile(base, bytes);
    await writeFile(`${base}.sha256`, `${createHash("sha256").update(bytes).digest("hex")}  base-altered.tar\n`);
    const r = await runCli(["load", deltaTar, "--registry", empty.host, "--no-install", "--base", base, "--deep"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /base-altered\.tar: verification failed/);
    assert.match(r.stderr, new RegExp(layer.digest.slice(7, 20)));
    assert.equal(await countRequests(empty, "POST", /\/blobs\/uploads\//), 0);
  });

  test("into the site's registry: every v2 reference exact, the base mounted, not uploaded", async () => {
    const before = await countRequests(site, "PUT", /\/blobs\/uploads\//);
    const r = await runCli(["load", deltaTar, "--registry", site.host, "--no-install"]);
    assert.equal(r.code, 0, r.stderr);
    for (const [name, image] of Object.entries(v2)) assert.equal(await digestAt(site, `${host()}/team/${name}`, "1"), image.manifest.digest, name);
    const uploads = (await countRequests(site, "PUT", /\/blobs\/uploads\//)) - before;
    const carriedBlobs = 2 + 2; // b's and d's new top layer and config
    assert.ok(uploads <= carriedBlobs, `${uploads} uploads: only what the delta carries`);
    assert.match(await site.log(), new RegExp(`mount=${v1.a.layers[0]!.digest}`), "the shared base mounted into team/d");
  });

  test("a Harbor-style /PREFIX: the inventory reads below it, the delta loads below it", async () => {
    const loaded = await runCli(["load", v1Tar, "--registry", `${site.host}/proj`, "--no-install"]);
    assert.equal(loaded.code, 0, loaded.stderr);
    const inv = join(work, "proj.json");
    const r = await runCli(["inventory", "--registry", `${site.host}/proj`, "-o", inv]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 repositories, 3 tags/, "only what is below /proj, named without it");
    assert.ok(Object.keys(JSON.parse(await readFile(inv, "utf8")).repositories).every((n: string) => n.startsWith(`${host()}/team/`)));
    const c = await saveCase(work, ["a", "b", "d"].map(line), { name: "w", version: "2p" });
    assert.equal((await c.save(["--since", inv])).code, 0);
    const load = await runCli(["load", c.tar, "--registry", `${site.host}/proj`, "--no-install"]);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(await digestAt(site, `proj/${host()}/team/d`, "1"), v2.d.manifest.digest);
  });

  test("a delta of a delta: inventory after the delta, save again --since, load", async () => {
    const inv2 = join(work, "site2.json");
    assert.equal((await runCli(["inventory", "--registry", site.host, "-o", inv2])).code, 0);
    const e = makeImage({ seed: "delta-e3", layers: [base, 5000] });
    await seedRegistry(source, e, "team/e:1");
    const c = await saveCase(work, ["a", "b", "d", "e"].map(line), { name: "w", version: "3" });
    const r = await c.save(["--since", inv2]);
    assert.equal(r.code, 0, r.stderr);
    const load = await runCli(["load", c.tar, "--registry", site.host, "--no-install"]);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(await digestAt(site, `${host()}/team/e`, "1"), e.manifest.digest);
  });
});
