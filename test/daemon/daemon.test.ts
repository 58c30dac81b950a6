import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import tar from "tar-stream";
import { importEngineArchive } from "../../src/archive/import.js";
import type { AirgapError } from "../../src/errors.js";
import { OciLayout } from "../../src/layout/layout.js";
import { listTar } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { dockerdUnavailable, startDockerd, type TestDockerd } from "../helpers/dockerd.js";
import { makeImage, seedRegistry, sha256 } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const exec = promisify(execFile);

/** A tar of `files` (name → bytes or a symlink target). */
async function makeTar(files: Array<[string, Buffer | { symlink: string }]>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of files) {
    if (Buffer.isBuffer(body)) pack.entry({ name, size: body.length }, body);
    else pack.entry({ name, type: "symlink", linkname: body.symlink });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("engine exports in both formats give the same OCI image", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "airgap-archive-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  const layer1 = Buffer.alloc(4096, 1);
  const layer2 = Buffer.alloc(8192, 2);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer1), sha256(layer2), sha256(layer1)] } }));
  const hex = (b: Buffer) => sha256(b).slice("sha256:".length);

  /** The legacy format (engines before 25): <id>.json, <id>/layer.tar, a repeated layer as a symlink. */
  const legacy = () => makeTar([
    ["aaaa/VERSION", Buffer.from("1.0")],
    ["aaaa/json", Buffer.from("{}")],
    ["aaaa/layer.tar", layer1],
    ["bbbb/layer.tar", layer2],
    ["cccc/layer.tar", { symlink: "../aaaa/layer.tar" }],
    [`${hex(config)}.json`, config],
    ["manifest.json", Buffer.from(JSON.stringify([{ Config: `${hex(config)}.json`, RepoTags: ["app:1"], Layers: ["aaaa/layer.tar", "bbbb/layer.tar", "cccc/layer.tar"] }]))],
    ["repositories", Buffer.from("{}")],
  ]);
  /** The OCI layout newer engines write (with manifest.json kept for compatibility). */
  const oci = (tamper = false) => makeTar([
    ["blobs/sha256/" + hex(layer1), tamper ? Buffer.alloc(4096, 9) : layer1],
    ["blobs/sha256/" + hex(layer2), layer2],
    ["blobs/sha256/" + hex(config), config],
    ["oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ["index.json", Buffer.from('{"schemaVersion":2,"manifests":[]}')],
    ["manifest.json", Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${hex(config)}`, RepoTags: ["app:1"], Layers: [layer1, layer2, layer1].map((l) => `blobs/sha256/${hex(l)}`) }]))],
  ]);

  test("legacy manifest.json + layer.tar and the OCI layout convert to the same digests, deterministically", async () => {
    const a = await importEngineArchive(Readable.from([await legacy()]), await OciLayout.open(join(dir, "a")), "app:1");
    const b = await importEngineArchive(Readable.from([await oci()]), await OciLayout.open(join(dir, "b")), "app:1");
    const again = await importEngineArchive(Readable.from([await legacy()]), await OciLayout.open(join(dir, "a")), "app:1");
    assert.equal(a.descriptor.digest, b.descriptor.digest);
    assert.equal(again.descriptor.digest, a.descriptor.digest);
    const m = JSON.parse(a.bytes.toString()) as { config: { digest: string }; layers: Array<{ digest: string; mediaType: string }> };
    assert.equal(m.config.digest, `sha256:${hex(config)}`);
    assert.deepEqual(m.layers.map((l) => l.digest), [layer1, layer2, layer1].map((l) => `sha256:${hex(l)}`));
    assert.ok(m.layers.every((l) => l.mediaType === "application/vnd.oci.image.layer.v1.tar"), "plain layers, their digests the config's diff_ids");
  });

  test("a blob whose bytes do not match its name is refused, and nothing is stored under that name", async () => {
    const cache = await OciLayout.open(join(dir, "c"));
    await assert.rejects(importEngineArchive(Readable.from([await oci(true)]), cache, "app:1"), (err: AirgapError) => {
      assert.equal(err.code, "DIGEST_MISMATCH");
      assert.match(err.message, new RegExp(`app:1: blobs/sha256/${hex(layer1)} of the engine's export: its bytes hash to sha256:\\w+, not sha256:${hex(layer1)}`));
      return true;
    });
    assert.equal(await cache.exists({ mediaType: "x", digest: `sha256:${hex(layer1)}`, size: layer1.length }), false);
  });
});

