/**
 * One image of a bundle written as an archive file (docker-archive or oci-archive), under a temporary
 * name and renamed only when every byte arrived.
 */
import { createWriteStream } from "node:fs";
import { rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { dockerArchive, ociArchive } from "../daemon/archive-export.js";
import { engineName } from "../daemon/source.js";
import { AirgapError } from "../errors.js";
import { writeError } from "../layout/layout.js";
import { parsePlatform } from "../oci/platform.js";
import { formatReference, parseReference } from "../reference/reference.js";
import { pickImage } from "./pick.js";
import { BundleReader } from "../bundle/reader.js";

/** What to export. */
export interface ExportOptions {
  bundlePath: string;
  ref: string;
  format: "docker-archive" | "oci-archive";
  output: string;
  force: boolean;
  platform?: string;
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
  const ref = parseReference(options.ref);
  const source = formatReference(ref);
  if (!options.force && (await stat(options.output).then(() => true, () => false))) {
    throw new AirgapError("BUNDLE_EXISTS", `${options.output} exists`, { hint: "pass --force to overwrite it" });
  }
  const reader = await BundleReader.open(options.bundlePath);
  try {
    if (!reader.index.has(source)) {
      const names = (reader.bundle.images ?? []).map((i) => i.source);
      const near = names.filter((n) => n.includes(ref.path.split("/").pop() ?? ref.path));
      throw new AirgapError("INVALID_ARGUMENT", `${source} is not in ${reader.path}`, { hint: `it has ${near.length > 0 ? `e.g. ${near.slice(0, 3).join(", ")}` : `${names.length} images; see bundle inspect`}` });
    }
    const image = await pickImage(reader, ref, source, options.platform === undefined ? undefined : parsePlatform(options.platform));
    const tags = ref.tag === undefined ? [] : [options.format === "docker-archive" ? engineName(ref) : ref.tag];
    const stream = (options.format === "docker-archive" ? dockerArchive : ociArchive)([{ image, tags }], (d) => reader.fetchVerified(d));
    const temp = join(dirname(options.output), `.${Math.random().toString(36).slice(2, 10)}.export-tmp`);
    try {
      await pipeline(stream, createWriteStream(temp, { flags: "wx" }));
      await rename(temp, options.output);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err instanceof AirgapError ? err : writeError(options.output, err);
    }
    return { output: options.output, source, digest: image.manifest.descriptor.digest, bytes: (await stat(options.output)).size };
  } finally {
    await reader.close();
  }
}
