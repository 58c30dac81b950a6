/**
 * `bundle save` as a function: registry → download cache (the copy engine) → one bundle tar.
 * Every image is attempted; if any fails, all failures are reported together and no bundle is written.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { CopyEngine, type CopyEvent, type CopyJob, type FailedImage, type ResolvedImage } from "../content/copy.js";
import { preferLocal } from "../content/prefer.js";
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
import { assertCanWrite, BundleWriter, recoverUnfinished, type ManifestFileInput, type WrittenBundle } from "./writer.js";

/** Events of a save: the copy engine's, plus phases and bundle-writing progress. */
export type SaveEvent =
  | CopyEvent
  | { type: "phase"; phase: "download"; images?: number; bytes?: number };

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
function failuresError(imagelist: Imagelist, failures: FailedImage[], lineOf: Map<string, number>, total: number): AirgapError {
  const failed = failures
    .map((f) => ({ line: lineOf.get(f.job.label) ?? 0, error: f.error }))
    .sort((a, b) => a.line - b.line);
  const problems: Problem[] = failed.map((f) => ({ file: imagelist.file, line: f.line, reason: f.error.message }));
  // The failures' own hints first (e.g. --ca-file, log in), each once.
  const hints = [...new Set(failed.map((f) => f.error.hint).filter((h): h is string => h !== undefined))];
  hints.push("rerun when fixed: images already downloaded are kept in the cache");
  return new AirgapError("IMAGES_FAILED", `${failed.length} of ${total} images failed; no bundle was written`, { problems, hint: hints.join("; ") });
}

/** Resolves every image, then writes each blob straight into the bundle (from the cache when it is there). */
export async function saveBundle(options: SaveOptions): Promise<SaveResult> {
  const started = Date.now();
  checkNameVersion(options.name, options.version);
  await assertCanWrite(options.outDir, options.name, options.version, options.force ?? false);
  const manifests = await readManifestFiles(options.manifestsDir ?? "manifests", options.manifestsRequired ?? false);
  const layout = await OciLayout.open(options.cacheDir);
  // Blobs that a killed run had already written into its unfinished bundle go to the cache first.
  await recoverUnfinished(options.outDir, options.name, options.version, layout);
  const entries = options.imagelist.entries;
  const lineOf = new Map(entries.map((e) => [e.normalized, e.line]));
  const signal = options.signal;

  options.onEvent?.({ type: "phase", phase: "download", images: entries.length });
  const engine = new CopyEngine({
    platforms: options.platforms,
    checkConfigPlatform: true,
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(signal && { signal }),
    ...(options.onEvent && { onEvent: options.onEvent }),
  });
  const jobs: CopyJob[] = entries.map((e) => ({
    label: e.normalized,
    ref: e.ref,
    source: new RegistryRepository(options.registries.host(e.ref.domain), e.ref.path, options.retry),
    sink: layout,
  }));
  const resolved = await Promise.all(jobs.map((job) => engine.resolve(job)));
  const ok = resolved.filter((r): r is ResolvedImage => !("error" in r));
  const failed = resolved.filter((r): r is FailedImage => "error" in r);
  const aborted = () => new AirgapError("ABORTED", "save cancelled; rerun to resume: what was downloaded is in the cache");

  if (failed.length > 0) {
    // No bundle this time: fetch the others into the cache, so a rerun after the fix is fast.
    const more = await Promise.all(ok.map((r) => engine.transfer(r)));
    if (signal?.aborted) throw aborted();
    throw failuresError(options.imagelist, [...failed, ...more.filter((r): r is FailedImage => "error" in r)], lineOf, entries.length);
  }
  if (signal?.aborted) throw aborted();

  const blobs = new Map<string, Descriptor>();
  for (const image of ok) for (const d of image.blobs) if (!blobs.has(d.digest)) blobs.set(d.digest, d);
  const uniqueBytes = [...blobs.values()].reduce((n, d) => n + d.size, 0);
  const totalBytes = ok.reduce((n, i) => n + i.size, 0);
  const json = bundleJson(options, ok, lineOf, manifests, blobs.size, uniqueBytes);

  const writer = await BundleWriter.open({
    outDir: options.outDir,
    contents: {
      bundle: json,
      index: ok.map((i) => ({ descriptor: i.top.descriptor, ref: i.job.label })),
      blobs: [...blobs.values()],
      manifests,
      imagelistText: `${entries.map((e) => e.normalized).join("\n")}\n`,
    },
    ...(options.force !== undefined && { force: options.force }),
    ...(options.splitSize !== undefined && { splitSize: options.splitSize }),
  });
  let bundle: WrittenBundle;
  try {
    const results = await Promise.all(ok.map((r) => engine.transfer(r, { ...r.job, source: preferLocal(layout, r.job.source), sink: writer.sink })));
    if (signal?.aborted) throw aborted();
    const transferFailed = results.filter((r): r is FailedImage => "error" in r);
    if (transferFailed.length > 0) {
      // A write failure (a full disk) is the story, not the list of images it broke.
      const io = transferFailed.find((f) => f.error.code === "DISK_FULL" || f.error.code === "IO");
      throw io ? io.error : failuresError(options.imagelist, transferFailed, lineOf, entries.length);
    }
    bundle = await writer.finish();
  } catch (err) {
    await writer.abort(layout);
    throw err;
  }
  return {
    bundle,
    json,
    images: ok.length,
    uniqueBlobs: blobs.size,
    uniqueBytes,
    dedupSavedBytes: totalBytes - uniqueBytes,
    seconds: (Date.now() - started) / 1000,
  };
}

function bundleJson(
  options: SaveOptions,
  images: ResolvedImage[],
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
