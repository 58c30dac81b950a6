/**
 * An OCI image layout folder as a {@link Target}: the resumable download cache of `bundle save`.
 * Each blob is written under a temporary name and renamed to its digest only after it was verified,
 * so whatever carries a digest's name is complete; a rerun finds it and fetches nothing again.
 * https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { MediaType } from "../oci/media-types.js";
import { digestHex, digestOf, verifyBytes } from "../oci/verify.js";
import { formatReference, type Reference } from "../reference/reference.js";
import type { ManifestData, Opener, PartialStore, Target } from "../content/target.js";

import { commitFile, writeError } from "../util/whole-file.js";

/** Default cache folder of `bundle save`. */
export const DEFAULT_CACHE_DIR = "bundles/.cache";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** An OCI image layout on disk. Call {@link OciLayout.open} to create one. */
export class OciLayout implements Target, PartialStore {
  readonly name: string;
  private readonly refs = new Map<string, Descriptor>();

  private constructor(readonly dir: string) {
    this.name = `oci-layout:${dir}`;
  }

  /** Opens (creating if needed) a layout folder and removes temporary files that dead processes left. */
  static async open(dir: string): Promise<OciLayout> {
    const layout = new OciLayout(dir);
    const blobs = join(dir, "blobs", "sha256");
    try {
      await mkdir(blobs, { recursive: true });
      await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    } catch (err) {
      throw writeError(dir, err);
    }
    for (const name of await readdir(blobs)) {
      const m = /^\.tmp-[0-9a-f]+-(\d+)-/.exec(name);
      if (m && !isAlive(Number(m[1]))) await unlink(join(blobs, name)).catch(() => undefined);
    }
    return layout;
  }

  /** Path of a blob's file (which exists only once verified). */
  blobPath(d: Pick<Descriptor, "digest">): string {
    const algorithm = d.digest.slice(0, d.digest.indexOf(":"));
    return join(this.dir, "blobs", algorithm, digestHex(d.digest));
  }

  async exists(d: Descriptor): Promise<boolean> {
    try {
      return (await stat(this.blobPath(d))).size === d.size;
    } catch {
      return false;
    }
  }

  async fetch(d: Descriptor): Promise<Readable> {
    const path = this.blobPath(d);
    if (!(await this.exists(d))) throw new AirgapError("NOT_FOUND", `${d.digest} is not in ${this.dir}`);
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async fetchBytes(d: Descriptor, maxBytes: number): Promise<Buffer> {
    if (d.size > maxBytes) throw new AirgapError("INVALID_MANIFEST", `${d.digest} is ${d.size} bytes, more than the ${maxBytes}-byte limit`);
    let data: Buffer;
    try {
      data = await readFile(this.blobPath(d));
    } catch {
      throw new AirgapError("NOT_FOUND", `${d.digest} is not in ${this.dir}`);
    }
    verifyBytes(data, d, `reading ${this.blobPath(d)}`);
    return data;
  }

  /** Where the first bytes of an interrupted download of the blob are kept (never a name a blob has). */
  private partialPath(d: Pick<Descriptor, "digest">): string {
    return join(this.dir, "blobs", "sha256", `.partial-${digestHex(d.digest)}`);
  }

  async partialSize(d: Descriptor): Promise<number> {
    const size = await stat(this.partialPath(d)).then((st) => st.size, () => 0);
    return size < d.size ? size : 0;
  }

  openPartial(d: Descriptor): Readable {
    return createReadStream(this.partialPath(d), { highWaterMark: 1 << 20 });
  }

  async dropPartial(d: Descriptor): Promise<void> {
    await unlink(this.partialPath(d)).catch(() => undefined);
  }

  /** Keeps the first bytes of a blob whose download was interrupted (written to a temporary name, then renamed). */
  async keepPartial(d: Descriptor, first: Readable): Promise<void> {
    if (await this.exists(d)) return;
    const temp = join(this.dir, "blobs", "sha256", `.tmp-${digestHex(d.digest).slice(0, 16)}-${process.pid}-partial`);
    await commitFile(temp, (t) => pipeline(first, createWriteStream(t, { highWaterMark: 1 << 20 })), this.partialPath(d));
  }

  /** Writes to a temporary name, renames to the digest when the (caller-verified) stream ended well. */
  async push(d: Descriptor, open: Opener): Promise<void> {
    if (await this.exists(d)) return;
    const temp = join(this.dir, "blobs", "sha256", `.tmp-${digestHex(d.digest).slice(0, 16)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    await commitFile(temp, async (t) => pipeline(await open(), createWriteStream(t, { flags: "wx", highWaterMark: 1 << 20 })), this.blobPath(d));
    await this.dropPartial(d);
  }

  /**
   * Stores a stream whose digest is not known in advance (an engine's image export): written to a temporary
   * name while hashed, then renamed to its digest. With `expected`, a different digest is an error and nothing
   * is kept. Resolves to the digest, the size and the first bytes (to tell a compressed layer from a plain one).
   */
  async ingest(stream: Readable, what: string, expected?: string): Promise<{ digest: string; size: number; head: Buffer }> {
    const temp = join(this.dir, "blobs", "sha256", `.tmp-ingest-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    const hash = createHash("sha256");
    let size = 0;
    let head = Buffer.alloc(0);
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        if (head.length < 8) head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
        done(null, chunk);
      },
    });
    return commitFile(temp, async (t) => {
      await pipeline(stream, tap, createWriteStream(t, { flags: "wx", highWaterMark: 1 << 20 }));
      const digest = `sha256:${hash.digest("hex")}`;
      if (expected !== undefined && digest !== expected) {
        throw new AirgapError("DIGEST_MISMATCH", `${what}: its bytes hash to ${digest}, not ${expected}`);
      }
      return { digest, size, head };
    }, ({ digest }) => this.blobPath({ digest }));
  }

  /** Reads a manifest stored under its digest (a rerun resolves pinned images from here, offline). */
  async readManifestByDigest(digest: string): Promise<ManifestData | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath({ digest }));
    } catch {
      return undefined;
    }
    if (digestOf(bytes, digest) !== digest) return undefined;
    const mediaType = manifestTypeOf(bytes);
    return mediaType ? { descriptor: { mediaType, digest, size: bytes.length }, bytes } : undefined;
  }

  async tag(d: Descriptor, ref: Reference): Promise<void> {
    this.refs.set(formatReference(ref), d);
  }

  async resolve(ref: Reference): Promise<ManifestData> {
    const d = this.refs.get(formatReference(ref));
    if (!d) throw new AirgapError("NOT_FOUND", `${formatReference(ref)} is not in ${this.dir}`);
    return { descriptor: d, bytes: await this.fetchBytes(d, d.size) };
  }
}

/** The media type of manifest bytes: their own field, or (OCI allows leaving it out) their shape. */
function manifestTypeOf(bytes: Buffer): string | undefined {
  try {
    const json = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown; manifests?: unknown; layers?: unknown };
    if (typeof json.mediaType === "string") return json.mediaType;
    if (Array.isArray(json.manifests)) return MediaType.OciIndex;
    if (Array.isArray(json.layers)) return MediaType.OciManifest;
  } catch {
    // not a manifest
  }
  return undefined;
}
