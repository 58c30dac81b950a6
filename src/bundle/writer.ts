/**
 * Writes a bundle: ONE uncompressed POSIX tar whose root is an OCI image layout (DESIGN.md, format v1):
 * bundle.json first, oci-layout, index.json, every blob once, manifests/, imagelist, SHA256SUMS last;
 * plus `NAME-VERSION.tar.sha256` beside it. Under temporary names until complete.
 */
import { stat, unlink, writeFile, rename, readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { MediaType } from "../oci/media-types.js";
import { digestHex, digestOf, VerifyingStream } from "../oci/verify.js";
import { formatChecksums, sidecarText, type ChecksumLine } from "./checksums.js";
import { bundleFileName, ENTRY, REF_NAME_ANNOTATION, type BundleJson } from "./format.js";
import { PartWriter, temporaryName, type WrittenFile } from "./part-writer.js";
import { writeError } from "../layout/layout.js";

/** Where blobs are read from while writing (the download cache). */
export interface BlobReader {
  fetch(d: Descriptor): Promise<Readable>;
}

/** A file to carry under `manifests/`. */
export interface ManifestFileInput {
  /** Path inside the bundle, starting with `manifests/`. */
  path: string;
  content: Buffer;
}

/** Everything a bundle is made of. */
export interface WriteBundleOptions {
  outDir: string;
  bundle: BundleJson;
  /** index.json entries: each image's top descriptor and its normalised source reference. */
  index: Array<{ descriptor: Descriptor; ref: string }>;
  /** Every distinct blob, in the order to write them. */
  blobs: Descriptor[];
  blobReader: BlobReader;
  manifests: ManifestFileInput[];
  imagelistText: string;
  /** Overwrite an existing bundle of the same name and version. */
  force?: boolean;
  /** Split into parts of this many bytes. */
  splitSize?: number;
  signal?: AbortSignal;
  /** Called with the number of bytes of each chunk written (progress). */
  onBytes?: (n: number) => void;
}

/** What was written. */
export interface WrittenBundle {
  tarPath: string;
  sidecarPath: string;
  files: WrittenFile[];
  size: number;
  sha256: string;
}

/** Existing files of a bundle (its tar, parts and sidecar). */
async function existingFiles(tarPath: string): Promise<string[]> {
  const dir = dirname(tarPath);
  const name = basename(tarPath);
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n === name || n === `${name}.sha256` || /^\d{3}$/.test(n.slice(name.length + 1)) && n.startsWith(`${name}.`)).map((n) => join(dir, n));
}

/** Writes the bundle tar (or parts) and its `.sha256` sidecar. */
export async function writeBundle(options: WriteBundleOptions): Promise<WrittenBundle> {
  const { bundle } = options;
  const tarPath = join(options.outDir, bundleFileName(bundle.name, bundle.version));
  const sidecarPath = `${tarPath}.sha256`;
  const existing = await existingFiles(tarPath);
  if (existing.length > 0 && !options.force) {
    throw new AirgapError("BUNDLE_EXISTS", `${tarPath} already exists`, { hint: "pass --force to overwrite it, or choose another --version" });
  }
  try {
    await stat(options.outDir);
  } catch {
    await import("node:fs/promises").then((fs) => fs.mkdir(options.outDir, { recursive: true })).catch((err: unknown) => {
      throw writeError(options.outDir, err);
    });
  }

  const out = new PartWriter(tarPath, options.splitSize, options.onBytes);
  const pack = tar.pack();
  const mtime = new Date(bundle.created);
  const sums: ChecksumLine[] = [];
  const abort = () => pack.destroy(new AirgapError("ABORTED", "writing the bundle: cancelled"));
  options.signal?.addEventListener("abort", abort, { once: true });
  // The first failure is the real one (a full disk); what the tar packer says after it is noise.
  let pipeError: unknown;
  const piping = pipeline(pack, out).catch((err: unknown) => {
    pipeError ??= err;
    throw err;
  });
  piping.catch(() => undefined);

  const addBuffer = (name: string, content: Buffer) =>
    new Promise<void>((resolve, reject) => {
      sums.push({ sha256: digestHex(digestOf(content)), path: name });
      pack.entry({ name, size: content.length, mtime, mode: 0o644, uid: 0, gid: 0 }, content, (err) => (err ? reject(err) : resolve()));
    });
  const addDir = (name: string) =>
    new Promise<void>((resolve, reject) => {
      pack.entry({ name, type: "directory", mtime, mode: 0o755, uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve()));
    });

  try {
    await addBuffer(ENTRY.bundleJson, Buffer.from(`${JSON.stringify(bundle, null, 2)}\n`));
    await addBuffer(ENTRY.ociLayout, Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: options.index.map(({ descriptor, ref }) => ({
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size,
        annotations: { [REF_NAME_ANNOTATION]: ref },
      })),
    };
    await addBuffer(ENTRY.indexJson, Buffer.from(`${JSON.stringify(index, null, 2)}\n`));
    await addDir("blobs/");
    await addDir(ENTRY.blobsDir);
    for (const d of options.blobs) {
      if (!d.digest.startsWith("sha256:")) throw new AirgapError("UNSUPPORTED", `${d.digest}: only sha256 blobs can be bundled`);
      const name = `${ENTRY.blobsDir}${digestHex(d.digest)}`;
      const entry = pack.entry({ name, size: d.size, mtime, mode: 0o644, uid: 0, gid: 0 });
      // Every byte read back from the cache is checked again on its way into the bundle.
      await pipeline(await options.blobReader.fetch(d), new VerifyingStream(d, `reading cached blob ${d.digest}`), entry);
      sums.push({ sha256: digestHex(d.digest), path: name });
    }
    if (options.manifests.length > 0) await addDir(ENTRY.manifestsDir);
    const dirs = new Set<string>();
    for (const m of options.manifests) {
      const parts = m.path.split("/").slice(0, -1);
      for (let i = 2; i <= parts.length; i++) {
        const dir = `${parts.slice(0, i).join("/")}/`;
        if (!dirs.has(dir)) {
          dirs.add(dir);
          await addDir(dir);
        }
      }
      await addBuffer(m.path, m.content);
    }
    await addBuffer(ENTRY.imagelist, Buffer.from(options.imagelistText));
    const sumsText = Buffer.from(formatChecksums(sums));
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: ENTRY.sums, size: sumsText.length, mtime, mode: 0o644, uid: 0, gid: 0 }, sumsText, (err) => (err ? reject(err) : resolve())),
    );
    pack.finalize();
    await piping;
    if (options.signal?.aborted) throw new AirgapError("ABORTED", "writing the bundle: cancelled");

    // Replace an older bundle only now that the new one is complete.
    for (const old of existing) await unlink(old).catch(() => undefined);
    await out.commit();
    const { files, whole } = out.result();
    const tempSidecar = temporaryName(sidecarPath);
    try {
      await writeFile(tempSidecar, sidecarText(files, whole, tarPath, options.splitSize !== undefined));
      await rename(tempSidecar, sidecarPath);
    } catch (err) {
      await unlink(tempSidecar).catch(() => undefined);
      throw writeError(sidecarPath, err);
    }
    return { tarPath, sidecarPath, files, size: whole.size, sha256: whole.sha256 };
  } catch (err) {
    pack.destroy();
    await piping.catch(() => undefined);
    await out.abort();
    const first = pipeError instanceof AirgapError ? pipeError : err;
    if (first instanceof AirgapError) throw first;
    throw writeError(temporaryName(tarPath), pipeError ?? err);
  } finally {
    options.signal?.removeEventListener("abort", abort);
  }
}
