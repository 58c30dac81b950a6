import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { faultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { allBlobs, makeImage, makeIndex, MEDIA, seedRegistry, sha256 } from "../helpers/images.js";
import { countRequests, startRegistry, type TestRegistry } from "../helpers/registry.js";

const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(", ");

function refused(host: string): Promise<boolean> {
  const [h, p] = host.split(":");
  return new Promise((resolve) => {
    const s = connect(Number(p), h!);
    s.on("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
}

describe("test harness: real registry", () => {
  test("htpasswd + TLS registry serves a two-platform image seeded with skopeo", async (t) => {
    const registry = await startRegistry({ auth: "htpasswd", tls: true });
    t.after(() => registry.stop());
    assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);

    // Without credentials the registry refuses.
    assert.equal((await registry.fetch("/v2/")).status, 401);
    assert.equal((await registry.fetch("/v2/", { auth: true })).status, 200);

    const shared = { seed: "shared-base", size: 4096 };
    const amd64 = makeImage({ seed: "app-amd64", layers: [shared, 2048], platform: "linux/amd64" });
    const arm64 = makeImage({ seed: "app-arm64", layers: [shared, 3000], platform: "linux/arm64/v8" });
    const index = makeIndex([amd64, arm64]);
    const digest = await seedRegistry(registry, index, "team/app:1.0");
    assert.equal(digest, index.index.digest);

    const catalog = await registry.fetch("/v2/_catalog", { auth: true });
    assert.equal(catalog.status, 200);
    assert.deepEqual(JSON.parse(catalog.body.toString()).repositories, ["team/app"]);

    const top = await registry.fetch("/v2/team/app/manifests/1.0", { auth: true, headers: { accept: ACCEPT } });
    assert.equal(top.status, 200);
    assert.equal(top.headers["docker-content-digest"], index.index.digest);
    assert.equal(top.headers["content-type"], MEDIA.ociIndex);
    assert.ok(top.body.equals(index.index.data), "index bytes unchanged");

    for (const image of [amd64, arm64]) {
      const m = await registry.fetch(`/v2/team/app/manifests/${image.manifest.digest}`, { auth: true, headers: { accept: ACCEPT } });
      assert.equal(m.status, 200);
      assert.ok(m.body.equals(image.manifest.data));
      for (const layer of image.layers) {
        const b = await registry.fetch(`/v2/team/app/blobs/${layer.digest}`, { auth: true });
        assert.equal(b.status, 200);
        assert.equal(sha256(b.body), layer.digest);
      }
    }
    assert.equal(await countRequests(registry, "GET", /\/v2\/team\/app\/manifests\/1\.0$/), 1);
  });

  test("a plain registry answers /v2/ and stop() frees its port and storage", async () => {
    const registry = await startRegistry();
    assert.equal((await registry.fetch("/v2/")).status, 200);
    await registry.stop();
    assert.ok(await refused(registry.host), "nothing listens after stop()");
  });

  test("Docker schema 2 images and manifest lists are seeded as they are", async (t) => {
    const registry = await startRegistry();
    t.after(() => registry.stop());
    const image = makeImage({ seed: "docker-format", format: "docker", layers: [100, 200] });
    const list = makeIndex([image], "docker");
    await seedRegistry(registry, list, "legacy/app:v1");
    const top = await registry.fetch("/v2/legacy/app/manifests/v1", { headers: { accept: ACCEPT } });
    assert.equal(top.headers["content-type"], MEDIA.dockerList);
    assert.equal(top.headers["docker-content-digest"], list.index.digest);
  });
});

describe("test harness: deterministic images", () => {
  test("the same seed gives the same digests; another seed does not", () => {
    const a = makeImage({ seed: "x", layers: [1000, 5000] });
    const b = makeImage({ seed: "x", layers: [1000, 5000] });
    const c = makeImage({ seed: "y", layers: [1000, 5000] });
    assert.equal(a.manifest.digest, b.manifest.digest);
    assert.notEqual(a.manifest.digest, c.manifest.digest);
    for (const blob of allBlobs(a)) assert.equal(sha256(blob.data), blob.digest);
  });

  test("a layer spec with its own seed is shared between images", () => {
    const base = { seed: "base", size: 10_000 };
    const a = makeImage({ seed: "a", layers: [base, 10] });
    const b = makeImage({ seed: "b", layers: [base, 20] });
    assert.equal(a.layers[0]!.digest, b.layers[0]!.digest);
    assert.notEqual(a.layers[1]!.digest, b.layers[1]!.digest);
  });

  test("configs carry the platform and the diff_ids of the uncompressed layers", async () => {
    const { gunzipSync } = await import("node:zlib");
    const image = makeImage({ seed: "p", platform: "linux/arm64/v8", layers: [300] });
    const config = JSON.parse(image.config.data.toString());
    assert.deepEqual([config.os, config.architecture, config.variant], ["linux", "arm64", "v8"]);
    const tar = gunzipSync(image.layers[0]!.data);
    assert.equal(config.rootfs.diff_ids[0], `sha256:${createHash("sha256").update(tar).digest("hex")}`);
  });
});

describe("test harness: fault proxy", () => {
  let registry: TestRegistry;
  const image = makeImage({ seed: "proxy", layers: [200_000] });
  const layer = image.layers[0]!;
  const blobPath = `/v2/proxy/app/blobs/${layer.digest}`;

  before(async () => {
    registry = await startRegistry();
    await seedRegistry(registry, image, "proxy/app:1");
  });
  after(() => registry.stop());

  async function get(proxy: FaultProxy, path: string, headers: Record<string, string> = {}) {
    const res = await request(`${proxy.url}${path}`, { headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  test("fails the first K matching requests with 503, then forwards", async (t) => {
    const proxy = await faultProxy(registry.url, [{ path: "/blobs/", status: 503, times: 2 }]);
    t.after(() => proxy.stop());
    assert.equal((await get(proxy, blobPath)).status, 503);
    assert.equal((await get(proxy, "/v2/")).status, 200, "other paths are not affected");
    assert.equal((await get(proxy, blobPath)).status, 503);
    const ok = await get(proxy, blobPath);
    assert.equal(ok.status, 200);
    assert.equal(sha256(ok.body), layer.digest);
    assert.equal(proxy.count("GET", "/blobs/"), 3);
  });

  test("sends 429 with Retry-After", async (t) => {
    const proxy = await faultProxy(registry.url, [{ method: "GET", path: /manifests/, status: 429, retryAfter: 2, times: 1 }]);
    t.after(() => proxy.stop());
    const r = await get(proxy, "/v2/proxy/app/manifests/1", { accept: ACCEPT });
    assert.equal(r.status, 429);
    assert.equal(r.headers["retry-after"], "2");
    assert.equal((await get(proxy, "/v2/proxy/app/manifests/1", { accept: ACCEPT })).status, 200);
  });

  test("resets the connection after N body bytes; Range requests pass through", async (t) => {
    const proxy = await faultProxy(registry.url, [{ path: "/blobs/", resetAfterBytes: 50_000, times: 1 }]);
    t.after(() => proxy.stop());
    let received = 0;
    await assert.rejects(async () => {
      const res = await request(`${proxy.url}${blobPath}`);
      for await (const chunk of res.body) received += (chunk as Buffer).length;
    });
    assert.ok(received <= 50_000 && received > 0, `received ${received} bytes before the reset`);
    const rest = await get(proxy, blobPath, { range: `bytes=${received}-` });
    assert.equal(rest.status, 206);
    assert.equal(rest.body.length, layer.size - received);
    assert.equal(proxy.requests.at(-1)?.range, `bytes=${received}-`);
  });

  test("corrupts one byte of a body (same length, other digest)", async (t) => {
    const proxy = await faultProxy(registry.url, [{ path: "/blobs/", corruptByteAt: 1234, times: 1 }]);
    t.after(() => proxy.stop());
    const bad = await get(proxy, blobPath);
    assert.equal(bad.body.length, layer.size);
    assert.notEqual(sha256(bad.body), layer.digest);
    assert.equal(bad.body[1234], layer.data[1234]! ^ 0xff);
    assert.equal(sha256((await get(proxy, blobPath)).body), layer.digest);
  });

  test("delays a request", async (t) => {
    const proxy = await faultProxy(registry.url, [{ path: "/v2/", delayMs: 300, times: 1 }]);
    t.after(() => proxy.stop());
    const start = Date.now();
    assert.equal((await get(proxy, "/v2/")).status, 200);
    assert.ok(Date.now() - start >= 290);
  });
});
