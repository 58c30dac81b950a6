/**
 * `bundle serve`: a read-only registry straight from the bundle. The API answered as the distribution spec says
 * (pagination, Range, Accept, Referrers, 405 on writes); real clients pull every image with exact digests (skopeo,
 * crane built from Go modules, a real Docker engine); HTTPS; a split bundle read in place; a delta served with its
 * base; a blob altered after the bundle was checked is never delivered whole; and the OCI distribution-spec
 * conformance suite's pull side passes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { tarEntryOffsets } from "../helpers/bundle.js";
import { runCli } from "../helpers/cli.js";
import { pushCosignSignature, pushFallbackIndex, pushSbomReferrer } from "../helpers/cosign.js";
import { dockerdUnavailable, startDockerd } from "../helpers/dockerd.js";
import { makeImage, makeIndex, seedRegistry } from "../helpers/images.js";
import { freePort } from "../helpers/ports.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase, type SaveCase } from "../helpers/save-case.js";
import { startServe, type Serving } from "../helpers/serve.js";
import { makePki } from "../helpers/tls.js";

const exec = promisify(execFile);
const a = makeImage({ seed: "serve-a", layers: [40_000, 1_500_000] });
const amd = makeImage({ seed: "serve-b-amd64", layers: [20_000], format: "docker" });
const arm = makeImage({ seed: "serve-b-arm64", layers: [21_000], platform: "linux/arm64", format: "docker" });
const b = makeIndex([amd, arm], "docker");
// c's second layer is larger than what the kernel buffers for one connection: a client can leave while it is sent.
const c = makeImage({ seed: "serve-c", layers: [5_000, 24_000_000] });
const sha = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
const peer = (name: string) => join(process.env.AIRGAP_BUILD_CACHE ?? join(homedir(), ".cache", "airgap-bundle", "build"), "peers", "bin", name);

describe("bundle serve", () => {
  let work: string;
  let source: TestRegistry;
  let split: SaveCase;
  let plain: SaveCase;
  let serving: Serving;
  let repo: (path: string) => string;
  let signature: string;
  let sbom: { digest: string; mediaType: string; size: number; artifactType: string };
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-serve-"));
    source = await startRegistry();
    await seedRegistry(source, a, "team/a:1");
    await seedRegistry(source, b, "team/b:2");
    await seedRegistry(source, c, "team/c:3");
    const key = join(work, "cosign.key");
    await exec("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
    signature = await pushCosignSignature(source, "team/a", `${source.host}/team/a`, a.manifest.digest, key);
    sbom = await pushSbomReferrer(source, "team/a", { mediaType: a.manifest.mediaType, digest: a.manifest.digest, size: a.manifest.size }, "a");
    await pushFallbackIndex(source, "team/a", a.manifest.digest, [sbom]);
    const lines = [`${source.host}/team/a:1`, `${source.host}/team/b:2`, `${source.host}/team/c@${c.manifest.digest}`];
    split = await saveCase(work, lines, { name: "split", version: "1" });
    await mkdir(join(split.dir, "manifests"));
    await writeFile(join(split.dir, "manifests", "app.yaml"), [
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:",
      `  - name: a\n    image: ${source.host}/team/a:1`,
      `  - name: b\n    image: ${source.host}/team/b:2`,
      `  - name: c\n    image: ${source.host}/team/c@${c.manifest.digest}\n`,
    ].join("\n"));
    const saved = await split.save(["--split-size", "1Mi"]);
    assert.equal(saved.code, 0, saved.stderr);
    plain = await saveCase(work, lines, { name: "plain", version: "1" });
    assert.equal((await plain.save()).code, 0);
    serving = await startServe([`${split.tar}.001`, "--listen", `127.0.0.1:${await freePort()}`, "--verbose"]);
    repo = (path: string) => `${source.host.replace(":", "-")}/team/${path}`;
  });
  after(async () => {
    await serving?.stop();
    await source.stop();
    await rm(work, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}, method = "GET") => fetch(`${serving.url}${path}`, { method, headers });

  test("answers the distribution API from a split bundle in place: catalog and tags with pagination, manifests, blobs with Range, referrers", async () => {
    assert.equal((await readdir(split.out)).filter((f) => /\.tar\.\d{3}$/.test(f)).length > 1, true, "the bundle is split");
    const ping = await get("/v2/");
    assert.equal(ping.status, 200);
    assert.equal(ping.headers.get("docker-distribution-api-version"), "registry/2.0");

    assert.deepEqual(await (await get("/v2/_catalog")).json(), { repositories: [repo("a"), repo("b"), repo("c")] });
    const first = await get("/v2/_catalog?n=2");
    assert.deepEqual(await first.json(), { repositories: [repo("a"), repo("b")] });
    assert.equal(first.headers.get("link"), `</v2/_catalog?n=2&last=${encodeURIComponent(repo("b"))}>; rel="next"`);
    assert.deepEqual(await (await get(`/v2/_catalog?n=2&last=${encodeURIComponent(repo("b"))}`)).json(), { repositories: [repo("c")] });
    assert.equal((await get("/v2/_catalog?n=x")).status, 400);
    const tags = (await (await get(`/v2/${repo("a")}/tags/list`)).json()) as unknown;
    assert.deepEqual(tags, { name: repo("a"), tags: ["1", `${a.manifest.digest.replace(":", "-")}.sig`] }, "the image's tag and cosign's");
    const page = await get(`/v2/${repo("a")}/tags/list?n=1`);
    assert.deepEqual(((await page.json()) as { tags: string[] }).tags, ["1"]);
    assert.match(page.headers.get("link") ?? "", /last=1>; rel="next"$/);

    // By tag, as stored (headers a client checks); HEAD says the same without a body.
    const manifest = await get(`/v2/${repo("a")}/manifests/1`, { Accept: "application/vnd.oci.image.manifest.v1+json" });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get("content-type"), a.manifest.mediaType);
    assert.equal(manifest.headers.get("docker-content-digest"), a.manifest.digest);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), a.manifest.data);
    const head = await get(`/v2/${repo("a")}/manifests/${a.manifest.digest}`, {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(a.manifest.size));
    // The multi-platform image lost arm64 at save: served as a load pushes it (its one kept manifest).
    const bTag = await get(`/v2/${repo("b")}/manifests/2`, { Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json" });
    assert.equal(bTag.headers.get("docker-content-digest"), amd.manifest.digest);
    assert.equal((await get(`/v2/${repo("b")}/manifests/${arm.manifest.digest}`)).status, 404, "a platform left out at save is not there");
    // Accept: a client that names only Docker's types is not sent an OCI manifest.
    const refused = await get(`/v2/${repo("a")}/manifests/1`, { Accept: "application/vnd.docker.distribution.manifest.v2+json" });
    assert.equal(refused.status, 404);
    assert.equal(((await refused.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, "MANIFEST_UNKNOWN");
    assert.equal((await get(`/v2/${repo("c")}/manifests/${c.manifest.digest}`)).status, 200, "an image pulled by digest, by digest");
    assert.equal((await get(`/v2/${repo("a")}/manifests/nope`)).status, 404);
    assert.equal((await get(`/v2/${repo("a")}/manifests/sha256:bad`)).status, 400);

    // Blobs: whole (hashed as it is sent), by range, from the end, and out of range; another repository's blob is not here.
    const layer = a.layers[1]!;
    const whole = await get(`/v2/${repo("a")}/blobs/${layer.digest}`);
    assert.equal(whole.headers.get("docker-content-digest"), layer.digest);
    assert.equal(sha(Buffer.from(await whole.arrayBuffer())), layer.digest);
    const range = await get(`/v2/${repo("a")}/blobs/${layer.digest}`, { Range: "bytes=1000-1999" });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get("content-range"), `bytes 1000-1999/${layer.size}`);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), layer.data.subarray(1000, 2000));
    const tail = await get(`/v2/${repo("a")}/blobs/${layer.digest}`, { Range: "bytes=-10" });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), layer.data.subarray(layer.size - 10));
    assert.equal((await get(`/v2/${repo("a")}/blobs/${layer.digest}`, { Range: `bytes=${layer.size}-` })).status, 416);
    const headBlob = await get(`/v2/${repo("a")}/blobs/${layer.digest}`, {}, "HEAD");
    assert.equal(headBlob.headers.get("content-length"), String(layer.size));
    assert.equal((await get(`/v2/${repo("c")}/blobs/${layer.digest}`)).status, 404);
    assert.equal((await get(`/v2/nothing/here/blobs/${layer.digest}`)).status, 404);

    // The Referrers API lists the SBOM (not cosign's tag-attached signature), filtered by artifactType on request.
    const referrers = await get(`/v2/${repo("a")}/referrers/${a.manifest.digest}`);
    assert.equal(referrers.headers.get("content-type"), "application/vnd.oci.image.index.v1+json");
    const index = (await referrers.json()) as { manifests: Array<{ digest: string; artifactType: string }> };
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [[sbom.digest, "application/spdx+json"]]);
    const filtered = await get(`/v2/${repo("a")}/referrers/${a.manifest.digest}?artifactType=application/x-other`);
    assert.equal(filtered.headers.get("oci-filters-applied"), "artifactType");
    assert.deepEqual(((await filtered.json()) as { manifests: unknown[] }).manifests, []);
    assert.equal((await get(`/v2/${repo("a")}/manifests/${a.manifest.digest.replace(":", "-")}.sig`)).headers.get("docker-content-digest"), signature);

    // Writes are refused with an OCI error body.
    for (const [method, path] of [["POST", `/v2/${repo("a")}/blobs/uploads/`], ["PUT", `/v2/${repo("a")}/manifests/2`], ["DELETE", `/v2/${repo("a")}/manifests/${a.manifest.digest}`]] as const) {
      const r = await get(path, {}, method);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), "GET, HEAD");
      assert.equal(((await r.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, "UNSUPPORTED");
    }
    assert.match(serving.stderr(), /127\.0\.0\.1 GET \/v2\/_catalog 200 \d+ [\d.]+ms/, "--verbose prints an access line per request");
  });

  test("the bundle's manifests rendered for the served address resolve there unchanged (with --prefix too)", async () => {
    const rendered = await runCli(["install", `${split.tar}.001`, "--registry", serving.host, "--dry-run", "--out", join(work, "rendered")]);
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.match(await readFile(join(work, "rendered", "app.yaml"), "utf8"), new RegExp(`image: ${serving.host}/${repo("a")}:1`));
    const prefixed = await startServe([`${split.tar}.001`, "--listen", `127.0.0.1:${await freePort()}`, "--prefix", "ai-devops"]);
    try {
      const ok = await runCli(["install", `${split.tar}.001`, "--registry", `${prefixed.host}/ai-devops`, "--dry-run", "--out", join(work, "rendered-prefix")]);
      assert.equal(ok.code, 0, ok.stderr);
      const wrong = await runCli(["install", `${split.tar}.001`, "--registry", `${prefixed.host}/other`, "--dry-run", "--out", join(work, "rendered-other")]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /3 image references in the rendered manifests do not resolve/);
    } finally {
      await prefixed.stop();
    }
  });

  test("many clients at once, and one that goes away mid-blob does not disturb the others", async () => {
    const layer = a.layers[1]!;
    const path = `/v2/${repo("a")}/blobs/${layer.digest}`;
    const big = `/v2/${repo("c")}/blobs/${c.layers[1]!.digest}`;
    const leaving = new AbortController();
    const gone = (async () => {
      const r = await fetch(`${serving.url}${big}`, { signal: leaving.signal });
      const reader = r.body!.getReader();
      await reader.read();
      leaving.abort();
    })();
    const bodies = await Promise.all(Array.from({ length: 24 }, async () => Buffer.from(await (await get(path)).arrayBuffer())));
    await gone;
    for (const body of bodies) assert.equal(sha(body), layer.digest);
    assert.equal((await get("/v2/")).status, 200, "still serving");
    // Its leaving is logged as its own doing, not as a response we cut short.
    for (let i = 0; i < 50 && !serving.stderr().includes("(the client went away)"); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(serving.stderr(), new RegExp(`GET ${big.replace(/[/.]/g, "\\$&")} 200 \\d+ [\\d.]+ms \\(the client went away\\)`));
    assert.doesNotMatch(serving.stderr(), /warning:/);
  });

  test("skopeo and crane pull every image from it, every digest exact", async () => {
    for (const [path, digest] of [[`${repo("a")}:1`, a.manifest.digest], [`${repo("b")}:2`, amd.manifest.digest], [`${repo("c")}@${c.manifest.digest}`, c.manifest.digest]] as const) {
      const dir = join(work, `skopeo-${digest.slice(7, 19)}`);
      await exec("skopeo", ["copy", "--all", "--preserve-digests", "--src-tls-verify=false", `docker://${serving.host}/${path}`, `oci:${dir}:x`]);
      const layoutIndex = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Array<{ digest: string }> };
      assert.equal(layoutIndex.manifests[0]!.digest, digest, `skopeo: ${path}`);
      if (!existsSync(peer("crane"))) continue;
      const { stdout } = await exec(peer("crane"), ["digest", "--insecure", `${serving.host}/${path}`]);
      assert.equal(stdout.trim(), digest, `crane digest: ${path}`);
      await exec(peer("crane"), ["pull", "--insecure", "--format", "oci", `${serving.host}/${path}`, join(work, `crane-${digest.slice(7, 19)}`)]);
    }
    assert.ok(existsSync(peer("crane")), "crane is built (bash scripts/peers/build.sh)");
  });

  test("a Docker engine pulls from it", { skip: dockerdUnavailable() }, async () => {
    const dockerd = await startDockerd();
    try {
      // 127.0.0.0/8 is an insecure registry to every Docker engine by default: plain HTTP.
      await dockerd.docker(["pull", `${serving.host}/${repo("a")}:1`]);
      const digests = JSON.parse(await dockerd.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", `${serving.host}/${repo("a")}:1`])) as string[];
      assert.deepEqual(digests, [`${serving.host}/${repo("a")}@${a.manifest.digest}`]);
      await dockerd.docker(["pull", `${serving.host}/${repo("b")}:2`]);
    } finally {
      await dockerd.stop();
    }
  });

  test("over HTTPS, with a certificate skopeo checks", async () => {
    const pki = await makePki(join(work, "pki"));
    const tls = await startServe([plain.tar, "--listen", `127.0.0.1:${await freePort()}`, "--tls-cert", pki.certFile, "--tls-key", pki.keyFile]);
    try {
      assert.match(tls.url, /^https:/);
      const { stdout } = await exec("skopeo", ["inspect", "--raw", "--cert-dir", pki.certDir, `docker://${tls.host}/${repo("a")}:1`]);
      assert.equal(sha(Buffer.from(stdout)), a.manifest.digest);
    } finally {
      await tls.stop();
    }
  });

  test("Ctrl-C stops it cleanly with what it served; a busy port is a clear error", async () => {
    const port = await freePort();
    const one = await startServe([plain.tar, "--listen", `127.0.0.1:${port}`, "--json"]);
    await (await fetch(`${one.url}/v2/${repo("a")}/blobs/${a.layers[0]!.digest}`)).arrayBuffer();
    const busy = await runCli(["serve", plain.tar, "--listen", `127.0.0.1:${port}`]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /cannot listen on 127\.0\.0\.1:\d+: the address is in use/);
    const stopped = await one.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(JSON.parse(stopped.stdout), { address: `127.0.0.1:${port}`, requests: 1, bytes: a.layers[0]!.size, cutShort: 0 });
  });

  test("listens on IPv6 too; a malformed --listen is a usage error", async () => {
    const v6 = await startServe([plain.tar, "--listen", `[::1]:${await freePort()}`]);
    try {
      assert.match(v6.url, /^http:\/\/\[::1\]:\d+$/);
      assert.equal((await fetch(`${v6.url}/v2/${repo("a")}/manifests/1`, { method: "HEAD" })).headers.get("docker-content-digest"), a.manifest.digest);
    } finally {
      await v6.stop();
    }
    const bad = await runCli(["serve", plain.tar, "--listen", "5000"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--listen 5000: give HOST:PORT/);
  });

  test("a blob changed after the check: refused by default; with --skip-verify never delivered whole", async () => {
    const bad = join(work, "bad.tar");
    await exec("cp", [plain.tar, bad]);
    const layer = a.layers[1]!;
    const at = (await tarEntryOffsets(bad)).find((e) => e.name === `blobs/sha256/${layer.digest.slice(7)}`)!.offset + 500_000;
    const handle = await open(bad, "r+");
    await handle.write(Buffer.from([layer.data[500_000]! ^ 0xff]), 0, 1, at);
    await handle.close();
    await exec("cp", [`${plain.tar}.sha256`, `${bad}.sha256`]);
    await exec("sed", ["-i", "s/plain-1.tar/bad.tar/", `${bad}.sha256`]);
    const refused = await runCli(["serve", bad, "--listen", `127.0.0.1:${await freePort()}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bad\.tar/);

    const loose = await startServe([bad, "--listen", `127.0.0.1:${await freePort()}`, "--skip-verify"]);
    try {
      const response = await fetch(`${loose.url}/v2/${repo("a")}/blobs/${layer.digest}`);
      await assert.rejects(response.arrayBuffer(), "the body ends before its Content-Length");
      const head = await fetch(`${loose.url}/v2/${repo("a")}/blobs/${layer.digest}`, { headers: { Range: "bytes=0-99" } });
      assert.deepEqual(Buffer.from(await head.arrayBuffer()), layer.data.subarray(0, 100), "a range before the damage is served");
      // A range to the blob's end is the blob's last bytes: proved first, whether it starts at 0 or later.
      for (const range of ["bytes=0-", `bytes=${layer.size - 1000}-`]) {
        // Cut short: the body ends before its Content-Length, or (a range within the last chunk) nothing follows the head.
        await assert.rejects(fetch(`${loose.url}/v2/${repo("a")}/blobs/${layer.digest}`, { headers: { Range: range } }).then((r) => r.arrayBuffer()), range);
      }
    } finally {
      const stopped = await loose.stop();
      assert.match(stopped.stderr, new RegExp(`${layer.digest} in the bundle no longer matches its digest`));
      assert.match(stopped.stdout, /3 responses cut short/);
    }
  });

  test("a --tls-cert and --tls-key that are not a PEM certificate and key: one line, exit 2, no bug report", async () => {
    const junk = join(work, "junk.pem");
    await writeFile(junk, "not a certificate\n");
    const r = await runCli(["serve", plain.tar, "--listen", `127.0.0.1:${await freePort()}`, "--tls-cert", junk, "--tls-key", junk]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: --tls-cert .*junk\.pem and --tls-key .*junk\.pem do not make a TLS certificate and key \(.*\)$/m);
    assert.doesNotMatch(r.stderr, /unexpected|report/);
  });

  test("a delta is served with its base, and refused without it", async () => {
    const d = makeImage({ seed: "serve-d", layers: [7_000] });
    await seedRegistry(source, d, "team/d:4");
    const v2 = await saveCase(work, [`${source.host}/team/a:1`, `${source.host}/team/d:4`], { name: "v2", version: "1" });
    assert.equal((await v2.save(["--since", plain.tar])).code, 0);
    const alone = await runCli(["serve", v2.tar, "--listen", `127.0.0.1:${await freePort()}`]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /is a delta: 3 configs and layers it relies on are in none of the bundles given[\s\S]*--base/);
    const both = await startServe([v2.tar, "--base", plain.tar, "--listen", `127.0.0.1:${await freePort()}`]);
    try {
      const dir = join(work, "delta-pull");
      await exec("skopeo", ["copy", "--src-tls-verify=false", `docker://${both.host}/${repo("a")}:1`, `oci:${dir}:x`]);
      await exec("skopeo", ["copy", "--src-tls-verify=false", `docker://${both.host}/${repo("d")}:4`, `oci:${dir}:y`]);
    } finally {
      await both.stop();
    }
  });

  test("the OCI distribution-spec conformance suite: every pull test passes", { skip: existsSync(peer("oci-conformance")) ? undefined : "built by scripts/peers/build.sh" }, async () => {
    const results = join(work, "conformance");
    const env = {
      ...process.env,
      OCI_REGISTRY: serving.host, OCI_TLS: "disabled", OCI_REPO1: repo("a"), OCI_REPO2: repo("c"), OCI_RESULTS_DIR: results,
      OCI_API_PUSH: "false", OCI_API_BLOBS_DELETE: "false", OCI_API_MANIFESTS_DELETE: "false", OCI_API_TAGS_DELETE: "false",
      OCI_RO_DATA_TAGS: "1", OCI_RO_DATA_MANIFESTS: `${a.manifest.digest} ${sbom.digest}`,
      OCI_RO_DATA_BLOBS: [a.config, ...a.layers].map((l) => l.digest).join(" "), OCI_RO_DATA_REFERRERS: a.manifest.digest,
    };
    // This version of the suite crashes writing results.yaml when push is off (a nil test data in ReportResultsYAML),
    // after it printed its report: the report is what is read.
    const run = await exec(peer("oci-conformance"), [], { env, cwd: work }).catch((err: { stdout: string; stderr: string }) => err);
    const count = (what: string) => Number(new RegExp(`^ *${what}\\.+: +(\\d+)$`, "m").exec(run.stdout)?.[1]);
    assert.match(run.stdout, /OCI Conformance Result: Pass/, run.stdout);
    assert.equal(count("FAIL") + count("Error"), 0);
    assert.ok(count("Pass") >= 20, `${count("Pass")} passed`);
    for (const api of ["Tag listing", "Blob get", "Blob head", "Manifest get by digest", "Manifest get by tag", "Manifest head by digest", "Manifest head by tag", "Referrers", "Ping"]) {
      assert.match(run.stdout, new RegExp(`^ *${api}\\.+: +Pass$`, "m"), api);
    }
  });
});
