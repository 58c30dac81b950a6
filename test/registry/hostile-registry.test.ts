/**
 * Registries that misbehave — drip, stall, never answer, lie in their catalog, loop their Link headers, refuse
 * for good, send broken challenges — each with the outcome a user must see and a bound on how long it takes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MAX_TOKEN_BYTES } from "../../src/registry/auth.js";
import { MAX_CATALOG_PAGES } from "../../src/registry/client.js";
import { Registries } from "../../src/registry/registries.js";
import { tarEntryOffsets } from "../helpers/bundle.js";
import { CLI, runCli } from "../helpers/cli.js";
import { faultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { makeImage, seedRegistry } from "../helpers/images.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { saveCase } from "../helpers/save-case.js";
import { freePort } from "../helpers/ports.js";

/** Runs the CLI and returns its result with how long it took. */
async function timed(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string; ms: number }> {
  const started = Date.now();
  const r = await runCli(args, { timeoutMs: 60_000 });
  return { ...r, ms: Date.now() - started };
}

describe("misbehaving registries", () => {
  let source: TestRegistry;
  let work: string;
  let bundle: string;
  const image = makeImage({ seed: "hostile-registry", layers: [200_000] });
  const layer = image.layers[0]!;

  before(async () => {
    source = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "airgap-hostile-reg-"));
    await seedRegistry(source, image, "team/x:1");
    const c = await saveCase(work, [`${source.host}/team/x:1`], { name: "src" });
    assert.equal((await c.save()).code, 0);
    bundle = c.tar;
  });
  after(async () => {
    await source.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("a blob that drips a byte at a time is a stall: dropped, retried, then a clear error — not for ever", async (t) => {
    const proxy = await faultProxy(source.url, [{ method: "GET", path: `/blobs/${layer.digest}`, drip: { bytes: 1, everyMs: 200 } }]);
    t.after(() => proxy.stop());
    const c = await saveCase(work, [`${proxy.host}/team/x:1`]);
    const r = await timed([...c.args(["--stall-timeout", "1s", "--retries", "1"])]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /stalled: \d+ bytes in 1s \(fewer than 65536\)/);
    assert.ok(r.ms < 20_000, `bounded: ${r.ms} ms`);
    assert.ok(proxy.count("GET", `/blobs/${layer.digest}`) >= 2, "resumed (retried) once before giving up");
  });

  test("a registry that never answers costs seconds, said in words", async (t) => {
    const proxy = await faultProxy(source.url, [{ method: "GET", path: "/manifests/", hang: true }]);
    t.after(() => proxy.stop());
    const c = await saveCase(work, [`${proxy.host}/team/x:1`]);
    const r = await timed([...c.args(["--stall-timeout", "1s", "--retries", "1"])]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no answer in time/);
    assert.doesNotMatch(r.stderr, /UND_ERR/);
    assert.ok(r.ms < 15_000, `bounded: ${r.ms} ms`);
  });

  test("a catalog that is not JSON, or whose Link loops, is said so, and each image is checked instead", async (t) => {
    const rules: FaultRule[] = [
      { method: "GET", path: "/v2/_catalog", status: 200, body: "<html>not a catalog</html>", headers: { "content-type": "text/html" } },
      { method: "GET", path: "/v2/_catalog", status: 200, body: JSON.stringify({ repositories: [] }), headers: { link: '</v2/_catalog?n=1000>; rel="next"' } },
    ];
    for (const rule of rules) {
      const target = await startRegistry();
      t.after(() => target.stop());
      const proxy = await faultProxy(target.url, [rule]);
      t.after(() => proxy.stop());
      const r = await timed(["load", bundle, "--registry", proxy.host]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: listing .*\/v2\/_catalog: (the answer is not a catalog|its Link header leads back to a page already read).*; checking each image instead/);
      assert.ok(proxy.count("GET", "/v2/_catalog") <= 4, `few catalog requests: ${proxy.count("GET", "/v2/_catalog")}`);
    }
  });

  test("a blob longer than its descriptor, or endless, is cut at its size + 1 byte: 'more than the expected N bytes', no large file left", async (t) => {
    for (const endless of [false, true]) {
      let sent = 0;
      const liar = createServer((req, res) => {
        if (req.method === "GET" && req.url?.includes(`/blobs/${layer.digest}`)) {
          res.writeHead(200, { "content-type": "application/octet-stream", ...(endless ? {} : { "content-length": String(layer.size + 1000) }) });
          res.write(layer.data);
          sent = layer.size;
          // The rest: 1000 bytes more, or more until the client stops reading (bounded here at 256 MiB).
          const more = () => {
            while (sent < (endless ? 256 * 1024 * 1024 : layer.size + 1000)) {
              const chunk = Buffer.alloc(endless ? 1 << 20 : layer.size + 1000 - sent);
              sent += chunk.length;
              if (!res.write(chunk)) return void res.once("drain", more);
            }
            res.end();
          };
          res.on("close", () => (sent = Math.min(sent, Number.MAX_SAFE_INTEGER)));
          return more();
        }
        // Everything else from the real registry.
        const upstream = httpRequest(`${source.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve));
      t.after(() => new Promise<void>((resolve) => liar.close(() => resolve())));
      const host = `127.0.0.1:${(liar.address() as AddressInfo).port}`;
      const c = await saveCase(work, [`${host}/team/x:1`]);
      const r = await timed([...c.args(["--retries", "0"])]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${layer.digest}: more than the expected ${layer.size} bytes`), r.stderr);
      assert.ok(sent < layer.size + 64 * 1024 * 1024, `${endless ? "endless" : "longer"}: the download stopped (${sent} bytes sent)`);
      const left = await readdir(c.dir, { recursive: true, withFileTypes: true }).then((es) => es.filter((e) => e.isFile()));
      for (const e of left) assert.ok((await stat(join(e.parentPath, e.name))).size <= layer.size + 2 * 1024 * 1024, `no large file left: ${e.name}`);
    }
  });

  test("the upload's own retry: a single 503 on the blob PUT ?digest=, or on a PATCH with --chunk-size, is tried again and the load completes", async (t) => {
    for (const [rule, extra] of [[{ method: "PUT", path: "/blobs/uploads/", status: 503, times: 1 }, []], [{ method: "PATCH", path: "/blobs/uploads/", status: 503, times: 1 }, ["--chunk-size", "64Ki"]]] as const) {
      const target = await startRegistry();
      t.after(() => target.stop());
      const proxy = await faultProxy(target.url, [rule as FaultRule]);
      t.after(() => proxy.stop());
      const r = await timed(["load", bundle, "--registry", proxy.host, "--no-install", ...extra]);
      assert.equal(r.code, 0, `${rule.method}: ${r.stderr}`);
      assert.equal(proxy.requests.filter((q) => q.status === 503).length, 1, `${rule.method}: the 503 was answered`);
      assert.match(r.stdout, / yes$/m, "verified");
      assert.match(r.stderr, /retry 1 in [\d.]+s: uploading sha256:\w+ to .* \(/, `${rule.method}: said as a retry`);
    }
  });

  test("a target tag that does not resolve to its digest after the push (a registry answering 404 to the HEAD) is VERIFIED NO, exit 1", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const proxy = await faultProxy(target.url, [{ method: "HEAD", path: /\/manifests\/1$/, status: 404 }]);
    t.after(() => proxy.stop());
    const r = await timed(["load", bundle, "--registry", proxy.host, "--no-install"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /NO: .*team\/x:1 resolves to nothing, not sha256:\w+/);
    assert.match(r.stderr, /^error: 1 of 1 image did not arrive intact$/m);
  });

  test("a permanent refusal (400 DIGEST_INVALID) is not retried", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const body = JSON.stringify({ errors: [{ code: "DIGEST_INVALID", message: "provided digest did not match uploaded content" }] });
    const proxy = await faultProxy(target.url, [{ method: "PUT", path: "/blobs/uploads/", status: 400, body }]);
    t.after(() => proxy.stop());
    const r = await timed(["load", bundle, "--registry", proxy.host, "--retries", "3"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 400 DIGEST_INVALID: provided digest did not match uploaded content/);
    assert.doesNotMatch(r.stderr, /retry \d/);
    const puts = proxy.requests.filter((q) => q.method === "PUT" && q.path.includes("/blobs/uploads/"));
    assert.equal(puts.length, new Set(puts.map((q) => q.path.replace(/\/uploads\/[^?]+/, ""))).size, "each blob's upload was tried once");
  });

  test("a registry host that does not resolve is one line, however many images wait on it", async () => {
    const c = await saveCase(work, [...["a", "b", "c", "d", "e"].map((n) => `nosuch.invalid/team/${n}:1`), "elsewhere.invalid/x:2"]);
    const r = await timed(c.args());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: 6 of 6 images failed; no bundle was written$/m);
    assert.match(r.stderr, /imagelist:1: connecting to nosuch\.invalid: the name does not resolve \(https:\/\/nosuch\.invalid\/v2\/\) — 5 images \(lines 1, 2, 3, 4, 5\)/);
    assert.match(r.stderr, /hint: is this host online\?/);
    assert.ok(r.stderr.split("\n").filter((l) => l.includes("nosuch.invalid")).length <= 2, r.stderr);
    assert.doesNotMatch(r.stderr, /retry 0|0 B of 0 B/);
  });

  test("a token challenge without a realm is an error in words", async (t) => {
    const proxy = await faultProxy(source.url, [{ method: "GET", path: /^\/v2\//, status: 401, headers: { "www-authenticate": "Bearer service=\"x\"" }, body: "{}" }]);
    t.after(() => proxy.stop());
    const c = await saveCase(work, [`${proxy.host}/team/x:1`]);
    const r = await timed(c.args(["--retries", "0"]));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /asked for token auth without a realm/);
  });

  test("an IPv6 source host is saved and loaded, its host written as a path component", async (t) => {
    const proxy = await faultProxy(source.url, [], { listen: "::1" });
    t.after(() => proxy.stop());
    const port = proxy.host.slice(proxy.host.lastIndexOf(":") + 1);
    const c = await saveCase(work, [`${proxy.host}/team/x:1`]);
    const saved = await c.save();
    assert.equal(saved.code, 0, saved.stderr);
    const target = await startRegistry();
    t.after(() => target.stop());
    const r = await runCli(["load", c.tar, "--registry", target.host]);
    assert.equal(r.code, 0, r.stderr);
    const res = await target.fetch(`/v2/ipv6---1-${port}/team/x/manifests/1`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    assert.equal(res.headers["docker-content-digest"], image.manifest.digest);
  });

  test("a catalog or tag list that drips is a stall like any body: load and inventory end with words, not never", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    assert.equal((await timed(["load", bundle, "--registry", target.host, "--no-install"])).code, 0);
    for (const path of ["/v2/_catalog", "/tags/list"]) {
      const proxy = await faultProxy(target.url, [{ method: "GET", path, drip: { bytes: 1, everyMs: 300 } }]);
      t.after(() => proxy.stop());
      const inventory = ["inventory", "--registry", proxy.host, "-o", join(work, `inventory-${path.length}.json`)];
      // A load reads the catalog, not tag lists; an inventory reads both.
      for (const args of path === "/v2/_catalog" ? [["load", bundle, "--registry", proxy.host, "--no-install"], inventory] : [inventory]) {
        const r = await timed([...args, "--stall-timeout", "1s", "--retries", "1"]);
        // A load checks each image instead of a catalog it cannot read (and says so); an inventory cannot do without it.
        if (args[0] === "inventory") assert.notEqual(r.code, 0, `${args[0]} through a dripping ${path}: ${r.stderr}`);
        else assert.match(r.stderr, /checking each image instead/);
        assert.ok(r.ms < 20_000, `${args[0]} through a dripping ${path} is bounded: ${r.ms} ms`);
        assert.match(r.stderr, /stalled: \d+ bytes in 1s \(fewer than 65536\)|the answer stopped coming/, `${args[0]} ${path}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /unexpected|Body Timeout Error/);
      }
    }
  });

  test("a registry that does not check digests never receives a wrong blob whole: the last bytes wait for the digest (load --skip-verify)", async (t) => {
    // A registry that stores whatever a PUT delivers in full, under the digest the client names, unchecked.
    const stored = new Map<string, number>();
    const lax = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "POST" && url.pathname.endsWith("/blobs/uploads/")) return void res.writeHead(202, { location: `${url.pathname}${Math.random().toString(36).slice(2)}` }).end();
      if (req.method === "PUT" && url.pathname.includes("/blobs/uploads/")) {
        const expected = Number(req.headers["content-length"]);
        let got = 0;
        req.on("data", (c: Buffer) => (got += c.length));
        req.on("end", () => {
          if (got === expected) stored.set(url.searchParams.get("digest") ?? "", got);
          res.writeHead(201, { "docker-content-digest": url.searchParams.get("digest") ?? "" }).end();
        });
        return;
      }
      req.resume();
      if (url.pathname === "/v2/") return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
      if (req.method === "PUT") return void res.writeHead(201).end();
      res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}');
    });
    await new Promise<void>((resolve) => lax.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => lax.close(() => resolve())));
    const tampered = join(work, "tampered-layer.tar");
    const bytes = await readFile(bundle);
    const at = (await tarEntryOffsets(bundle)).find((e) => e.name === `blobs/sha256/${layer.digest.slice(7)}`)!.offset;
    bytes[at + 1000] = bytes[at + 1000]! ^ 0xff;
    await writeFile(tampered, bytes);
    const r = await timed(["load", tampered, "--registry", `127.0.0.1:${(lax.address() as AddressInfo).port}`, "--skip-verify", "--no-install", "--retries", "0"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${layer.digest}: digest mismatch after ${layer.size} bytes`));
    assert.equal(stored.has(layer.digest), false, "the registry never got the whole wrong blob");
    assert.ok(stored.size > 0, "the other blobs (the config) arrived whole");
  });

  test("a registry that is down, or not a registry: one diagnosis line with every address tried and a hint, no table", async (t) => {
    const down = await freePort();
    const r = await timed(["load", bundle, "--registry", `127.0.0.1:${down}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, [
      `retry 1 in ${/retry 1 in ([\d.]+)s/.exec(r.stderr)?.[1]}s: connecting to 127.0.0.1:${down} (connection refused)`,
      `error: connecting to 127.0.0.1:${down}: connection refused (tried http://127.0.0.1:${down}/v2/, then https://127.0.0.1:${down}/v2/)`,
      "hint: nothing was pushed: is the registry running and the address right?",
      "",
    ].join("\n"));
    const web = createServer((_req, res) => res.writeHead(404).end("not here"));
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => web.close(() => resolve())));
    const port = (web.address() as AddressInfo).port;
    const other = await timed(["load", bundle, "--registry", `127.0.0.1:${port}`]);
    assert.equal(other.code, 1, other.stderr);
    assert.equal(other.stderr, `error: 127.0.0.1:${port} does not speak the registry v2 API (GET /v2/ gave 404)\nhint: nothing was pushed: is the registry running, and is --registry its address?\n`);
  });

  test("the first Ctrl-C stops a load held by a dripping catalog", async (t) => {
    const target = await startRegistry();
    t.after(() => target.stop());
    const proxy = await faultProxy(target.url, [{ method: "GET", path: "/v2/_catalog", drip: { bytes: 1, everyMs: 500 } }]);
    t.after(() => proxy.stop());
    const child = spawn(process.execPath, [CLI, "load", bundle, "--registry", proxy.host], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const sent = Date.now();
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - sent < 5000, "stopped promptly");
    assert.doesNotMatch(stderr, /unexpected/);
    assert.doesNotMatch(stderr, /add the images to the imagelist/, "the message is about the interruption");
  });
});

describe("resource caps of a registry's answers", () => {
  let server: Server;
  let pages = 0;
  let limit = Infinity;
  let tokenBytes = 0;
  before(async () => {
    server = createServer({ maxHeaderSize: 4 * 1024 * 1024 }, (req, res) => {
      const host = req.headers.host;
      if (req.url?.startsWith("/token")) {
        // A token response of exactly tokenBytes bytes.
        const body = `{"token":"${"t".repeat(tokenBytes - 12)}"}`;
        return void res.writeHead(200, { "content-type": "application/json" }).end(body);
      }
      if (req.url?.startsWith("/auth/")) {
        if (!req.headers.authorization) return void res.writeHead(401, { "www-authenticate": `Bearer realm="http://${host}/token",service="t"` }).end("{}");
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ repositories: ["ok"] }));
      }
      if (req.url === "/v2/") return void res.writeHead(200).end("{}");
      const page = pages++;
      const next = page + 1 < limit ? { link: `</v2/_catalog?n=1000&last=r${page}>; rel="next"` } : {};
      res.writeHead(200, { "content-type": "application/json", ...next }).end(JSON.stringify({ repositories: [`r${page}`] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test(`a token response of exactly ${MAX_TOKEN_BYTES} bytes is read; one byte more is refused`, async () => {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [size, ok] of [[MAX_TOKEN_BYTES, true], [MAX_TOKEN_BYTES + 1, false]] as const) {
      tokenBytes = size;
      const r = registries();
      try {
        const h = r.host(host);
        const asked = h.send(`http://${host}/auth/_catalog`, { what: "listing", scope: "registry:catalog:*" }).then(async (res) => {
          res.body.resume();
          return res.statusCode;
        });
        if (ok) assert.equal(await asked, 200);
        else await assert.rejects(asked, /larger than the 1048576-byte limit/);
      } finally {
        await r.close();
      }
    }
  });

  const registries = () => new Registries({ credentials: { get: async () => undefined }, plainHttp: true, retry: { retries: 0, baseMs: 1, maxMs: 1 } });

  test(`a catalog of exactly ${MAX_CATALOG_PAGES} pages is read whole; one more page is refused`, async () => {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    pages = 0;
    limit = MAX_CATALOG_PAGES;
    const r = registries();
    try {
      assert.equal((await r.host(host).catalog())?.length, MAX_CATALOG_PAGES);
      pages = 0;
      limit = MAX_CATALOG_PAGES + 1;
      await assert.rejects(r.host(host).catalog(), new RegExp(`more than ${MAX_CATALOG_PAGES} pages`));
      assert.equal(pages, MAX_CATALOG_PAGES, "no request past the cap");
    } finally {
      await r.close();
    }
  });
});
