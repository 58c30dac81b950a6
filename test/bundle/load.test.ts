import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import tar from "tar-stream";
import { tarEntryOffsets } from "../helpers/bundle.js";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { CLI, runCli } from "../helpers/cli.js";
import { faultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { makeImage, makeIndex, MEDIA, seedRegistry, skopeoRegistryFlags } from "../helpers/images.js";
import { dockerdUnavailable, startDockerd } from "../helpers/dockerd.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";

const exec = promisify(execFile);
const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(", ");

describe("bundle verify, inspect and load", () => {
  let source: TestRegistry;
  let work: string;
  let bundle: string;
  let allPlatforms: string;
  const base = { seed: "load-base", size: 200_000 };
  const a = makeImage({ seed: "load-a", layers: [base, 50_000] });
  const b = makeImage({ seed: "load-b", layers: [base, 70_000] });
  const amd64 = makeImage({ seed: "load-amd64", layers: [base, 10_000] });
  const arm64 = makeImage({ seed: "load-arm64", layers: [20_000], platform: "linux/arm64/v8" });
  const multi = makeIndex([amd64, arm64]);
  const pinned = makeImage({ seed: "load-pinned", layers: [3000] });
  const refs = () => [`${source.host}/team/a:1`, `${source.host}/team/b:1`, `${source.host}/multi/app:2`, `${source.host}/pinned/p@${pinned.manifest.digest}`];
  const host = () => source.host.replace(":", "-");

  before(async () => {
    source = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "airgap-load-"));
    await seedRegistry(source, a, "team/a:1");
    await seedRegistry(source, b, "team/b:1");
    await seedRegistry(source, multi, "multi/app:2");
    await seedRegistry(source, pinned, "pinned/p:tmp");
    const c = await saveCase(work, refs());
    assert.equal((await c.save()).code, 0);
    bundle = c.tar;
    const all = await saveCase(work, refs(), { name: "all" });
    assert.equal((await all.save(["--all-platforms"])).code, 0);
    allPlatforms = all.tar;
  });
  after(async () => {
    await source.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** The digest a target tag or digest resolves to. */
  async function digestAt(registry: TestRegistry, repo: string, reference: string): Promise<string | undefined> {
    const res = await registry.fetch(`/v2/${repo}/manifests/${reference}`, { method: "HEAD", headers: { accept: ACCEPT }, auth: true });
    return res.status === 200 ? String(res.headers["docker-content-digest"]) : undefined;
  }

  test("the table's PUSHED/SKIPPED/MOUNTED add up to each image's blobs (config and layers), and --json has a blob event for each", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", bundle, "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    const counts = (image: string) => {
      const row = r.stdout.split("\n").find((l) => l.startsWith(`${source.host}/${image} `))!;
      return /\s(\d+)\/(\d+)\/(\d+)\s/.exec(row)!.slice(1).map(Number);
    };
    // a: config, the shared base, its own layer; b too — the base uploaded once (by whichever image came first,
    // multi/app's shares it too), mounted for the others.
    for (const image of ["team/a:1", "team/b:1"]) assert.equal(counts(image).reduce((x, y) => x + y, 0), 3, `${image}: ${counts(image).join("/")}`);
    const rows = r.stdout.split("\n").slice(1).filter((l) => / \d+\/\d+\/\d+ /.test(l)).map((l) => Number(/ (\d+)\/\d+\/\d+ /.exec(l)![1]));
    assert.equal(rows.reduce((x, y) => x + y, 0), await countRequests(target, "PUT", /\/blobs\/uploads\/.*digest=/), "PUSHED adds up to the blobs the registry received");
    const again = await startRegistry();
    t.after(() => again.stop());
    const json = await runCli(["load", bundle, "--registry", again.host, "--json"]);
    const blobEvents = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; label?: string }).filter((e) => e.type === "blob-done");
    assert.equal(blobEvents.filter((e) => e.label?.endsWith("team/a:1")).length, 3);
    assert.equal(blobEvents.filter((e) => e.label?.endsWith("team/b:1")).length, 3);
  });

  test("an index child's config altered with the sidecar made again: refused before the first push (the resolve does not read it)", async (t) => {
    const altered = join(work, "altered-child-config.tar");
    const bytes = await readFile(bundle);
    const at = (await tarEntryOffsets(bundle)).find((e) => e.name === `blobs/sha256/${amd64.config.digest.slice(7)}`)!.offset + 2;
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(altered, bytes);
    await exec("sh", ["-c", `cd ${work} && sha256sum altered-child-config.tar > altered-child-config.tar.sha256`]);
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", altered, "--registry", target.host, "--no-install"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /1 manifest or config in the bundle does not match its digest; nothing was pushed/);
    assert.match(r.stderr, new RegExp(amd64.config.digest));
    assert.equal(await countRequests(target, "POST", /\/blobs\/uploads\//), 0);
  });

  test("an image pulled by digest alone gets the tag pin-sha256-<hex> (garbage collection keeps it, inventory sees it); --no-digest-tags pushes it untagged", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", bundle, "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    const pin = `pin-sha256-${pinned.manifest.digest.slice(7)}`;
    assert.equal(await digestAt(target, `${host()}/pinned/p`, pin), pinned.manifest.digest);
    const inventory = join(work, "pinned-inventory.json");
    assert.equal((await runCli(["inventory", "--registry", target.host, "-o", inventory])).code, 0);
    const inv = JSON.parse(await readFile(inventory, "utf8")) as { repositories: Record<string, { tags: Record<string, string> }> };
    assert.equal(inv.repositories[`${host()}/pinned/p`]?.tags[pin], pinned.manifest.digest, "bundle inventory sees the pinned image");
    const untagged = await startRegistry();
    t.after(() => untagged.stop());
    assert.equal((await runCli(["load", bundle, "--registry", untagged.host, "--no-digest-tags"])).code, 0);
    assert.equal(await digestAt(untagged, `${host()}/pinned/p`, pin), undefined);
    assert.equal(await digestAt(untagged, `${host()}/pinned/p`, pinned.manifest.digest), pinned.manifest.digest);
  });

  test("a round trip: every digest arrives, skopeo copies the images out again, and a second load uploads nothing", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", allPlatforms, "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^IMAGE +TARGET +DIGEST +PUSHED\/SKIPPED\/MOUNTED +VERIFIED$/m);
    assert.equal(r.stdout.trim().split("\n").slice(1).filter((l) => l.endsWith("yes")).length, 4);
    assert.match(r.stderr, /\/v2\/_catalog checked/);

    assert.equal(await digestAt(target, `${host()}/team/a`, "1"), a.manifest.digest);
    assert.equal(await digestAt(target, `${host()}/multi/app`, "2"), multi.index.digest, "the index arrives with its original digest");
    assert.equal(await digestAt(target, `${host()}/multi/app`, arm64.manifest.digest), arm64.manifest.digest);
    assert.equal(await digestAt(target, `${host()}/pinned/p`, pinned.manifest.digest), pinned.manifest.digest);

    // An independent client reads every image back, digest for digest.
    const out = join(work, "pulled");
    await exec("skopeo", ["copy", "--all", "--preserve-digests", ...skopeoRegistryFlags(target, "src"), `docker://${target.host}/${host()}/multi/app:2`, `oci:${out}:m`]);
    const { stdout } = await exec("skopeo", ["inspect", "--raw", ...skopeoRegistryFlags(target, "src").map((f) => f.replace("--src-", "--")), `docker://${target.host}/${host()}/team/b:1`]);
    assert.equal(stdout, b.manifest.data.toString());

    const puts = () => countRequests(target, "PUT", /\/blobs\/uploads\//);
    const before = await puts();
    const again = await runCli(["load", allPlatforms, "--registry", target.host, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await puts(), before, "nothing uploaded the second time");
    const summary = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
    assert.equal(summary.uploadedBytes, 0);
    assert.ok(summary.images.every((i: { pushed: number; verified: boolean }) => i.pushed === 0 && i.verified));
  });

  test("a Docker engine in the closed network pulls the loaded images by tag, digests intact", { skip: dockerdUnavailable() ?? false }, async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    assert.equal((await runCli(["load", bundle, "--registry", target.host])).code, 0);
    const engine = await startDockerd();
    t.after(() => engine.stop());
    for (const [repo, image] of [["team/a:1", a], ["multi/app:2", amd64]] as const) {
      const ref = `${target.host}/${host()}/${repo}`;
      await engine.docker(["pull", "--quiet", ref]);
      const digests = JSON.parse(await engine.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", ref])) as string[];
      assert.deepEqual(digests, [`${ref.slice(0, ref.lastIndexOf(":"))}@${image.manifest.digest}`]);
      const id = (await engine.docker(["image", "inspect", "--format", "{{.Id}}", ref])).trim();
      assert.equal(id, image.config.digest, "the engine's image ID is the config digest");
    }
  });

  test("a bundle whose index was filtered to one platform is tagged to that platform's manifest", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", bundle, "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await digestAt(target, `${host()}/multi/app`, "2"), amd64.manifest.digest);
    assert.equal(await digestAt(target, `${host()}/team/a`, "1"), a.manifest.digest);
  });

  test("a /PREFIX (Harbor project) is honoured; shared layers are mounted, not uploaded again", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", bundle, "--registry", `${target.host}/project`, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await digestAt(target, `project/${host()}/team/b`, "1"), b.manifest.digest);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.equal(summary.images.reduce((n: number, i: { mounted: number }) => n + i.mounted, 0), 2, "the shared base is mounted into two of three repositories");
    const catalog = JSON.parse((await target.fetch("/v2/_catalog")).body.toString()).repositories;
    assert.ok(catalog.every((repo: string) => repo.startsWith("project/")));
  });

  test("a registry that forbids /v2/_catalog (Harbor for non-admins) gets per-image checks instead", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const proxy = await faultProxy(target.url, [{ method: "GET", path: "/v2/_catalog", status: 403 }]);
    t.after(() => proxy.stop());
    const r = await runCli(["load", bundle, "--registry", proxy.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /does not list \/v2\/_catalog to us; checking each image instead/);
    assert.match(r.stderr, /\/v2\/_catalog unavailable/);
    assert.equal(r.stdout.trim().split("\n").slice(1).filter((l) => l.endsWith("yes")).length, 4);
  });

  test("into an htpasswd + TLS registry with --ca-file and --password-stdin", async (t) => {
    const target = await startRegistry({ auth: "htpasswd", tls: true });
    t.after(() => target.stop());
    const r = await runCli(["load", bundle, "--registry", target.host, "--ca-file", target.pki!.caFile, "--username", target.username!, "--password-stdin"], { input: target.password! });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await digestAt(target, `${host()}/team/a`, "1"), a.manifest.digest);
    assert.ok(!r.stderr.includes(target.password!) && !r.stdout.includes(target.password!));
  });

  test("503s and a reset mid-upload are retried; a 429 on a manifest PUT waits for Retry-After", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const proxy = await faultProxy(target.url, [
      { method: "POST", path: "/blobs/uploads/", status: 503, times: 2 },
      { method: "PUT", path: `digest=${encodeURIComponent(a.layers[0]!.digest)}`, resetRequestAfterBytes: 20_000, times: 1 },
      { method: "PUT", path: /\/manifests\/sha256:/, status: 429, retryAfter: 1, times: 1 },
    ]);
    t.after(() => proxy.stop());
    const r = await runCli(["load", bundle, "--registry", proxy.host, "--retries", "4"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rate limited by 127\.0\.0\.1:\d+ \(HTTP 429, too many requests\): waiting until \d\d:\d\d:\d\d UTC \(1\.0s\)/);
    assert.ok(proxy.requests.some((q) => q.method === "PUT" && q.status === -1), "an upload was cut short");
    assert.equal(await digestAt(target, `${host()}/team/a`, "1"), a.manifest.digest);
  });

  test("--chunk-size uploads in PATCH chunks through a proxy that caps request bodies", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const proxy = await faultProxy(target.url, [{ path: "/blobs/uploads/", maxBodyBytes: 64 * 1024 }]);
    t.after(() => proxy.stop());
    const capped = await runCli(["load", bundle, "--registry", proxy.host, "--retries", "0"]);
    assert.equal(capped.code, 1);
    assert.match(capped.stderr, /HTTP 413 413 Request Entity Too Large/);
    const r = await runCli(["load", bundle, "--registry", proxy.host, "--chunk-size", "60Ki"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(proxy.count("PATCH", "/blobs/uploads/") >= 4, "the large layers went up in chunks");
    assert.equal(await digestAt(target, `${host()}/team/a`, "1"), a.manifest.digest);
    assert.equal(await digestAt(target, `${host()}/team/b`, "1"), b.manifest.digest);
  });

  test("a chunked upload broken in the middle of a PATCH resumes where the registry says it stands, not from the start", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    // The second chunk of the first chunked blob is cut: the first chunk is in the registry already.
    const proxy = await faultProxy(target.url, [{ method: "PATCH", path: "/blobs/uploads/", resetRequestAfterBytes: 40 * 1024, skip: 1, times: 1 }]);
    t.after(() => proxy.stop());
    const r = await runCli(["load", bundle, "--registry", proxy.host, "--chunk-size", "60Ki", "--concurrency", "1", "--no-install"]);
    assert.equal(r.code, 0, r.stderr);
    const resumed = /retry 1 in [\d.]+s: uploading sha256:\w+ to .* \(from byte (\d+)\)/.exec(r.stderr);
    assert.ok(resumed && Number(resumed[1]) >= 60 * 1024, `resumed after the chunk the registry holds: ${r.stderr}`);
    const statusChecks = proxy.requests.filter((q) => q.method === "GET" && q.path.includes("/blobs/uploads/"));
    assert.equal(statusChecks.length, 1, "one look at where the upload stands");
    // A restart would open a second session (a POST) for the same blob; a resumption opens none.
    const starts = proxy.requests.filter((q) => q.method === "POST" && q.path.includes("/blobs/uploads/") && !q.path.includes("mount=")).length;
    const finished = proxy.requests.filter((q) => q.method === "PUT" && q.path.includes("/blobs/uploads/") && q.status === 201).length;
    assert.ok(starts <= finished, `${starts} sessions opened for ${finished} blobs: none started twice`);
    assert.equal(await digestAt(target, `${host()}/team/a`, "1"), a.manifest.digest);
    assert.equal(await digestAt(target, `${host()}/team/b`, "1"), b.manifest.digest);
  });

  test("the target registry killed mid-load, restarted, and the load rerun: complete and exact", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const rules: FaultRule[] = [{ method: "PUT", path: "/blobs/uploads/", delayMs: 300 }];
    const proxy = await faultProxy(target.url, rules);
    t.after(() => proxy.stop());
    // Each upload as repository@digest: a blob the crash left in one repository may still be uploaded into another
    // that the rerun asks before it learns where the blob is (a mount needs a repository known to hold it).
    const uploadedDigests = (from = 0) =>
      proxy.requests.slice(from).filter((q) => q.method === "PUT" && q.path.includes("/blobs/uploads/") && q.status === 201)
        .map((q) => `${/^\/v2\/(.+)\/blobs\/uploads\//.exec(q.path)?.[1] ?? ""}@${decodeURIComponent(/digest=([^&]+)/.exec(q.path)?.[1] ?? "")}`);
    const child = spawn(process.execPath, [CLI, "load", allPlatforms, "--registry", proxy.host, "--concurrency", "1", "--retries", "0"], { stdio: "ignore" });
    const exited = once(child, "exit");
    for (let i = 0; i < 300 && uploadedDigests().length < 3; i++) await sleep(20);
    await target.kill();
    const [code] = (await exited) as [number];
    assert.equal(code, 1, "the load fails while the registry is down");
    const before = new Set(uploadedDigests());
    assert.ok(before.size >= 3);
    rules.length = 0;
    await target.restart();
    const mark = proxy.requests.length;
    const r = await runCli(["load", allPlatforms, "--registry", proxy.host, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.ok(summary.images.every((i: { verified: boolean }) => i.verified));
    const again = uploadedDigests(mark).filter((d) => before.has(d));
    assert.deepEqual(again, [], "what arrived before the crash is not uploaded again");
    assert.equal(await digestAt(target, `${host()}/multi/app`, "2"), multi.index.digest);
  });

  test("verify: sha256sum -c and bundle verify agree; a flipped byte is named, and load pushes nothing", async (t) => {
    await exec("sha256sum", ["-c", "t-1.tar.sha256"], { cwd: join(bundle, "..") });
    const ok = await runCli(["verify", bundle, "--deep"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^OK .*: t-1\.tar matches its checksum; \d+ blobs re-hashed, every reference present$/m);

    const dir = join(work, "corrupt");
    await mkdir(dir);
    const copy = join(dir, "t-1.tar");
    await copyFile(bundle, copy);
    await copyFile(`${bundle}.sha256`, `${copy}.sha256`);
    const layer = (await tarEntryOffsets(copy)).find((e) => e.name.endsWith(a.layers[1]!.digest.slice(7)))!;
    const fh = await open(copy, "r+");
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, layer.offset + 100);
    one[0] = one[0]! ^ 0xff;
    await fh.write(one, 0, 1, layer.offset + 100);
    await fh.close();

    await assert.rejects(exec("sha256sum", ["-c", "t-1.tar.sha256"], { cwd: dir }));
    const fast = await runCli(["verify", copy]);
    assert.equal(fast.code, 1);
    assert.match(fast.stderr, /t-1\.tar: checksum mismatch/);
    const deep = await runCli(["verify", copy, "--deep"]);
    assert.equal(deep.code, 1);
    assert.match(deep.stderr, new RegExp(`blobs/sha256/${a.layers[1]!.digest.slice(7)}: content does not match its digest`));

    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", copy, "--registry", target.host]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /verification failed \(1 problem\)[\s\S]*hint: copy the bundle again from the source medium \(it was not used\)/);
    assert.equal(await countRequests(target, "POST", /\/blobs\/uploads\//), 0);
    // Even without the check, the damaged blob is caught as it is read, and its image is reported.
    const skipped = await runCli(["load", copy, "--registry", target.host, "--skip-verify"]);
    assert.equal(skipped.code, 1);
    assert.match(skipped.stderr, /team\/a:1.*digest mismatch after \d+ bytes/);
    assert.doesNotMatch(skipped.stderr, /retry/, "bad bytes are not retried");
  });

  test("a truncated bundle is a clear error", async () => {
    const copy = join(work, "truncated.tar");
    await copyFile(bundle, copy);
    await truncate(copy, Math.floor((await stat(copy)).size / 2));
    const r = await runCli(["inspect", copy]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*truncated\.tar: truncated: .* needs \d+ bytes, only \d+ are there$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test("entries with ../, absolute paths or links are refused", async () => {
    const evil = join(work, "evil.tar");
    const pack = tar.pack();
    pack.entry({ name: "bundle.json" }, "{}");
    pack.entry({ name: "../evil" }, "x");
    // A name the allowed-names pattern accepts (manifests/.*): the `..` check is its only guard.
    pack.entry({ name: "manifests/../../x" }, "y");
    pack.entry({ name: "blobs/sha256/link", type: "symlink", linkname: "/etc/passwd" });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    await writeFile(evil, Buffer.concat(chunks));
    const r = await runCli(["inspect", evil]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing 3 unsafe or unexpected entries/);
    assert.match(r.stderr, /"\.\.\/evil": path with \.\./);
    assert.match(r.stderr, /"manifests\/\.\.\/\.\.\/x": path with \.\./);
    assert.match(r.stderr, /"blobs\/sha256\/link": symbolic link not allowed/);
  });

  test("split parts are verified and loaded in place, without reassembly", async (t) => {
    const c = await saveCase(work, refs(), { name: "split" });
    assert.equal((await c.save(["--split-size", "1Mi"])).code, 0);
    const parts = (await readdir(c.out)).filter((f) => /\.\d{3}$/.test(f));
    assert.ok(parts.length >= 1);
    const first = join(c.out, "split-1.tar.001");
    assert.equal((await runCli(["verify", first, "--deep"])).code, 0);
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", join(c.out, "split-1.tar"), "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await digestAt(target, `${host()}/team/b`, "1"), b.manifest.digest);
  });

  test("inspect shows images, targets, platforms and the dedup ratio from bundle.json alone", async () => {
    const r = await runCli(["inspect", allPlatforms]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^bundle: {5}all 1$/m);
    assert.match(r.stdout, /^platforms: {2}all$/m);
    assert.match(r.stdout, new RegExp(`-> \\{\\{REGISTRY\\}\\}/${host()}/multi/app:2`));
    assert.match(r.stdout, /linux\/amd64, linux\/arm64\/v8/);
    assert.match(r.stdout, /without dedup, \d\.\d\d×/);
    const json = JSON.parse((await runCli(["inspect", allPlatforms, "--json"])).stdout);
    assert.equal(json.images.length, 4);
  });

  test("an unknown bundle format is refused with the version found", async () => {
    const pack = tar.pack();
    pack.entry({ name: "bundle.json" }, JSON.stringify({ format: "airgap-bundle/v9" }));
    pack.entry({ name: "index.json" }, "{}");
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const file = join(work, "future.tar");
    await writeFile(file, Buffer.concat(chunks));
    const r = await runCli(["inspect", file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown bundle format "airgap-bundle\/v9" \(this tool reads airgap-bundle\/v1\)/);
  });
});

/** Entries of a tar with their data offsets (for corrupting one on purpose). */
