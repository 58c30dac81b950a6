/**
 * Image archives generated on the fly from a bundle, as streams (no temporary copy of the image):
 * - docker-archive, what `docker load` and the engine's image-load endpoint read: each config and layer once
 *   as `blobs/sha256/<hex>`, then `manifest.json` naming them with the tags to set (engines decompress
 *   gzip layers themselves);
 * - oci-archive, a tar of an OCI image layout (`skopeo … oci-archive:FILE`): `oci-layout`, the blobs, and an
 *   `index.json` naming each image.
 * https://github.com/moby/moby/blob/master/image/spec/v1.2.md, https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 */
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { PickedImage } from "../ops/pick.js";
import type { Descriptor } from "../oci/descriptor.js";
import { digestHex } from "../oci/verify.js";

/** An image to put in an archive, with the names to give it. */
export interface ArchiveImage {
  image: PickedImage;
  /** docker-archive: RepoTags (`name:tag`); oci-archive: the first is the index's ref name. */
  tags: string[];
}

/** Opens a blob's bytes, verified as they are read. */
export type BlobOpener = (d: Descriptor) => Promise<Readable>;

const blobName = (d: Descriptor) => `blobs/sha256/${digestHex(d.digest)}`;
const MTIME = new Date(0);

/** A docker-archive stream of the images. */
export function dockerArchive(images: readonly ArchiveImage[], open: BlobOpener): Readable {
  const manifest = images.map(({ image, tags }) => ({ Config: blobName(image.config), RepoTags: tags, Layers: image.layers.map(blobName) }));
  const blobs = images.flatMap(({ image }) => [image.config, ...image.layers]);
  return archive(blobs, [{ name: "manifest.json", bytes: Buffer.from(JSON.stringify(manifest)) }], open);
}

/** An oci-archive stream of the images. */
export function ociArchive(images: readonly ArchiveImage[], open: BlobOpener): Readable {
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: images.map(({ image, tags }) => ({
      ...image.manifest.descriptor,
      ...(tags[0] !== undefined && { annotations: { "org.opencontainers.image.ref.name": tags[0] } }),
    })),
  };
  const blobs = images.flatMap(({ image }) => [image.config, ...image.layers]);
  const manifests = images.map(({ image }) => ({ name: blobName(image.manifest.descriptor), bytes: image.manifest.bytes }));
  return archive(blobs, [
    { name: "oci-layout", bytes: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    ...manifests,
    { name: "index.json", bytes: Buffer.from(JSON.stringify(index)) },
  ], open);
}

/** The blobs (each once, streamed) then the small files, as one tar stream. */
function archive(blobs: readonly Descriptor[], files: ReadonlyArray<{ name: string; bytes: Buffer }>, open: BlobOpener): Readable {
  const pack = tar.pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const seen = new Set<string>();
  const fill = async () => {
    for (const d of blobs) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      const entry = pack.entry({ name: blobName(d), size: d.size, mode: 0o644, mtime: MTIME });
      await pipeline(await open(d), entry);
    }
    for (const f of files) {
      if (seen.has(f.name)) continue;
      seen.add(f.name);
      pack.entry({ name: f.name, size: f.bytes.length, mode: 0o644, mtime: MTIME }, f.bytes);
    }
    pack.finalize();
  };
  fill().catch((err: unknown) => {
    pack.destroy(err as Error);
    out.destroy(err as Error);
  });
  (pack as unknown as Readable).pipe(out);
  return out;
}
