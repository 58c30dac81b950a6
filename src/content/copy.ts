/**
 * The one copy engine: resolve each image, walk index → manifests → config + layers, move every
 * distinct blob once through ONE limiter, verify every byte on the way, report progress as events.
 * It knows nothing of HTTP, tar or Docker: sources and sinks are {@link ReadOnlyTarget}s and {@link Target}s.
 */
import { pipeline, Readable } from "node:stream";
import pLimit, { type LimitFunction } from "p-limit";
import { priorityLimit, type PriorityLimit } from "../util/priority-limit.js";
import { AirgapError } from "../errors.js";
import { isParsedIndex, parseManifest, type Descriptor, type ImageManifest, MAX_MANIFEST_BYTES } from "../oci/descriptor.js";
import { isImageConfig, isIndex, isManifest } from "../oci/media-types.js";
import { formatPlatform, platformMatches, type Platform } from "../oci/platform.js";
import { digestOf, VerifyingStream } from "../oci/verify.js";
import { Mounts } from "./mounts.js";
import { graph, type ResolvedImage } from "./graph.js";
import { canMount, type CopyJob, type ManifestData, type Opener, type ReadOnlyTarget, type Sink } from "./target.js";

/** Default number of blob transfers at once (measured: see the save benchmark in README). */
export const DEFAULT_CONCURRENCY = 8;
/** Manifest and config requests at once (small, latency-bound). */
export const DEFAULT_METADATA_CONCURRENCY = 16;
/** Largest image config we read into memory (a remote decides a descriptor's size, so cap it). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export type { CopyJob };

/** An image whose graph is known (content/graph.ts). */
export type { ResolvedImage };

/** Progress events, rendered by the CLI (bars, plain lines or JSON). */
export type CopyEvent =
  | { type: "image-resolved"; label: string; digest: string; mediaType: string }
  | { type: "blob-start"; digest: string; size: number }
  | { type: "blob-bytes"; bytes: number }
  | { type: "blob-done"; label: string; digest: string; size: number; how: "copied" | "present" | "mounted" }
  | { type: "image-done"; label: string; digest: string; size: number; blobs: number; /** The sink had it all already. */ present?: boolean }
  | { type: "image-failed"; label: string; error: AirgapError };

/** Options for {@link CopyEngine}. */
export interface CopyOptions {
  /** Blob transfers at once (one limiter for the whole run). */
  concurrency?: number;
  /**
   * Start the largest waiting blob first (else first come, first served). A bundle lays its blobs out in
   * the same order, so they finish close to the order its checksum reads them in.
   */
  largestFirst?: boolean;
  /** Platforms to keep from an index, or "all". */
  platforms: Platform[] | "all";
  /** Read single-platform images' configs and refuse those of another platform. */
  checkConfigPlatform?: boolean;
  /** Read single-platform images' configs while resolving, to learn their platform (default true). */
  readConfigs?: boolean;
  /**
   * An index becomes one image manifest (what a Docker engine or a single-image archive takes): the only
   * entry selected, else the one for `platform` (always that one when `exact`). Use with platforms "all".
   */
  onePlatform?: { platform: Platform; exact: boolean };
  /** Take only the index entries the source has (a bundle holds the platforms chosen at save). */
  presentChildrenOnly?: boolean;
  /** Skip an image whose top manifest the sink already has (a registry holds a manifest only with all it references). */
  skipPresentImages?: boolean;
  /**
   * The source's bytes were just proved by a checksum over all of them (a bundle's .sha256): blobs are
   * checked for size only, not hashed a second time. The sink must check digests itself (a registry does).
   */
  sourceVerified?: boolean;
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
  /** The sink answered, during this copy, that it already held the image (and its tag, when it has one). */
  foundInPlace?: boolean;
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

/** A sink that is also a local store to read from (the layout cache), spared a network read. */
function hasLocalManifests(t: Sink): t is Sink & LocalManifestSource & ReadOnlyTarget {
  return typeof (t as Partial<LocalManifestSource>).readManifestByDigest === "function" && typeof (t as Partial<ReadOnlyTarget>).fetchBytes === "function";
}

/**
 * An error that is not ours yet, with the image it concerns: a file-system error (`ENOSPC`, `EACCES`…) is IO, and
 * anything else INTERNAL — never REGISTRY, which names a registry's answer (the registry client words its own).
 */
function asAirgapError(err: unknown, label: string): AirgapError {
  if (err instanceof AirgapError) return err;
  const errno = (err as NodeJS.ErrnoException).code;
  const io = typeof errno === "string" && /^E[A-Z]+$/.test(errno);
  return new AirgapError(io ? "IO" : "INTERNAL", `${label}: ${(err as Error).message ?? String(err)}`, { cause: err });
}

/**
 * The engine, in two steps that callers may separate: `resolve` reads each image's graph (small
 * manifests and configs, through a metadata limiter), `transfer` moves its blobs (one blob limiter,
 * once per sink whatever the number of images sharing them), then its manifests, then the tag.
 */
export class CopyEngine {
  private readonly blobLimit: PriorityLimit;
  private readonly metaLimit: LimitFunction;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly mounts = new Mounts();
  /** Per job: the sink's answer for its tag, asked while the graph is read. */
  private readonly tagAnswers = new Map<CopyJob, Promise<string | undefined>>();

