/**
 * `bundle export`: one image of a bundle, for one platform, copied by the engine into an archive sink
 * (docker-archive or oci-archive) written under a temporary name and renamed only when every byte arrived.
 */
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ArchiveSink, type ArchiveFormat } from "../archive/sink.js";
import { CopyEngine, type CopyEvent } from "../content/copy.js";
import { onePlatformPolicy } from "../content/policy.js";
import { AirgapError } from "../errors.js";
import { commitFile } from "../util/whole-file.js";
import { DEFAULT_PLATFORMS, parsePlatform } from "../oci/platform.js";
import { formatReference, parseReference, repositoryOf, type Reference } from "../reference/reference.js";
import { BundleReader } from "../bundle/reader.js";
import { checkOutputFile } from "../util/output-path.js";

/** What to export. */
export interface ExportOptions {
  bundlePath: string;
  ref: string;
  format: ArchiveFormat;
  output: string;
  force: boolean;
  /** The platform of a multi-platform image (default: the only one kept, else linux/amd64). */
  platform?: string;
  onEvent?: (event: CopyEvent) => void;
}

/** What was written. */
export interface ExportResult {
  output: string;
  source: string;
  /** The exported image manifest's digest. */
  digest: string;
  bytes: number;
}

/** Writes the image; refuses an existing file without `force`. */
export async function exportImage(options: ExportOptions): Promise<ExportResult> {
  const given = parseReference(options.ref);
  const reader = await BundleReader.open(options.bundlePath);
  try {
    await checkOutputFile(options.output, { force: options.force, option: "-o", inputs: reader.tar.parts.map((p) => p.path) });
    // The user's own reference: as the imagelist wrote it, or by its tag alone, or pinned to the index, to the
    // manifest a load pushed for it, or to one platform's manifest.
    const found = findImage(reader, given);
    const ref = found?.ref ?? given;
    const source = formatReference(ref);
    const platform = parsePlatform(options.platform ?? found?.platform ?? DEFAULT_PLATFORMS[0]!);
    if (!reader.index.has(source)) {
      const names = (reader.bundle.images ?? []).map((i) => i.source);
      const near = names.filter((n) => n.includes(ref.path.split("/").pop() ?? ref.path));
      throw new AirgapError("INVALID_ARGUMENT", `${source} is not in ${reader.path}`, { hint: `it has ${near.length > 0 ? `e.g. ${near.slice(0, 3).join(", ")}` : `${names.length} images; see bundle inspect`}` });
    }
    const engine = new CopyEngine({
      policy: onePlatformPolicy(platform, options.platform !== undefined || found?.platform !== undefined),
      concurrency: 1,
      ...(options.onEvent && { onEvent: options.onEvent }),
    });
    const sink = new ArchiveSink(options.format);
    const job = { label: source, ref, source: reader, sink, ...(ref.tag !== undefined && { tagAs: ref }) };
    // A delta leaves out what the site holds: an image that needs any of it cannot be exported from the delta alone.
    const leftOut = new Set((reader.bundle.base?.blobs ?? []).map((b) => b.digest));
    const deltaError = () => new AirgapError("INVALID_ARGUMENT", `${reader.path} is a delta: ${source}'s configs and layers that the site holds were left out of it, so it cannot be exported from it alone`, {
      hint: "export it from the full bundle the delta was made against, or pull it from the site's registry",
    });
    const image = await engine.resolve(job);
    // The engine names the blob it could not read: one the delta left out means the image is not all here.
    if ("error" in image) throw [...leftOut].some((d) => image.error.message.includes(d)) ? deltaError() : image.error;
    if (image.blobs.some((d) => leftOut.has(d.digest))) throw deltaError();
    const temp = join(dirname(options.output), `.${Math.random().toString(36).slice(2, 10)}.export-tmp`);
    await commitFile(temp, async (t) => {
      const written = pipeline(sink.stream, createWriteStream(t, { flags: "wx" }));
      // A file that cannot be written (a full disk) stops the copy too.
      written.catch((err: Error) => sink.abort(err));
      try {
        const copied = await engine.transfer(image);
        if ("error" in copied) sink.abort(copied.error);
        else await sink.finish();
        await written;
        if ("error" in copied) throw copied.error;
      } finally {
        await written.catch(() => undefined);
      }
    }, options.output);
    return { output: options.output, source, digest: image.top.descriptor.digest, bytes: (await stat(options.output)).size };
  } finally {
    await reader.close();
  }
}

/** The bundle's image a reference names (same repository; the same tag, or a digest it has), and the platform a digest names. */
function findImage(reader: BundleReader, ref: Reference): { ref: Reference; platform?: string } | undefined {
  if (reader.index.has(formatReference(ref))) return { ref };
  const repository = repositoryOf(ref);
  for (const image of reader.bundle.images) {
    const own = parseReference(image.source);
    if (repositoryOf(own) !== repository) continue;
    if (ref.digest === undefined) {
      if (ref.tag !== undefined && ref.tag === own.tag) return { ref: own };
      continue;
    }
    if (ref.digest === image.digest || ref.digest === image.targetDigest) return { ref: own };
    const platform = Object.entries(image.platformDigests ?? {}).find(([, d]) => d === ref.digest)?.[0];
    if (platform !== undefined) return { ref: own, platform };
  }
  return undefined;
}
