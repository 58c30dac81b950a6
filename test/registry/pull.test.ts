import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { bundleJsonOf, listTar } from "../helpers/bundle.js";
import { CLI, runCli } from "../helpers/cli.js";
import { saveCase } from "../helpers/save-case.js";
import { faultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startTokenIssuer } from "../helpers/token-issuer.js";

let work: string;
let n = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "airgap-pull-"));
});
after(() => rm(work, { recursive: true, force: true }));

/** A fresh folder with an imagelist and a `save` runner (few retries: the faults here are deliberate). */
const setup = (lines: string[], env?: NodeJS.ProcessEnv) => saveCase(work, lines, { args: ["--retries", "3"], ...(env && { env }) });

/** Blobs a running save has written into its unfinished bundle (from its journal). */
async function journalBlobs(out: string): Promise<number> {
  const text = await readFile(join(out, ".t-1.tar.journal"), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l.startsWith("blob ")).length;
}

async function cachedBlobs(cache: string): Promise<string[]> {
  return (await readdir(join(cache, "blobs", "sha256")).catch(() => [] as string[])).filter((f) => !f.startsWith("."));
}

describe("pulling through faults", () => {
  let registry: TestRegistry;
  const image = makeImage({ seed: "faults", layers: [300_000, 2_000] });
  const big = image.layers[0]!;

  before(async () => {
    registry = await startRegistry();
    await seedRegistry(registry, image, "app/x:1");
  });
  after(() => registry.stop());

  test("503 twice, then success: retried, and the retries are shown", async (t) => {
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: `/blobs/${big.digest}`, status: 503, times: 2 }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x:1`]);
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(proxy.count("GET", `/blobs/${big.digest}`), 3);
    assert.match(r.stderr, /retry 1 in [\d.]+s: fetching .*blob sha256:\w+ \(HTTP 503\)/);
  });

  test("429 with Retry-After is honoured: the host pauses until then, and says so", async (t) => {
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: "/manifests/1", status: 429, retryAfter: 2, times: 1 }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x:1`]);
    const started = Date.now();
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - started >= 2000, "waited as Retry-After asked");
    assert.match(r.stderr, /rate limited by 127\.0\.0\.1:\d+ \(HTTP 429, too many requests\): waiting until \d\d:\d\d:\d\d UTC \(2\.0s\)/);
  });

  test("HEAD before GET: a rerun after a failure pulls no manifest it pulled before (a registry like Docker Hub counts each GET)", async (t) => {
    const proxy = await faultProxy(registry.url);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x:1`, `${proxy.host}/app/nope:1`]);
    assert.equal((await c.save()).code, 1, "one image is missing: no bundle, the other fetched into the cache");
    const gets = () => proxy.count("GET", "/v2/app/x/manifests/1");
    const before = gets();
    assert.equal(before, 1);
    await writeFile(c.imagelist, `${proxy.host}/app/x:1\n`);
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(gets(), before, "no GET of the manifest on the rerun");
    assert.ok(proxy.count("HEAD", "/v2/app/x/manifests/1") >= 2, "a HEAD told the digest");
    assert.deepEqual(bundleJsonOf(await listTar(c.tar)).images.map((i) => i.digest), [image.manifest.digest]);
  });

  test("a connection reset in the middle of a blob is resumed with Range; the digest is right", async (t) => {
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: `/blobs/${big.digest}`, resetAfterBytes: 100_000, times: 1 }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x:1`]);
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    const blobRequests = proxy.requests.filter((q) => q.path.endsWith(`/blobs/${big.digest}`));
    assert.equal(blobRequests.length, 2);
    assert.match(blobRequests[1]?.range ?? "", /^bytes=\d+-$/);
    assert.ok(Number(/=(\d+)-/.exec(blobRequests[1]!.range!)![1]) > 0, "resumed, not restarted");
    assert.deepEqual(bundleJsonOf(await listTar(c.tar)).images.map((i) => i.digest), [image.manifest.digest]);
  });

  test("a corrupted blob is a digest mismatch: clear error, nothing cached under that digest", async (t) => {
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: `/blobs/${big.digest}`, corruptByteAt: 4321 }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x:1`]);
    const r = await c.save();
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`digest mismatch after ${big.size} bytes: got sha256:\\w+, want ${big.digest}`));
    const cached = await readdir(join(c.cache, "blobs", "sha256"));
    assert.ok(!cached.includes(big.digest.slice(7)));
    assert.deepEqual(cached.filter((f) => f.startsWith(".tmp")), [], "no temporary file left");
    assert.equal(existsSync(c.tar), false);
  });

  test("a Docker schema 1 manifest is refused by name", async (t) => {
    const proxy = await faultProxy(registry.url, [{
      method: "GET", path: "/manifests/old", status: 200,
      headers: { "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws" },
      body: JSON.stringify({ schemaVersion: 1, name: "app/x", tag: "old", fsLayers: [], history: [] }),
    }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x:old`]);
    const r = await c.save();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /app\/x:old: Docker schema 1 manifests are not supported/);
  });

  test("a registry that answers a digest request with other bytes is caught", async (t) => {
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: /\/manifests\/sha256:/, corruptByteAt: 5 }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/x@${image.manifest.digest}`]);
    const r = await c.save();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the registry sent a manifest whose digest is sha256:\w+, not the requested/);
  });

  test("kill -9 in the middle, then a rerun: the same bundle, digest for digest, without fetching again what was done", async (t) => {
    const many = makeImage({ seed: "killed", layers: [50_000, 60_000, 70_000, 80_000, 90_000, 100_000] });
    await seedRegistry(registry, many, "app/killed:1");
    const rules: FaultRule[] = [{ method: "GET", path: "/blobs/", delayMs: 300 }];
    const proxy = await faultProxy(registry.url, rules);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/killed:1`]);

    const child = spawn(process.execPath, [CLI, ...c.args(["--concurrency", "1"])], { cwd: c.dir, stdio: "ignore" });
    const exited = once(child, "exit");
    for (let i = 0; i < 300 && (await journalBlobs(c.out)) < 3; i++) await sleep(20);
    child.kill("SIGKILL");
    await exited;
    const before = await journalBlobs(c.out);
    assert.ok(before >= 3 && before < 8, `killed midway (${before} of 8 blobs written)`);
    assert.equal(existsSync(c.tar), false, "nothing that looks finished");
    assert.ok(existsSync(join(c.out, ".t-1.tar.partial")));

    rules.length = 0;
    const gets = () => proxy.count("GET", "/blobs/");
    const getsBefore = gets();
    const r = await runCli(c.args([]), { cwd: c.dir });
    assert.equal(r.code, 0, r.stderr);
    // The manifest and config are read again to resolve the tag; blobs already written are not.
    assert.ok(gets() - getsBefore <= 8 - before, `what was written was not fetched again (${gets() - getsBefore} fetched)`);
    assert.deepEqual((await readdir(c.out)).filter((f) => f.startsWith(".")), [], "the unfinished files are gone");

    const fresh = await setup([`${proxy.host}/app/killed:1`]);
    assert.equal((await fresh.save()).code, 0);
    const names = async (tar: string) => (await listTar(tar)).filter((e) => e.name.startsWith("blobs/")).map((e) => e.name).sort();
    assert.deepEqual(await names(c.tar), await names(fresh.tar));
    assert.deepEqual(bundleJsonOf(await listTar(c.tar)).images, bundleJsonOf(await listTar(fresh.tar)).images);
  });

  test("Ctrl-C stops cleanly: exit 130, no temporary file, the cache kept", async (t) => {
    const slow = makeImage({ seed: "interrupted", layers: [40_000, 40_000, 40_000, 40_000] });
    await seedRegistry(registry, slow, "app/slow:1");
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: "/blobs/", delayMs: 400 }]);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/slow:1`]);
    const child = spawn(process.execPath, [CLI, ...c.args(["--concurrency", "1"])], { cwd: c.dir, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = once(child, "exit");
    for (let i = 0; i < 300 && (await journalBlobs(c.out)) < 2; i++) await sleep(20);
    child.kill("SIGINT");
    const [code] = (await exited) as [number];
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.deepEqual((await readdir(join(c.cache, "blobs", "sha256"))).filter((f) => f.startsWith(".tmp")), []);
    assert.ok((await cachedBlobs(c.cache)).length >= 2, "what was written is kept in the cache");
    assert.deepEqual(await readdir(c.out), [], "no temporary file in the output folder");
  });

  test("Ctrl-C in the middle of a large layer keeps what arrived; the rerun resumes it with Range and the bundle is exact", async (t) => {
    const big = makeImage({ seed: "interrupted-big", layers: [24 * 1024 * 1024] });
    const layer = big.layers[0]!;
    await seedRegistry(registry, big, "app/big:1");
    const rules: FaultRule[] = [{ method: "GET", path: `/blobs/${layer.digest}`, drip: { bytes: 512 * 1024, everyMs: 100 } }];
    const proxy = await faultProxy(registry.url, rules);
    t.after(() => proxy.stop());
    const c = await setup([`${proxy.host}/app/big:1`]);
    const child = spawn(process.execPath, [CLI, ...c.args([])], { cwd: c.dir, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = once(child, "exit");
    for (let i = 0; i < 300 && proxy.count("GET", `/blobs/${layer.digest}`) === 0; i++) await sleep(20);
    await sleep(1500);
    child.kill("SIGINT");
    const [code] = (await exited) as [number];
    assert.equal(code, 130, stderr);
    const kept = (await readdir(join(c.cache, "blobs", "sha256"))).filter((f) => f === `.partial-${layer.digest.slice(7)}`);
    assert.equal(kept.length, 1, "the start of the layer is kept");
    const keptBytes = (await stat(join(c.cache, "blobs", "sha256", kept[0]!))).size;
    assert.ok(keptBytes >= 1024 * 1024 && keptBytes < layer.size, `${keptBytes} bytes kept`);

    rules.length = 0;
    const r = await runCli(c.args([]), { cwd: c.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`resuming ${layer.digest} from byte ${keptBytes} of ${layer.size} \\(kept from an interrupted save\\)`));
    const asked = proxy.requests.filter((q) => q.method === "GET" && q.path.includes(layer.digest)).at(-1)!;
    assert.equal(asked.range, `bytes=${keptBytes}-`, "only the rest was asked for");
    assert.equal((await runCli(["verify", c.tar, "--deep"])).code, 0, "the bundle is exact");
    assert.deepEqual((await readdir(join(c.cache, "blobs", "sha256"))).filter((f) => f.startsWith(".partial-")), [], "the kept start is gone once the layer is whole");
  });
});

describe("registry auth and TLS", () => {
  let registry: TestRegistry;
  const image = makeImage({ seed: "secure", layers: [10_000] });

  before(async () => {
    registry = await startRegistry({ auth: "htpasswd", tls: true });
    await seedRegistry(registry, image, "secure/app:1");
  });
  after(() => registry.stop());

  const line = () => `${registry.host}/secure/app:1`;

  test("without the CA the TLS error says what to do", async () => {
    const c = await setup([line()]);
    const r = await c.save();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TLS certificate not trusted/);
    assert.match(r.stderr, /--ca-file/);
  });

  test("without credentials the error says to log in", async () => {
    const c = await setup([line()]);
    const r = await c.save(["--ca-file", registry.pki!.caFile]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 401/);
    assert.match(r.stderr, /log in to 127\.0\.0\.1:\d+ \(docker login\) or pass --username and --password-stdin/);
  });

  test("--username with --password-stdin and --ca-file: saved, and the password appears nowhere", async () => {
    const c = await setup([line()]);
    const r = await c.save(["--ca-file", registry.pki!.caFile, "--username", registry.username!, "--password-stdin", "--debug"], `${registry.password}\n`);
    assert.equal(r.code, 0, r.stderr);
    const tar = await readFile(c.tar);
    for (const secret of [registry.password!, Buffer.from(`${registry.username}:${registry.password}`).toString("base64")]) {
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret) && !tar.includes(secret), "no secret in output or bundle");
    }
  });

  test("a wrong password is refused with a hint to check the credentials", async () => {
    const c = await setup([line()]);
    const r = await c.save(["--ca-file", registry.pki!.caFile, "--username", registry.username!, "--password-stdin"], "wrong-password\n");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /check the credentials for 127\.0\.0\.1:\d+/);
    assert.ok(!r.stderr.includes("wrong-password"));
  });

  test("credentials from Docker's config.json (DOCKER_CONFIG)", async () => {
    const config = join(work, `docker-config-${++n}`);
    await mkdir(config);
    const auth = Buffer.from(`${registry.username}:${registry.password}`).toString("base64");
    await writeFile(join(config, "config.json"), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const c = await setup([line()], { DOCKER_CONFIG: config });
    const r = await c.save(["--ca-file", registry.pki!.caFile]);
    assert.equal(r.code, 0, r.stderr);
  });

  test("--insecure-registry skips certificate verification", async () => {
    const config = join(work, `docker-config-${++n}`);
    await mkdir(config);
    await writeFile(join(config, "config.json"), JSON.stringify({ auths: { [registry.host]: { username: registry.username, password: registry.password } } }));
    const c = await setup([line()], { DOCKER_CONFIG: config });
    const r = await c.save(["--insecure-registry", registry.host]);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe("Docker token auth", () => {
  test("tokens are fetched with the credentials from a credential helper, per repository scope", async (t) => {
    const dir = await mkdtemp(join(work, "token-"));
    const issuer = await startTokenIssuer(dir);
    t.after(() => issuer.stop());
    const registry = await startRegistry({ extraConfig: issuer.registryConfig });
    t.after(() => registry.stop());
    const image = makeImage({ seed: "token", layers: [20_000] });
    await seedRegistry(registry, image, "tok/app:1", { username: issuer.username, password: issuer.password });

    // A credential helper on PATH, named by credHelpers in Docker's config.
    const bin = join(dir, "bin");
    await mkdir(bin);
    const helper = join(bin, "docker-credential-airgaptest");
    await writeFile(helper, `#!/bin/sh\nread server\necho '{"ServerURL":"'"$server"'","Username":"${issuer.username}","Secret":"${issuer.password}"}'\n`);
    await chmod(helper, 0o755);
    const config = join(dir, "docker");
    await mkdir(config);
    await writeFile(join(config, "config.json"), JSON.stringify({ credHelpers: { [registry.host]: "airgaptest" } }));
    issuer.requests.length = 0;

    const c = await setup([`${registry.host}/tok/app:1`], { DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH}` });
    const r = await c.save();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(issuer.requests.some((q) => q.authenticated && q.scope === "repository:tok/app:pull"), JSON.stringify(issuer.requests));
    assert.ok(!r.stderr.includes(issuer.password));

    // Without credentials the issuer refuses (no anonymous access here) and the error says to log in.
    const anon = await setup([`${registry.host}/tok/app:1`], { DOCKER_CONFIG: join(dir, "none") });
    const denied = await anon.save();
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /getting a token for 127\.0\.0\.1:\d+ from http:\/\/127\.0\.0\.1:\d+\/token: HTTP 401/);
  });
});

describe("redirects to a storage host", () => {
  test("are followed without the registry's credentials", async (t) => {
    const image = makeImage({ seed: "redirect", layers: [30_000] });
    const layer = image.layers[0]!;
    const storage = await startRegistry();
    t.after(() => storage.stop());
    await seedRegistry(storage, image, "store/app:1");
    const storageProxy = await faultProxy(storage.url);
    t.after(() => storageProxy.stop());

    const registry = await startRegistry({ auth: "htpasswd" });
    t.after(() => registry.stop());
    await seedRegistry(registry, image, "store/app:1");
    const front = await faultProxy(registry.url, [{ method: "GET", path: `/blobs/${layer.digest}`, redirectTo: storageProxy.url }]);
    t.after(() => front.stop());

    const c = await setup([`${front.host}/store/app:1`]);
    const r = await c.save(["--username", registry.username!, "--password-stdin"], registry.password);
    assert.equal(r.code, 0, r.stderr);
    const atStorage = storageProxy.requests.filter((q) => q.path.endsWith(`/blobs/${layer.digest}`));
    assert.equal(atStorage.length, 1);
    assert.equal(atStorage[0]?.authorization, false, "no credentials sent to the storage host");
    assert.ok(front.requests.some((q) => q.path.includes("/manifests/") && q.authorization), "credentials sent to the registry");
  });
});