  constructor(private readonly options: CopyOptions) {
    this.blobLimit = priorityLimit(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.metaLimit = pLimit(DEFAULT_METADATA_CONCURRENCY);
  }

  /** Tells the engine that the sink named `name` of store `domain` holds `digest`: others may mount it from there. */
  heldAt(domain: string, name: string, digest: string): void {
    this.mounts.holdsAt(domain, name, digest);
  }

  private emit(event: CopyEvent): void {
    this.options.onEvent?.(event);
  }

  private fail(job: CopyJob, err: unknown): FailedImage {
    const error = asAirgapError(err, job.label);
    this.emit({ type: "image-failed", label: job.label, error });
    return { job, error };
  }

  /** Reads an image's graph and selects its platforms. */
  async resolve(job: CopyJob): Promise<ResolvedImage | FailedImage> {
    // Whether the tag is in place already is asked while the graph is read.
    if (this.options.skipPresentImages && job.tagAs?.tag !== undefined && job.sink.headManifest) {
      const answer = job.sink.headManifest(job.tagAs.tag, this.options.signal);
      answer.catch(() => undefined);
      this.tagAnswers.set(job, answer);
    }
    try {
      const image = await this.resolveGraph(job);
      if (canMount(job.sink)) for (const c of image.contents) this.mounts.plan(job.sink, c.descriptor.digest);
      return image;
    } catch (err) {
      this.tagAnswers.delete(job);
      return this.fail(job, err);
    }
  }

  /** Copies a resolved image into `job.sink` (or another job's source/sink when given). */
  async transfer(image: ResolvedImage, job: CopyJob = image.job): Promise<CopiedImage | FailedImage> {
    try {
      const present = this.options.skipPresentImages ? await this.presentAs(image, job) : "absent";
      if (present !== "absent") {
        // A registry accepts a manifest only when everything it references (children, config, layers) is there.
        for (const c of image.contents) this.emit({ type: "blob-done", label: job.label, digest: c.descriptor.digest, size: c.descriptor.size, how: "present" });
      } else {
        await Promise.all(image.contents.map((c) => (c.bytes ? this.pushBytes(job, c.descriptor, c.bytes, true) : this.copyBlob(job, c.descriptor))));
        // Children before their index, so a registry never sees an index pointing at nothing.
        for (const child of image.children) await this.pushBytes(job, child.descriptor, child.bytes);
        await this.pushBytes(job, image.top.descriptor, image.top.bytes);
      }
      if (job.tagAs && present !== "tagged") await job.sink.tag(image.top.descriptor, job.tagAs, this.options.signal);
      this.emit({ type: "image-done", label: job.label, digest: image.top.descriptor.digest, size: image.size, blobs: image.blobs.length, ...(present !== "absent" && { present: true }) });
      return {
        job, top: image.top, platformDigests: image.platformDigests, blobs: image.blobs, size: image.size,
        ...((present === "tagged" || (present === "present" && !job.tagAs)) && { foundInPlace: true }),
      };
    } catch (err) {
      return this.fail(job, err);
    }
  }

  /** Whether the sink holds the image already: "tagged" when its tag names it too (one HEAD answers both). */
  private async presentAs(image: ResolvedImage, job: CopyJob): Promise<"tagged" | "present" | "absent"> {
    const signal = this.options.signal;
    const digest = image.top.descriptor.digest;
    const early = this.tagAnswers.get(job);
    this.tagAnswers.delete(job);
    if (job.tagAs?.tag !== undefined && job.sink.headManifest && (await (early ?? job.sink.headManifest(job.tagAs.tag, signal))) === digest) return "tagged";
    return (await job.sink.exists(image.top.descriptor, signal)) ? "present" : "absent";
  }

  private async resolveTop(job: CopyJob): Promise<ManifestData> {
    const signal = this.options.signal;
    if (job.ref.digest && hasLocalManifests(job.sink)) {
      const local = await job.sink.readManifestByDigest(job.ref.digest);
      if (local) return local;
    }
    // A tag: HEAD before GET where the cache may spare the GET (a registry like Docker Hub counts each manifest GET
    // as a pull, not a HEAD: a rerun after a failure then pulls nothing it pulled before).
    if (!job.ref.digest && job.ref.tag !== undefined && hasLocalManifests(job.sink) && job.source.headManifest) {
      const digest = await this.metaLimit(() => job.source.headManifest!(job.ref.tag!, signal)).catch(() => undefined);
      const local = digest === undefined ? undefined : await job.sink.readManifestByDigest(digest);
      if (local) return local;
    }
    const top = await this.metaLimit(() => job.source.resolve(job.ref, signal));
    if (job.ref.digest && top.descriptor.digest !== job.ref.digest) {
      throw new AirgapError("DIGEST_MISMATCH", `${job.label}: resolved to ${top.descriptor.digest}, not the pinned digest`);
    }
    return top;
  }

  private async readSmall(job: CopyJob, d: Descriptor, max: number): Promise<Buffer> {
    const signal = this.options.signal;
    // A local cache as the sink spares a network read; a remote sink never beats the source.
    if (hasLocalManifests(job.sink) && (await job.sink.exists(d, signal))) return job.sink.fetchBytes(d, max, signal);
    return this.metaLimit(() => job.source.fetchBytes(d, max, signal));
  }

  private async resolveGraph(job: CopyJob): Promise<ResolvedImage> {
    const top = await this.resolveTop(job);
    this.emit({ type: "image-resolved", label: job.label, digest: top.descriptor.digest, mediaType: top.descriptor.mediaType });
    const parsed = parseManifest(top.bytes, top.descriptor.mediaType, job.label);
    const platformDigests: Record<string, string> = {};
    const children: ManifestData[] = [];
    const manifests: ImageManifest[] = [];
    const absentChildren: Descriptor[] = [];
    if (isParsedIndex(parsed)) {
      for (const { child, platform } of this.selectChildren(job, parsed.manifests)) {
        if (this.options.presentChildrenOnly && !(await job.source.exists(child, this.options.signal))) {
          absentChildren.push(child);
          continue;
        }
        const bytes = await this.readSmall(job, child, MAX_MANIFEST_BYTES);
        const manifest = parseManifest(bytes, child.mediaType, `${job.label} (${platform ?? child.digest})`);
        if (isParsedIndex(manifest)) throw new AirgapError("UNSUPPORTED", `${job.label}: nested indexes are not supported (${child.digest})`);
        children.push({ descriptor: child, bytes });
        manifests.push(manifest);
        if (platform) platformDigests[platform] = child.digest;
      }
    } else {
      manifests.push(parsed);
    }
    if (isParsedIndex(parsed) && this.options.onePlatform) return this.resolveOne(job, children, manifests, platformDigests);
    const contents: ResolvedImage["contents"] = [];
    if (!isParsedIndex(parsed)) {
      const config = (parsed as ImageManifest).config;
      const checked = await this.checkConfig(job, config);
      if (checked.platform) platformDigests[checked.platform] = top.descriptor.digest;
      contents.push(checked.bytes ? { descriptor: config, bytes: checked.bytes } : { descriptor: config });
    } else {
      for (const m of manifests) contents.push({ descriptor: m.config });
    }
    for (const m of manifests) for (const layer of m.layers) contents.push({ descriptor: layer });
    return graph(job, top, children, absentChildren, contents, platformDigests);
  }

  /** The index's selected entry for {@link CopyOptions.onePlatform}, as an image of its own. */
  private resolveOne(job: CopyJob, children: ManifestData[], manifests: ImageManifest[], platformDigests: Record<string, string>): ResolvedImage {
    const { platform: wanted, exact } = this.options.onePlatform!;
    const byDigest = new Map(Object.entries(platformDigests).map(([p, d]) => [d, p]));
    const i = children.length === 1 && !exact ? 0 : children.findIndex((c) => c.descriptor.platform && platformMatches(wanted, c.descriptor.platform));
    if (i < 0) {
      const has = [...byDigest.values()].join(", ") || "none";
      throw new AirgapError("PLATFORM_NOT_FOUND", `${job.label}: no ${formatPlatform(wanted)} image here (it has: ${has})`, { hint: "choose one with --platform" });
    }
    const top = children[i]!;
    const platform = byDigest.get(top.descriptor.digest);
    const contents = [{ descriptor: manifests[i]!.config }, ...manifests[i]!.layers.map((descriptor) => ({ descriptor }))];
    return graph(job, top, [], [], contents, platform ? { [platform]: top.descriptor.digest } : {});
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

  /** Reads a single-platform image's config to learn (and check) its platform; other configs are left alone. */
  private async checkConfig(job: CopyJob, config: Descriptor): Promise<{ platform?: string; bytes?: Buffer }> {
    if (!isImageConfig(config.mediaType) || this.options.readConfigs === false) return {};
    const bytes = await this.readSmall(job, config, MAX_CONFIG_BYTES);
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
    return { bytes, ...(platform && { platform: formatPlatform(platform) }) };
  }

  /**
   * Stores bytes read already (a manifest; a config read to check its platform). A config is one of the image's
   * blobs like its layers: `counted` reports it as they are (copied or present), so counts add up.
   */
  private async pushBytes(job: CopyJob, d: Descriptor, bytes: Buffer, counted = false): Promise<void> {
    if (digestOf(bytes, d.digest) !== d.digest) throw new AirgapError("DIGEST_MISMATCH", `${job.label}: ${d.digest} does not match its bytes`);
    await this.once(job, d, async () => {
      if (await job.sink.exists(d, this.options.signal)) {
        if (counted) this.emit({ type: "blob-done", label: job.label, digest: d.digest, size: d.size, how: "present" });
        return;
      }
      await job.sink.push(d, async () => Readable.from([bytes]), this.options.signal);
      // Done without a start: nothing was fetched or waited for (the bytes were in memory), and the starts are
      // the order the limiter hands out transfers in.
      if (counted) this.emit({ type: "blob-done", label: job.label, digest: d.digest, size: d.size, how: "copied" });
    });
  }

  /** Copies one blob through the limiter, once per sink however many images share it. */
  private copyBlob(job: CopyJob, d: Descriptor): Promise<void> {
    return this.once(job, d, () =>
      this.blobLimit(this.options.largestFirst ? d.size : 0, async () => {
        const signal = this.options.signal;
        if (signal?.aborted) throw new AirgapError("ABORTED", `${job.label}: cancelled`);
        if (await job.sink.exists(d, signal)) {
          if (canMount(job.sink)) this.mounts.holds(job.sink, d.digest);
          this.emit({ type: "blob-done", label: job.label, digest: d.digest, size: d.size, how: "present" });
          return;
        }
        this.emit({ type: "blob-start", digest: d.digest, size: d.size });
        let counted = 0;
        const onBytes = (n: number) => {
          counted += n;
          this.emit({ type: "blob-bytes", bytes: n });
        };
        const how = await this.push(
          job.sink,
          d,
          async () => {
            if (counted > 0) this.emit({ type: "blob-bytes", bytes: -counted });
            counted = 0;
            const raw = await job.source.fetch(d, signal);
            const verifier = new VerifyingStream(d, `fetching ${job.source.name} blob ${d.digest}`, onBytes, this.options.sourceVerified === true);
            // pipeline, not pipe: when the consumer gives up (a full disk), the download is closed too.
            return pipeline(raw, verifier, () => undefined) as VerifyingStream;
          },
          signal,
        );
        if (how === "mounted") this.emit({ type: "blob-bytes", bytes: d.size });
        this.emit({ type: "blob-done", label: job.label, digest: d.digest, size: d.size, how: how === "mounted" ? "mounted" : "copied" });
      }),
    );
  }

  /** Stores a blob in the sink; a sink that mounts is fed by {@link Mounts}. */
  private push(sink: Sink, d: Descriptor, open: Opener, signal?: AbortSignal): Promise<void | "mounted"> {
    return canMount(sink) ? this.mounts.push(sink, d, open, signal) : sink.push(d, open, signal);
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
