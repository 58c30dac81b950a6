/**
 * `bundle save` as a function: registry → download cache (the copy engine) → one bundle tar.
 * Every image is attempted; if any fails, all failures are reported together and no bundle is written.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { copyImages, type CopiedImage, type CopyEvent } from "../content/copy.js";
import { AirgapError, type Problem } from "../errors.js";
import { OciLayout } from "../layout/layout.js";
import type { Descriptor } from "../oci/descriptor.js";
import { formatPlatform, type Platform } from "../oci/platform.js";
import type { Imagelist } from "../reference/imagelist.js";
import { relativeTarget } from "../reference/target.js";
import type { Registries } from "../registry/client.js";
import { RegistryRepository } from "../registry/repository.js";
import type { RetryOptions } from "../registry/retry.js";
import { naturalCompare } from "../util/natural-sort.js";
import { BUNDLE_FORMAT, type BundleImage, type BundleJson } from "./format.js";
import { writeBundle, type ManifestFileInput, type WrittenBundle } from "./writer.js";

/** Events of a save: the copy engine's, plus phases and bundle-writing progress. */
export type SaveEvent =
  | CopyEvent
  | { type: "phase"; phase: "download" | "write"; images?: number; bytes?: number }
  | { type: "write-bytes"; bytes: number };

/** Options of {@link saveBundle}. */
export interface SaveOptions {
  imagelist: Imagelist;
  /** Folder of Kubernetes manifests to carry (copied unchanged for now); absent folder = none. */
  manifestsDir?: string;
  /** True when the user named the manifests folder (then it must exist). */
  manifestsRequired?: boolean;
  name: string;
  version: string;
  outDir: string;
  cacheDir: string;
  force?: boolean;
  splitSize?: number;
  platforms: Platform[] | "all";
  concurrency?: number;
  registries: Registries;
  retry?: RetryOptions;
  toolVersion: string;
  signal?: AbortSignal;
  onEvent?: (event: SaveEvent) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

/** What a save did. */
export interface SaveResult {
  bundle: WrittenBundle;
  json: BundleJson;
  images: number;
  uniqueBlobs: number;
  uniqueBytes: number;
  /** Bytes not stored twice thanks to deduplication (sum of image sizes minus unique bytes). */
  dedupSavedBytes: number;
  seconds: number;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Checks `--name` and `--version`, which become a file name. */
export function checkNameVersion(name: string, version: string): void {
  if (!NAME.test(name)) throw new AirgapError("INVALID_ARGUMENT", `invalid bundle name "${name}"`, { hint: "use lower-case letters, digits, . _ - (it becomes the file name)" });
  if (!VERSION.test(version)) throw new AirgapError("INVALID_ARGUMENT", `invalid bundle version "${version}"`, { hint: "use letters, digits, . _ + - (e.g. 5.1.0)" });
}

/** Every file under a manifests folder, in natural order, as bundle entries `manifests/…`. */
export async function readManifestFiles(dir: string, required: boolean): Promise<ManifestFileInput[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new AirgapError("INVALID_ARGUMENT", `--manifests ${dir} is not a folder`);
  } catch (err) {
    if (err instanceof AirgapError) throw err;
    if (!required) return [];
    throw new AirgapError("FILE_NOT_FOUND", `manifests folder not found: ${dir}`, { hint: "pass --manifests DIR, or leave it out to bundle images only" });
  }
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push(relative(dir, path).split(sep).join("/"));
    }
  };
  await walk(dir);
  files.sort(naturalCompare);
  return Promise.all(files.map(async (f) => ({ path: `manifests/${f}`, content: await readFile(join(dir, f)) })));
}

/** The failures of a save as one error listing every failed image with its line and reason. */
function failuresError(imagelist: Imagelist, failed: Array<{ label: string; line: number; error: AirgapError }>, total: number): AirgapError {
  const problems: Problem[] = failed.map((f) => ({ file: imagelist.file, line: f.line, reason: f.error.message }));
  // The failures' own hints first (e.g. --ca-file, log in), each once.
  const hints = [...new Set(failed.map((f) => f.error.hint).filter((h): h is string => h !== undefined))];
  hints.push("rerun when fixed: images already downloaded are kept in the cache");
  return new AirgapError("IMAGES_FAILED", `${failed.length} of ${total} images failed; no bundle was written`, { problems, hint: hints.join("; ") });
}

