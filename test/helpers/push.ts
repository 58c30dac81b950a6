/**
 * Pushes blobs and a manifest straight to a test registry over the Registry v2 API (plain HTTP), for content that
 * image tools will not make: cosign's signature objects, OCI artifacts with a `subject`, fallback tag indexes.
 */
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { Readable } from "node:stream";
import type { TestRegistry } from "./registry.js";

/** A blob or manifest: its bytes and what they are. */
export interface RawBlob {
  mediaType: string;
  data: Buffer;
}

/** The descriptor of some bytes. */
export function descriptorOf(blob: RawBlob, extra: Record<string, unknown> = {}): { mediaType: string; digest: string; size: number } & Record<string, unknown> {
  return { mediaType: blob.mediaType, digest: `sha256:${createHash("sha256").update(blob.data).digest("hex")}`, size: blob.data.length, ...extra };
}

/** Uploads a blob (POST, then a monolithic PUT). */
export async function pushBlob(registry: TestRegistry, repo: string, blob: RawBlob): Promise<void> {
  const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
  const location = new URL(start.headers.get("location")!, registry.url);
  location.searchParams.set("digest", descriptorOf(blob).digest);
  const put = await fetch(location, { method: "PUT", body: blob.data, headers: { "content-type": "application/octet-stream" } });
  if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`);
}

/** Puts a manifest under `reference` (a tag or its digest); returns its digest. */
export async function pushManifest(registry: TestRegistry, repo: string, manifest: RawBlob, reference?: string): Promise<string> {
  const digest = descriptorOf(manifest).digest;
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference ?? digest}`, { method: "PUT", body: manifest.data, headers: { "content-type": manifest.mediaType } });
  if (res.status !== 201) throw new Error(`manifest ${reference ?? digest}: ${res.status} ${await res.text()}`);
  return digest;
}

/** Reads a manifest's bytes (undefined when absent). */
export async function getManifest(registry: TestRegistry, repo: string, reference: string): Promise<{ digest: string; body: Buffer } | undefined> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, { headers: { accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json" } });
  if (res.status !== 200) return undefined;
  return { digest: res.headers.get("docker-content-digest")!, body: Buffer.from(await res.arrayBuffer()) };
}

/** Uploads a blob streamed from `open()` (it may be gigabytes: never in memory), with its size and digest given. */
export async function pushBlobStream(registry: TestRegistry, repo: string, digest: string, size: number, open: () => Readable): Promise<void> {
  const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
  const location = new URL(start.headers.get("location")!, registry.url);
  location.searchParams.set("digest", digest);
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(location, { method: "PUT", headers: { "content-type": "application/octet-stream", "content-length": String(size) } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`upload: ${res.statusCode}`))));
    });
    req.on("error", reject);
    open().on("error", reject).pipe(req);
  });
}
