/**
 * An engine's image export (`docker save`) turned into an OCI image in the download cache, streamed: each
 * file of the archive is hashed while it is written to the cache, nothing is held in memory but the small
 * JSON files. Both export formats are read:
 * - the legacy one (engines before 25): `manifest.json`, `<id>.json` configs, `<id>/layer.tar` layers
 *   (identical layers as symlinks to one another);
 * - the OCI layout newer engines write, which keeps a `manifest.json` for compatibility and stores
 *   everything as `blobs/sha256/<hex>` (each checked against its name).
 * The image manifest is built from `manifest.json` in both cases, so the same image gives the same digests
 * whichever engine exported it. Layers are kept as the engine gave them: plain tars (digest = the config's
 * diff_id, no CPU spent on compression; see the closing note of the daemon issue) or, from an engine that
 * keeps compressed blobs, gzip/zstd, recognised by their first bytes.
 * https://github.com/moby/moby/blob/master/image/spec/v1.2.md, https://github.com/opencontainers/image-spec
 */
import { posix } from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import type { ManifestData } from "../content/target.js";
import { AirgapError } from "../errors.js";
import type { OciLayout } from "../layout/layout.js";
import type { Descriptor } from "../oci/descriptor.js";
import { MediaType } from "../oci/media-types.js";
import { digestOf } from "../oci/verify.js";

/** The largest JSON file of an export we read into memory (manifest.json, index.json, configs). */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** Layer media types by the first bytes of the layer. */
const LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";

function layerMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return `${LAYER_TAR}+gzip`;
  if (head.readUInt32LE(0) === 0xfd2fb528) return `${LAYER_TAR}+zstd`;
  return LAYER_TAR;
}

/** Files of the export that only older engines need (per-layer v1 metadata), not stored. */
function isLegacyMetadata(name: string): boolean {
  return /^[0-9a-f]{64}\/(json|VERSION)$/.test(name) || name === "repositories";
}

interface StoredFile {
  digest: string;
  size: number;
  head: Buffer;
}

/**
 * Reads an export stream to its end, storing its files in `cache`; returns the image manifest (also stored) of
 * its first (for `docker save NAME`: only) image. `what` names the image in errors.
 */
export async function importEngineArchive(archive: Readable, cache: OciLayout, what: string): Promise<ManifestData> {
  const files = new Map<string, StoredFile>();
  const links = new Map<string, string>();
  const small = new Map<string, Buffer>();
  const extract = tar.extract();
  type Entry = Readable;
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, source, next) => {
      const stream = source as unknown as Entry;
      const name = posix.normalize(header.name.replace(/^\.\//, ""));
      const fail = (err: unknown) => {
        stream.resume();
        reject(err instanceof AirgapError ? err : new AirgapError("DOCKER", `${what}: reading the engine's export failed at ${name}: ${(err as Error).message}`, { cause: err }));
      };
      if (header.type === "symlink" || header.type === "link") {
        links.set(name, header.type === "symlink" ? posix.normalize(posix.join(posix.dirname(name), header.linkname ?? "")) : posix.normalize(header.linkname ?? ""));
        stream.on("end", next).resume();
        return;
      }
      if (header.type !== "file" || isLegacyMetadata(name)) {
        stream.on("end", next).resume();
        return;
      }
      if (name === "manifest.json" || name === "index.json" || name === "oci-layout") {
        void readSmall(stream, name, what).then((b) => {
          small.set(name, b);
          next();
        }, fail);
        return;
      }
      const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
      cache.ingest(stream, `${what}: ${name} of the engine's export`, blob ? `sha256:${blob[1]}` : undefined).then((f) => {
        files.set(name, f);
        next();
      }, fail);
    });
    extract.on("finish", resolve);
    extract.on("error", (err) => reject(new AirgapError("DOCKER", `${what}: the engine's export is not a readable tar: ${err.message}`, { cause: err })));
    archive.on("error", (err) => extract.destroy(err));
  });
  archive.pipe(extract);
  await done;

  const manifestJson = small.get("manifest.json");
  if (!manifestJson) throw new AirgapError("DOCKER", `${what}: the engine's export has no manifest.json`);
  let entries: Array<{ Config?: unknown; Layers?: unknown }>;
  try {
    entries = JSON.parse(manifestJson.toString("utf8")) as typeof entries;
  } catch {
    throw new AirgapError("DOCKER", `${what}: the engine's manifest.json is not JSON`);
  }
  const entry = entries[0];
  if (!entry || typeof entry.Config !== "string" || !Array.isArray(entry.Layers)) throw new AirgapError("DOCKER", `${what}: the engine's manifest.json names no image`);
  const file = (name: string): StoredFile => {
    let n = posix.normalize(name);
    for (let hops = 0; links.has(n) && hops < 16; hops++) n = links.get(n)!;
    const f = files.get(n);
    if (!f) throw new AirgapError("DOCKER", `${what}: the engine's export lacks ${name}, which its manifest.json names`);
    return f;
  };
  const config = file(entry.Config);
  const configBytes = await cache.fetchBytes({ mediaType: MediaType.OciConfig, digest: config.digest, size: config.size }, MAX_JSON_BYTES);
  const diffIds = (JSON.parse(configBytes.toString("utf8")) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
  const layers: Descriptor[] = (entry.Layers as string[]).map((name, i) => {
    const f = file(name);
    const mediaType = layerMediaType(f.head);
    // A plain layer's digest is its diff_id; the config must agree, or the image would not run.
    if (mediaType === LAYER_TAR && diffIds[i] !== undefined && diffIds[i] !== f.digest) {
      throw new AirgapError("DIGEST_MISMATCH", `${what}: layer ${i + 1} (${name}) hashes to ${f.digest}, but the image config says ${diffIds[i]}`);
    }
    return { mediaType, digest: f.digest, size: f.size };
  });
  // Key order fixed, no timestamps: the same image always gives the same manifest digest.
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = { mediaType: MediaType.OciManifest, digest: digestOf(bytes), size: bytes.length };
  await cache.push(descriptor, async () => Readable.from([bytes]));
  return { descriptor, bytes };
}

async function readSmall(stream: Readable, name: string, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > MAX_JSON_BYTES) throw new AirgapError("DOCKER", `${what}: ${name} of the engine's export is larger than ${MAX_JSON_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