/** Pulls every image of the imagelist into the cache, then writes the bundle. */
export async function saveBundle(options: SaveOptions): Promise<SaveResult> {
  const started = Date.now();
  checkNameVersion(options.name, options.version);
  const manifests = await readManifestFiles(options.manifestsDir ?? "manifests", options.manifestsRequired ?? false);
  const layout = await OciLayout.open(options.cacheDir);
  const entries = options.imagelist.entries;

  options.onEvent?.({ type: "phase", phase: "download", images: entries.length });
  const jobs = entries.map((e) => ({
    label: e.normalized,
    ref: e.ref,
    source: new RegistryRepository(options.registries.host(e.ref.domain), e.ref.path, options.retry),
    sink: layout,
  }));
  const { copied, failed } = await copyImages(jobs, {
    platforms: options.platforms,
    checkConfigPlatform: true,
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.signal && { signal: options.signal }),
    ...(options.onEvent && { onEvent: options.onEvent }),
  });
  if (options.signal?.aborted) throw new AirgapError("ABORTED", "save cancelled; rerun to resume from the cache");
  const lineOf = new Map(entries.map((e) => [e.normalized, e.line]));
  if (failed.length > 0) {
    const list = failed
      .map((f) => ({ label: f.job.label, line: lineOf.get(f.job.label) ?? 0, error: f.error }))
      .sort((a, b) => a.line - b.line);
    throw failuresError(options.imagelist, list, entries.length);
  }

  const byLabel = new Map(copied.map((c) => [c.job.label, c]));
  const ordered = entries.map((e) => byLabel.get(e.normalized)!);
  const blobs = new Map<string, Descriptor>();
  for (const image of ordered) for (const d of image.blobs) if (!blobs.has(d.digest)) blobs.set(d.digest, d);
  const uniqueBytes = [...blobs.values()].reduce((n, d) => n + d.size, 0);
  const totalBytes = ordered.reduce((n, i) => n + i.size, 0);

  const json = bundleJson(options, ordered, lineOf, manifests, blobs.size, uniqueBytes);
  options.onEvent?.({ type: "phase", phase: "write", bytes: uniqueBytes });
  const bundle = await writeBundle({
    outDir: options.outDir,
    bundle: json,
    index: ordered.map((i) => ({ descriptor: i.top.descriptor, ref: i.job.label })),
    blobs: [...blobs.values()],
    blobReader: layout,
    manifests,
    imagelistText: `${entries.map((e) => e.normalized).join("\n")}\n`,
    ...(options.force !== undefined && { force: options.force }),
    ...(options.splitSize !== undefined && { splitSize: options.splitSize }),
    ...(options.signal && { signal: options.signal }),
    onBytes: (n) => options.onEvent?.({ type: "write-bytes", bytes: n }),
  });
  return {
    bundle,
    json,
    images: ordered.length,
    uniqueBlobs: blobs.size,
    uniqueBytes,
    dedupSavedBytes: totalBytes - uniqueBytes,
    seconds: (Date.now() - started) / 1000,
  };
}

function bundleJson(
  options: SaveOptions,
  images: CopiedImage[],
  lineOf: Map<string, number>,
  manifests: ManifestFileInput[],
  count: number,
  bytes: number,
): BundleJson {
  const created = (options.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    format: BUNDLE_FORMAT,
    name: options.name,
    version: options.version,
    created,
    tool: { name: "airgap-bundle", version: options.toolVersion },
    platforms: options.platforms === "all" ? ["all"] : options.platforms.map(formatPlatform),
    images: images.map((i): BundleImage => {
      return {
        source: i.job.label,
        line: lineOf.get(i.job.label) ?? 0,
        digest: i.top.descriptor.digest,
        mediaType: i.top.descriptor.mediaType,
        platformDigests: i.platformDigests,
        size: i.size,
        target: relativeTarget(i.job.ref),
      };
    }),
    // The manifests issue fills in which images each file uses.
    manifests: manifests.map((m) => ({ path: m.path, images: [] })),
    blobs: { count, bytes },
    base: null,
  };
}