describe("a Docker engine as source and sink (real dockerd)", { skip: dockerdUnavailable() ?? false }, () => {
  let engine: TestDockerd;
  let source: TestRegistry;
  let target: TestRegistry;
  let work: string;
  let bundle: string;
  let engineId: string;
  const web = makeImage({ seed: "daemon-web", layers: [40_000, 10_000] });

  before(async () => {
    [engine, source, target] = await Promise.all([startDockerd(), startRegistry(), startRegistry()]);
    work = await mkdtemp(join(tmpdir(), "airgap-daemon-"));
    await seedRegistry(source, web, "team/web:1");
    // An image that exists only in the engine: imported from a small root file system.
    const rootfs = await makeTar([["etc/hello", Buffer.from("hello from the connected host\n")], ["bin/tool", Buffer.alloc(30_000, 7)]]);
    await writeFile(join(work, "rootfs.tar"), rootfs);
    await engine.docker(["import", join(work, "rootfs.tar"), "local/app:dev"]);
    engineId = (await engine.docker(["image", "inspect", "--format", "{{.Id}}", "local/app:dev"])).trim();
    const c = await saveCase(work, ["docker-daemon:local/app:dev", `${source.host}/team/web:1`]);
    const r = await c.save(["--docker-host", engine.host]);
    assert.equal(r.code, 0, r.stderr);
    bundle = c.tar;
  });
  after(async () => {
    await Promise.all([engine.stop(), source.stop(), target.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  const bundleJson = async (tarFile: string) =>
    JSON.parse((await listTar(tarFile)).find((e) => e.name === "bundle.json")!.data!.toString()) as { images: Array<{ source: string; digest: string; transport?: string }> };

  test("save: an engine image beside a registry image, recorded as such, the same digest when saved again", async () => {
    const json = await bundleJson(bundle);
    const app = json.images.find((i) => i.source === "docker.io/local/app:dev")!;
    assert.equal(app.transport, "docker-daemon");
    assert.equal(json.images.find((i) => i.source.endsWith("/team/web:1"))!.transport, undefined);
    const again = await saveCase(work, ["local/app:dev"]);
    const r = await again.save(["--docker-host", engine.host, "--from-daemon"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await bundleJson(again.tar)).images[0]!.digest, app.digest, "deterministic conversion");
    assert.match((await runCli(["inspect", bundle])).stdout, /^ {2}docker-daemon:docker\.io\/local\/app:dev$/m, "inspect says where it came from");
    // The config is the engine's own: its digest is the engine's image ID.
    const { stdout } = await exec("skopeo", ["inspect", "--raw", `oci-archive:${bundle}:docker.io/local/app:dev`]);
    assert.equal((JSON.parse(stdout) as { config: { digest: string } }).config.digest, engineId);
  });

  test("load into a registry, pulled back by skopeo with the bundle's digest", async () => {
    const r = await runCli(["load", bundle, "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    const digest = (await bundleJson(bundle)).images.find((i) => i.transport === "docker-daemon")!.digest;
    const pulled = join(work, "pulled");
    await exec("skopeo", ["copy", "--src-tls-verify=false", `docker://${target.host}/docker.io/local/app:dev`, `dir:${pulled}`]);
    assert.equal(sha256(await readFile(join(pulled, "manifest.json"))), digest);
  });

  test("load --docker into an empty engine: same image IDs, tagged with source and target names", async (t) => {
    const empty = await startDockerd();
    t.after(() => empty.stop());
    const r = await runCli(["load", bundle, "--docker", "--docker-host", empty.host, "--registry", "10.0.0.5:5000"]);
    assert.equal(r.code, 0, r.stderr);
    const inspect = async (name: string) => JSON.parse(await empty.docker(["image", "inspect", name])) as Array<{ Id: string; RepoTags: string[]; RepoDigests: string[] }>;
    const [app] = await inspect("local/app:dev");
    assert.equal(app!.Id, engineId, "the same image ID as in the engine it was saved from");
    assert.deepEqual(app!.RepoTags.sort(), ["10.0.0.5:5000/docker.io/local/app:dev", "local/app:dev"]);
    const [w] = await inspect(`${source.host}/team/web:1`);
    assert.equal(w!.Id, web.config.digest, "a registry image's ID is its config digest");
    assert.ok(w!.RepoTags.includes(`10.0.0.5:5000/${source.host.replace(":", "-")}/team/web:1`));
    assert.deepEqual(w!.RepoDigests, [], "an engine sets RepoDigests only when it pulls or pushes");
    assert.match(r.stdout, /docker\.io\/local\/app:dev +sha256:\w{12} +local\/app:dev 10\.0\.0\.5:5000\/docker\.io\/local\/app:dev +yes/);
  });

  test("export: docker load reads the docker-archive, skopeo the oci-archive", async () => {
    const dockerTar = join(work, "app-docker.tar");
    const ociTar = join(work, "app-oci.tar");
    const d = await runCli(["export", bundle, "local/app:dev", "--format", "docker-archive", "-o", dockerTar]);
    assert.equal(d.code, 0, d.stderr);
    const o = await runCli(["export", bundle, `${source.host}/team/web:1`, "--format", "oci-archive", "-o", ociTar]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal((await runCli(["export", bundle, "local/app:dev", "-o", dockerTar])).code, 2, "an existing file is not overwritten without --force");
    await engine.docker(["rmi", "local/app:dev"]);
    assert.match(await engine.docker(["load", "-i", dockerTar]), /Loaded image: local\/app:dev/);
    assert.equal((await engine.docker(["image", "inspect", "--format", "{{.Id}}", "local/app:dev"])).trim(), engineId);
    const { stdout } = await exec("skopeo", ["inspect", `oci-archive:${ociTar}`]);
    assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, web.manifest.digest);
    const missing = await runCli(["export", bundle, "nope:1", "-o", join(work, "nope.tar")]);
    assert.equal(missing.code, 2, "an input error");
    assert.match(missing.stderr, /error: docker\.io\/library\/nope:1 is not in /);
  });

  test("no engine reachable: one clear line, no stack trace", async () => {
    const c = await saveCase(work, ["docker-daemon:local/app:dev"]);
    const s = await c.save(["--docker-host", `unix://${join(work, "no.sock")}`]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /no Docker engine answers at unix:\/\/.*no\.sock: ENOENT/);
    const l = await runCli(["load", bundle, "--docker", "--docker-host", `unix://${join(work, "no.sock")}`]);
    assert.equal(l.code, 1);
    assert.match(l.stderr, /^error: no Docker engine answers at unix:\/\/.*no\.sock: ENOENT\nhint: start the engine, or name it with --docker-host/m);
    assert.ok(!/\n\s+at /.test(s.stderr + l.stderr));
  });
});
