/**
 * One image with a single 3 GB layer through save and load: the layer streamed (the process stays small), a
 * connection reset in the middle of the download resumed with Range (not restarted), and the load in PATCH chunks
 * (`--chunk-size`), every digest exact. The layer is an uncompressed tar of deterministic random bytes, made as a
 * stream and hashed as it goes; it never sits in memory or in a file of the test.
 */
import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CLI } from "../helpers/cli.js";
import { faultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { descriptorOf, pushBlob, pushBlobStream, pushManifest } from "../helpers/push.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { ustarHeader } from "../helpers/tar.js";

const exec = promisify(execFile);
const SIZE = Number(process.env.AIRGAP_LARGE_LAYER_BYTES ?? 3e9);

/** The layer: one ustar header, SIZE random bytes (AES-256-CTR of zeros), padding, the end blocks. */
function layer(): Readable {
  const cipher = createCipheriv("aes-256-ctr", createHash("sha256").update("large-layer").digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 << 20);
  async function* gen(): AsyncGenerator<Buffer> {
    yield ustarHeader("data/large.bin", SIZE, "0", 1704067200);
    for (let left = SIZE; left > 0; left -= zeros.length) yield cipher.update(zeros.subarray(0, Math.min(left, zeros.length)));
    yield Buffer.alloc((512 - (SIZE % 512)) % 512);
    yield Buffer.alloc(1024);
  }
  return Readable.from(gen(), { objectMode: false });
}

describe("a single 3 GB layer", { timeout: 20 * 60_000 }, () => {
  let work: string;
  let source: TestRegistry;
  let target: TestRegistry;
  let proxy: FaultProxy;
  let layerDigest: string;
  let layerSize = 0;
  let manifestDigest: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "airgap-large-"));
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    const hash = createHash("sha256");
    for await (const chunk of layer()) {
      hash.update(chunk as Buffer);
      layerSize += (chunk as Buffer).length;
    }
    layerDigest = `sha256:${hash.digest("hex")}`;
    await pushBlobStream(source, "team/large", layerDigest, layerSize, layer);
    const config = { mediaType: "application/vnd.oci.image.config.v1+json", data: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layerDigest] } })) };
    await pushBlob(source, "team/large", config);
    manifestDigest = await pushManifest(source, "team/large", {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: descriptorOf(config), layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layerSize }] })),
    }, "1");
    proxy = await faultProxy(source.url, [{ method: "GET", path: `/blobs/${layerDigest}`, resetAfterBytes: Math.floor(layerSize / 2), times: 1 }]);
  });
  after(async () => {
    await proxy.stop();
    await Promise.all([source.stop(), target.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  /** Runs the CLI under GNU time: exit code, output, and peak RSS in MB. */
  async function measured(args: string[]): Promise<{ code: number; stderr: string; rssMb: number }> {
    const r = await exec("/usr/bin/time", ["-f", "PEAK %M", process.execPath, CLI, ...args], { maxBuffer: 16 << 20 }).then(
      (x) => ({ code: 0, stderr: x.stderr }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? "" }),
    );
    return { ...r, rssMb: Number(/PEAK (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024 };
  }

  test("save: reset in the middle, resumed with Range; the process stays small; load in PATCH chunks, exact", async () => {
    await exec("bash", ["-c", `printf '%s\\n' ${proxy.host}/team/large:1 > ${join(work, "imagelist")}`]);
    const saved = await measured(["save", "--name", "large", "--version", "1", "--imagelist", join(work, "imagelist"), "--out", join(work, "out"), "--cache-dir", join(work, "cache")]);
    assert.equal(saved.code, 0, saved.stderr);
    const gets = proxy.requests.filter((q) => q.method === "GET" && q.path.endsWith(`/blobs/${layerDigest}`));
    assert.equal(gets.length, 2, "one reset, one resumption");
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? "")?.[1]);
    assert.ok(from > layerSize / 4, `resumed at byte ${from}, not restarted`);
    assert.ok(saved.rssMb < 300, `peak RSS ${saved.rssMb.toFixed(0)} MB while moving ${(layerSize / 1e9).toFixed(1)} GB`);

    const loaded = await measured(["load", join(work, "out", "large-1.tar"), "--registry", target.host, "--no-install", "--chunk-size", "512M"]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.ok(loaded.rssMb < 300, `peak RSS ${loaded.rssMb.toFixed(0)} MB`);
    const head = await target.fetch(`/v2/${proxy.host.replace(":", "-")}/team/large/manifests/1`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    assert.equal(head.headers["docker-content-digest"], manifestDigest);
    const log = await target.log();
    assert.ok((log.match(/"PATCH \/v2\/[^"]*blobs\/uploads\//g) ?? []).length >= Math.floor(layerSize / 512e6), "uploaded in 512 MB chunks");
  });
});
