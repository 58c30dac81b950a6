/**
 * The one copy engine: resolve each image, walk index → manifests → config + layers, move every
 * distinct blob once through ONE limiter, verify every byte on the way, report progress as events.
 * It knows nothing of HTTP, tar or Docker: sources and sinks are {@link ReadOnlyTarget}s and {@link Target}s.
 */
import { Readable } from "node:stream";
import pLimit, { type LimitFunction } from "p-limit";
import { AirgapError } from "../errors.js";
import { isParsedIndex, parseManifest, type Descriptor, type ImageManifest, MAX_MANIFEST_BYTES } from "../oci/descriptor.js";
import { isImageConfig, isIndex, isManifest } from "../oci/media-types.js";
import { formatPlatform, platformMatches, type Platform } from "../oci/platform.js";
import { digestOf, VerifyingStream } from "../oci/verify.js";
import type { Reference } from "../reference/reference.js";
import type { ManifestData, ReadOnlyTarget, Target } from "./target.js";

/** Default number of blob transfers at once (measured: see the save benchmark in README). */
export const DEFAULT_CONCURRENCY = 8;
/** Manifest and config requests at once (small, latency-bound). */
export const DEFAULT_METADATA_CONCURRENCY = 16;
/** Largest image config we read into memory (a remote decides a descriptor's size, so cap it). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** One image to copy. */
export interface CopyJob {
  /** Names the image in events and errors (usually the normalised source reference). */
  label: string;
  /** What to resolve at the source. */
  ref: Reference;
  source: ReadOnlyTarget;
  sink: Target;
  /** Tag to set in the sink after everything is there (none: the sink is not tagged). */
  tagAs?: Reference;
}

/** Progress events, rendered by the CLI (bars, plain lines or JSON). */
export type CopyEvent =
  | { type: "image-resolved"; label: string; digest: string; mediaType: string }
  | { type: "blob-start"; digest: string; size: number }
  | { type: "blob-bytes"; bytes: number }
  | { type: "blob-done"; digest: string; size: number; how: "copied" | "present" }
  | { type: "image-done"; label: string; digest: string; size: number; blobs: number }
  | { type: "image-failed"; label: string; error: AirgapError };

/** Options for {@link copyImages}. */
export interface CopyOptions {
  /** Blob transfers at once (one limiter for the whole run). */
  concurrency?: number;
  /** Platforms to keep from an index, or "all". */
  platforms: Platform[] | "all";
  /** Read single-platform images' configs and refuse those of another platform. */
  checkConfigPlatform?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: CopyEvent) => void;
}

/** What was copied for one image. */
export interface CopiedImage {
  job: CopyJob;
  /** The top manifest (index or image manifest), bytes as they were. */
  top: ManifestData;
  /** Selected platform → the image manifest digest chosen for it. */
  platformDigests: Record<string, string>;
  /** Every descriptor of the selected graph (top, child manifests, configs, layers), each once. */
  blobs: Descriptor[];
  /** Sum of the sizes of `blobs`. */
  size: number;
}

/** An image that could not be copied, with the reason. */
export interface FailedImage {
  job: CopyJob;
  error: AirgapError;
}

/** A sink that can resolve a digest locally (a cache): lets a rerun skip the network for pinned images. */
export interface LocalManifestSource {
  readManifestByDigest(digest: string): Promise<ManifestData | undefined>;
}

function hasLocalManifests(t: unknown): t is LocalManifestSource {
  return typeof (t as Partial<LocalManifestSource>).readManifestByDigest === "function";
}

function asAirgapError(err: unknown, label: string): AirgapError {
  if (err instanceof AirgapError) return err;
  return new AirgapError("REGISTRY", `${label}: ${(err as Error).message ?? String(err)}`, { cause: err });
}

/** Copies images from their sources to their sinks. Failures do not stop the other images. */
export async function copyImages(jobs: readonly CopyJob[], options: CopyOptions): Promise<{ copied: CopiedImage[]; failed: FailedImage[] }> {
  const engine = new CopyEngine(options);
  const results = await Promise.all(jobs.map((job) => engine.copyImage(job)));
  return {
    copied: results.filter((r): r is CopiedImage => "top" in r),
    failed: results.filter((r): r is FailedImage => "error" in r),
  };
}

