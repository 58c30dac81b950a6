/**
 * The one copy engine: resolve each image, walk index → manifests → config + layers, move every
 * distinct blob once through ONE limiter, verify every byte on the way, report progress as events.
 * It knows nothing of HTTP, tar or Docker: sources and sinks are {@link ReadOnlyTarget}s and {@link Target}s.
 */
import { pipeline, Readable } from "node:stream";
import pLimit, { type LimitFunction } from "p-limit";
import { priorityLimit, type PriorityLimit } from "../util/priority-limit.js";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { digestOf, VerifyingStream } from "../oci/verify.js";
import { Mounts } from "./mounts.js";
import { isLocalStore, walkGraph, type ResolvedImage } from "./graph.js";
import type { CopyPolicy } from "./policy.js";
import { canMount, type CopyJob, type ManifestData, type Opener, type Sink } from "./target.js";

/** Default number of blob transfers at once (measured: see the save benchmark in README). */
export const DEFAULT_CONCURRENCY = 8;
/** Manifest and config requests at once (small, latency-bound). */
export const DEFAULT_METADATA_CONCURRENCY = 16;

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
  /** What the use case asks of the walk and the copy (content/policy.ts names one per use case). */
  policy: CopyPolicy;
  /** Blob transfers at once (one limiter for the whole run). */
  concurrency?: number;
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
    const { policy, signal } = this.options;
    if (policy.skipPresentImages && job.tagAs?.tag !== undefined && job.sink.headManifest) {
      const answer = job.sink.headManifest(job.tagAs.tag, signal);
      answer.catch(() => undefined);
      this.tagAnswers.set(job, answer);
    }
    try {
      const image = await walkGraph(job, policy, {
        limit: this.metaLimit,
        ...(signal && { signal }),
        ...(isLocalStore(job.sink) && { cache: job.sink }),
        onTop: (top) => this.emit({ type: "image-resolved", label: job.label, digest: top.descriptor.digest, mediaType: top.descriptor.mediaType }),
      });
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
      const present = this.options.policy.skipPresentImages ? await this.presentAs(image, job) : "absent";
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
      this.blobLimit(this.options.policy.order === "largest-first" ? d.size : 0, async () => {
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
            const verifier = new VerifyingStream(d, `fetching ${job.source.name} blob ${d.digest}`, onBytes, this.options.policy.proof === "size");
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
