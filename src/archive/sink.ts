/**
 * An image archive as a sink of the copy engine, written as a stream while the engine copies into it (no
 * temporary copy of the image):
 * - docker-archive, what `docker load` and the engine's image-load endpoint read: each config and layer once
 *   as `blobs/sha256/<hex>`, then `manifest.json` naming them with the tags to set (engines decompress
 *   gzip layers themselves);
 * - oci-archive, a tar of an OCI image layout (`skopeo … oci-archive:FILE`): `oci-layout`, the blobs and
 *   manifests, and an `index.json` naming each image.
 * Every image manifest pushed becomes an image of the archive; `tag` names it. Both formats hold single-platform
 * images: copy into this sink with the engine's `onePlatform`.
 * https://github.com/moby/moby/blob/master/image/spec/v1.2.md, https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 */
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { Opener, Sink } from "../content/target.js";
import { AirgapError } from "../errors.js";
import { MAX_MANIFEST_BYTES, parseManifest, isParsedIndex, type Descriptor, type ImageManifest } from "../oci/descriptor.js";
import { MediaType, isIndex, isManifest } from "../oci/media-types.js";
import { digestHex } from "../oci/verify.js";
import { engineName, type Reference } from "../reference/reference.js";

/** The two archive formats. */
export type ArchiveFormat = "docker-archive" | "oci-archive";

const blobName = (digest: string) => `blobs/sha256/${digestHex(digest)}`;
const MTIME = new Date(0);

/** An archive being written: push blobs and manifests, tag images, then {@link finish}; read {@link stream}. */
export class ArchiveSink implements Sink {
  readonly name: string;
  /** The archive's bytes, as they are made. */
  readonly stream: Readable;
  private readonly pack = tar.pack();
  /** Entries are written one after another: a tar has one cursor. */
  private queue: Promise<void> = Promise.resolve();
  private readonly stored = new Set<string>();
  /** Image manifests in the order they arrived, with their names. */
  private readonly images = new Map<string, { descriptor: Descriptor; manifest: ImageManifest; bytes: Buffer; names: string[] }>();

  constructor(readonly format: ArchiveFormat, name: string = format) {
    this.name = name;
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    (this.pack as unknown as Readable).pipe(out);
    this.pack.on("error", (err: Error) => out.destroy(err));
    this.stream = out;
  }

  exists(d: Descriptor): Promise<boolean> {
    return Promise.resolve(this.stored.has(d.digest));
  }

  async push(d: Descriptor, open: Opener): Promise<void> {
    if (this.stored.has(d.digest)) return;
    this.stored.add(d.digest);
    try {
      if (isManifest(d.mediaType) || isIndex(d.mediaType)) return this.keepManifest(d, await readAll(await open(), d));
      await this.write(async () => {
        await pipeline(await open(), this.pack.entry({ name: blobName(d.digest), size: d.size, mode: 0o644, mtime: MTIME }));
      });
    } catch (err) {
      // A tar entry cut short cannot be taken back: the archive is given up, whoever reads it sees why.
      this.stored.delete(d.digest);
      this.abort(err as Error);
      throw err;
    }
  }

  /** Names an image: `name:tag` in a docker-archive (Docker's short form), the tag as the ref name in an oci-archive. */
  tag(d: Descriptor, ref: Reference): Promise<void> {
    const image = this.images.get(d.digest);
    if (!image) return Promise.reject(new AirgapError("INTERNAL", `${this.name}: tagging ${d.digest}, which is not an image of the archive`));
    const name = this.format === "docker-archive" ? engineName({ ...ref, digest: undefined }) : ref.tag;
    if (name !== undefined && !image.names.includes(name)) image.names.push(name);
    return Promise.resolve();
  }

  /** Writes the archive's own files after the blobs and ends the stream; resolves when every entry is written. */
  async finish(): Promise<void> {
    const images = [...this.images.values()];
    const files =
      this.format === "docker-archive"
        ? [{ name: "manifest.json", bytes: Buffer.from(JSON.stringify(images.map((i) => ({ Config: blobName(i.manifest.config.digest), RepoTags: i.names, Layers: i.manifest.layers.map((l) => blobName(l.digest)) })))) }]
        : [
            { name: "oci-layout", bytes: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
            ...images.map((i) => ({ name: blobName(i.descriptor.digest), bytes: i.bytes })),
            { name: "index.json", bytes: Buffer.from(JSON.stringify(ociIndex(images))) },
          ];
    await this.write(async () => {
      for (const f of files) this.pack.entry({ name: f.name, size: f.bytes.length, mode: 0o644, mtime: MTIME }, f.bytes);
      this.pack.finalize();
    });
  }

  /** Ends the stream with `err` (the copy failed): whoever reads it sees the failure, not a short archive. */
  abort(err: Error): void {
    this.pack.destroy(err);
    this.stream.destroy(err);
  }

  private keepManifest(d: Descriptor, bytes: Buffer): void {
    const parsed = parseManifest(bytes, d.mediaType, `${this.name} ${d.digest}`);
    if (isParsedIndex(parsed)) throw new AirgapError("UNSUPPORTED", `${this.name}: an archive holds single-platform images, not the index ${d.digest}`);
    this.images.set(d.digest, { descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.platform && { platform: d.platform }) }, manifest: parsed, bytes, names: [] });
  }

  private write(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function ociIndex(images: ReadonlyArray<{ descriptor: Descriptor; names: string[] }>): object {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.flatMap(({ descriptor, names }) =>
      names.length === 0 ? [descriptor] : names.map((n) => ({ ...descriptor, annotations: { "org.opencontainers.image.ref.name": n } })),
    ),
  };
}

async function readAll(stream: Readable, d: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > MAX_MANIFEST_BYTES) throw new AirgapError("INVALID_MANIFEST", `${d.digest}: larger than ${MAX_MANIFEST_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