class CopyEngine {
  private readonly blobLimit: LimitFunction;
  private readonly metaLimit: LimitFunction;
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly options: CopyOptions) {
    this.blobLimit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.metaLimit = pLimit(DEFAULT_METADATA_CONCURRENCY);
  }

  private emit(event: CopyEvent): void {
    this.options.onEvent?.(event);
  }

  async copyImage(job: CopyJob): Promise<CopiedImage | FailedImage> {
    try {
      const result = await this.copyGraph(job);
      this.emit({ type: "image-done", label: job.label, digest: result.top.descriptor.digest, size: result.size, blobs: result.blobs.length });
      return result;
    } catch (err) {
      const error = asAirgapError(err, job.label);
      this.emit({ type: "image-failed", label: job.label, error });
      return { job, error };
    }
  }

  private async resolveTop(job: CopyJob): Promise<ManifestData> {
    const signal = this.options.signal;
    if (job.ref.digest && hasLocalManifests(job.sink)) {
      const local = await job.sink.readManifestByDigest(job.ref.digest);
      if (local) return local;
    }
    const top = await this.metaLimit(() => job.source.resolve(job.ref, signal));
    if (job.ref.digest && top.descriptor.digest !== job.ref.digest) {
      throw new AirgapError("DIGEST_MISMATCH", `${job.label}: resolved to ${top.descriptor.digest}, not the pinned digest`);
    }
    return top;
  }

  private async readManifest(job: CopyJob, d: Descriptor): Promise<Buffer> {
    const signal = this.options.signal;
    if (await job.sink.exists(d, signal)) return job.sink.fetchBytes(d, MAX_MANIFEST_BYTES, signal);
    return this.metaLimit(() => job.source.fetchBytes(d, MAX_MANIFEST_BYTES, signal));
  }

  private async copyGraph(job: CopyJob): Promise<CopiedImage> {
    const top = await this.resolveTop(job);
    this.emit({ type: "image-resolved", label: job.label, digest: top.descriptor.digest, mediaType: top.descriptor.mediaType });
    const parsed = parseManifest(top.bytes, top.descriptor.mediaType, job.label);
    const blobs = new Map<string, Descriptor>([[top.descriptor.digest, top.descriptor]]);
    const platformDigests: Record<string, string> = {};

    const children: Array<{ descriptor: Descriptor; bytes: Buffer; manifest: ImageManifest; platform?: string }> = [];
    if (isParsedIndex(parsed)) {
      for (const { child, platform } of this.selectChildren(job, parsed.manifests)) {
        const bytes = await this.readManifest(job, child);
        const manifest = parseManifest(bytes, child.mediaType, `${job.label} (${platform ?? child.digest})`);
        if (isParsedIndex(manifest)) throw new AirgapError("UNSUPPORTED", `${job.label}: nested indexes are not supported (${child.digest})`);
        children.push({ descriptor: child, bytes, manifest, ...(platform && { platform }) });
        if (platform) platformDigests[platform] = child.digest;
      }
    } else {
      children.push({ descriptor: top.descriptor, bytes: top.bytes, manifest: parsed });
    }

    await Promise.all(
      children.map(async (child) => {
        const platform = await this.copyConfig(job, child.manifest.config, !isParsedIndex(parsed));
        if (platform && !child.platform) platformDigests[platform] = child.descriptor.digest;
        await Promise.all(child.manifest.layers.map((layer) => this.copyBlob(job, layer)));
        for (const d of [child.manifest.config, ...child.manifest.layers]) blobs.set(d.digest, d);
        blobs.set(child.descriptor.digest, child.descriptor);
      }),
    );
    // Children before their index, so a registry never sees an index pointing at nothing.
    if (isParsedIndex(parsed)) for (const child of children) await this.pushBytes(job, child.descriptor, child.bytes);
    await this.pushBytes(job, top.descriptor, top.bytes);
    if (job.tagAs) await job.sink.tag(top.descriptor, job.tagAs, this.options.signal);

    const all = [...blobs.values()];
    return { job, top, platformDigests, blobs: all, size: all.reduce((n, d) => n + d.size, 0) };
  }

  /** The index entries to keep: one per requested platform, or every image manifest with "all". */
  private selectChildren(job: CopyJob, entries: Descriptor[]): Array<{ child: Descriptor; platform?: string }> {
    const images = entries.filter((e) => isManifest(e.mediaType) || isIndex(e.mediaType));
    if (this.options.platforms === "all") {
      return images.map((child) => ({ child, ...(child.platform && { platform: formatPlatform(child.platform) }) }));
    }
    const chosen: Array<{ child: Descriptor; platform: string }> = [];
    const missing: string[] = [];
    for (const wanted of this.options.platforms) {
      const child = images.find((e) => platformMatches(wanted, e.platform));
      if (child) chosen.push({ child, platform: formatPlatform(wanted) });
      else missing.push(formatPlatform(wanted));
    }
    if (missing.length > 0) {
      const has = images.map((e) => (e.platform ? formatPlatform(e.platform) : "unknown")).filter((p) => p !== "unknown/unknown");
      throw new AirgapError("PLATFORM_NOT_FOUND", `${job.label}: no ${missing.join(", ")} image; the index has ${has.join(", ") || "no platforms"}`, {
        hint: "choose platforms with --platform, or take every one with --all-platforms",
      });
    }
    return chosen;
  }

  /** Copies the config. For a single-platform image, reads it to learn (and check) the platform. */
  private async copyConfig(job: CopyJob, config: Descriptor, single: boolean): Promise<string | undefined> {
    if (!single || !isImageConfig(config.mediaType)) {
      await this.copyBlob(job, config);
      return undefined;
    }
    const signal = this.options.signal;
    const bytes = (await job.sink.exists(config, signal))
      ? await job.sink.fetchBytes(config, MAX_CONFIG_BYTES, signal)
      : await this.metaLimit(() => job.source.fetchBytes(config, MAX_CONFIG_BYTES, signal));
    let platform: Platform | undefined;
    try {
      const json = JSON.parse(bytes.toString("utf8")) as { os?: string; architecture?: string; variant?: string };
      if (json.os && json.architecture) platform = { os: json.os, architecture: json.architecture, ...(json.variant && { variant: json.variant }) };
    } catch {
      throw new AirgapError("INVALID_MANIFEST", `${job.label}: the image config ${config.digest} is not JSON`);
    }
    const wanted = this.options.platforms;
    if (this.options.checkConfigPlatform && platform && wanted !== "all" && !wanted.some((w) => platformMatches(w, platform))) {
      throw new AirgapError("PLATFORM_NOT_FOUND", `${job.label}: the image is ${formatPlatform(platform)} only, not ${wanted.map(formatPlatform).join(", ")}`, {
        hint: "add its platform with --platform, or use --all-platforms",
      });
    }
    await this.pushBytes(job, config, bytes);
    return platform ? formatPlatform(platform) : undefined;
  }

  private async pushBytes(job: CopyJob, d: Descriptor, bytes: Buffer): Promise<void> {
    if (digestOf(bytes, d.digest) !== d.digest) throw new AirgapError("DIGEST_MISMATCH", `${job.label}: ${d.digest} does not match its bytes`);
    await this.once(job, d, async () => {
      if (await job.sink.exists(d, this.options.signal)) return;
      await job.sink.push(d, async () => Readable.from([bytes]), this.options.signal);
    });
  }

  /** Copies one blob through the limiter, once per sink however many images share it. */
  private copyBlob(job: CopyJob, d: Descriptor): Promise<void> {
    return this.once(job, d, () =>
      this.blobLimit(async () => {
        const signal = this.options.signal;
        if (signal?.aborted) throw new AirgapError("ABORTED", `${job.label}: cancelled`);
        if (await job.sink.exists(d, signal)) {
          this.emit({ type: "blob-done", digest: d.digest, size: d.size, how: "present" });
          return;
        }
        this.emit({ type: "blob-start", digest: d.digest, size: d.size });
        let counted = 0;
        const onBytes = (n: number) => {
          counted += n;
          this.emit({ type: "blob-bytes", bytes: n });
        };
        await job.sink.push(
          d,
          async () => {
            if (counted > 0) this.emit({ type: "blob-bytes", bytes: -counted });
            counted = 0;
            const raw = await job.source.fetch(d, signal);
            const verifier = new VerifyingStream(d, `fetching ${job.source.name} blob ${d.digest}`, onBytes);
            raw.on("error", (err) => verifier.destroy(err));
            return raw.pipe(verifier);
          },
          signal,
        );
        this.emit({ type: "blob-done", digest: d.digest, size: d.size, how: "copied" });
      }),
    );
  }

  private once(job: CopyJob, d: Descriptor, work: () => Promise<void>): Promise<void> {
    const key = `${job.sink.name}|${d.digest}`;
    let promise = this.inFlight.get(key);
    if (!promise) {
      promise = work();
      this.inFlight.set(key, promise);
    }
    return promise;
  }
}
