/**
 * An image read through its mirrors (mirrors.ts): the candidates are asked in order, and the first that answers
 * serves the whole image — its manifests and blobs come from one place, as containers/image reads them. A
 * candidate that fails (down, refusing, lacking the image) passes the question to the next; one that answers with
 * bytes that do not match their digest stops the image (a mirror that lies is refused, never skipped). The image
 * keeps its own name: only `servedBy` says where it was read.
 */
import type { Readable } from "node:stream";
import type { ManifestData, RangeFetcher } from "../content/target.js";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";
import type { Candidate, MirrorTable } from "./mirrors.js";
import type { Registries } from "./registries.js";
import { RegistryRepository } from "./repository.js";

/** A candidate made a repository to ask. */
export interface MirrorCandidate extends Candidate {
  repository: RegistryRepository;
}

/** Errors that end the image instead of passing to the next candidate. */
function final(err: unknown): boolean {
  return err instanceof AirgapError && (err.code === "DIGEST_MISMATCH" || err.code === "SIZE_MISMATCH" || err.code === "ABORTED");
}

/** The image's source through its candidates. */
export class MirroredSource implements RangeFetcher {
  private chosen?: MirrorCandidate;

  /**
   * `onFallThrough(candidate, reason)`: a candidate failed and the next is asked. With no candidate, `unusable`
   * says why (a blocked registry, mirrors only and none for it): the image fails with it, the others go on.
   */
  constructor(
    readonly name: string,
    private readonly candidates: readonly MirrorCandidate[],
    private readonly onFallThrough: (candidate: MirrorCandidate, reason: string) => void,
    private readonly unusable?: AirgapError,
  ) {}

  /** The hosts it may ask. */
  get hosts(): string[] {
    return this.candidates.map((c) => c.host);
  }

  /** The repository that served the image (`host/path`), once one has. */
  get servedBy(): string | undefined {
    return this.chosen?.repository.name;
  }

  /** The repository that served the image, once one has (where its signatures and attestations are). */
  get servingRepository(): RegistryRepository | undefined {
    return this.chosen?.repository;
  }

  /**
   * Runs `ask` on the candidate that served the image, or — before one has — on each in order until one answers
   * (`found` says whether an answer counts: a HEAD that finds nothing passes on).
   */
  private async first<T>(ask: (c: MirrorCandidate) => Promise<T>, found: (answer: T) => boolean = () => true): Promise<T> {
    if (this.chosen) return ask(this.chosen);
    if (this.candidates.length === 0) throw this.unusable ?? new AirgapError("INVALID_ARGUMENT", `${this.name}: no mirror may serve it and --mirror-only leaves out its registry`);
    const tried: string[] = [];
    let last: unknown;
    for (const c of this.candidates) {
      try {
        const answer = await ask(c);
        if (found(answer)) {
          this.chosen = c;
          return answer;
        }
        tried.push(`${c.repository.name}: not there`);
      } catch (err) {
        if (final(err)) throw err;
        last = err;
        const reason = (err as Error).message;
        tried.push(`${c.repository.name}: ${reason}`);
        if (c !== this.candidates[this.candidates.length - 1]) this.onFallThrough(c, reason);
      }
    }
    if (last instanceof AirgapError && tried.length === 1) throw last;
    const code = last instanceof AirgapError ? last.code : "NOT_FOUND";
    throw new AirgapError(code, `${this.name}: not served by any of its ${tried.length} places (${tried.join("; ")})`, { cause: last });
  }

  resolve(ref: Reference, signal?: AbortSignal): Promise<ManifestData> {
    return this.first((c) => c.repository.resolve({ ...ref, domain: c.host, path: c.path }, signal));
  }

  async headManifest(reference: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.first((c) => c.repository.headManifest(reference, signal), (digest) => digest !== undefined).catch((err: unknown) => {
      if (final(err)) throw err;
      return undefined;
    });
  }

  fetchBytes(d: Descriptor, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    return this.first((c) => c.repository.fetchBytes(d, maxBytes, signal));
  }

  fetch(d: Descriptor, signal?: AbortSignal): Promise<Readable> {
    return this.first((c) => c.repository.fetch(d, signal));
  }

  fetchFrom(d: Descriptor, offset: number, signal?: AbortSignal): Promise<Readable> {
    return this.first((c) => c.repository.fetchFrom(d, offset, signal));
  }

  exists(d: Descriptor, signal?: AbortSignal): Promise<boolean> {
    return this.first((c) => c.repository.exists(d, signal), (held) => held).catch((err: unknown) => {
      if (final(err)) throw err;
      return false;
    });
  }
}

/**
 * Each image's source for a save: its registry's repository where no mirror applies, else the places to ask in
 * order. A place that fails is said once per host (`notice`), with the image it failed for.
 */
export class MirrorSources {
  private readonly said = new Set<string>();

  constructor(
    private readonly table: MirrorTable | undefined,
    private readonly registries: Registries,
    private readonly notice: (message: string) => void,
  ) {}

  /** The source of the image `ref`, named `label` in messages. */
  source(ref: Reference, label: string): RegistryRepository | MirroredSource {
    const repository = (host: string, path: string) => new RegistryRepository(this.registries.host(host), path);
    if (!this.table || this.table.empty) return repository(ref.domain, ref.path);
    let candidates: Candidate[];
    try {
      candidates = this.table.candidates(ref);
    } catch (err) {
      if (!(err instanceof AirgapError)) throw err;
      return new MirroredSource(label, [], () => undefined, err);
    }
    const only = candidates.length === 1 ? candidates[0]! : undefined;
    if (only && !only.mirror && only.host === ref.domain && only.path === ref.path) return repository(only.host, only.path);
    return new MirroredSource(label, candidates.map((c) => ({ ...c, repository: repository(c.host, c.path) })), (c, reason) => {
      if (this.said.has(c.host)) return;
      this.said.add(c.host);
      this.notice(`${c.mirror ? "mirror" : "registry"} ${c.host} did not serve ${label} (${reason}); asking the next place (said once per host)`);
    });
  }
}

/** Where an image read through a mirror was served from (`host/path`); undefined when its own registry served it. */
export function servedByMirror(source: unknown, ref: Reference): string | undefined {
  if (!(source instanceof MirroredSource)) return undefined;
  const served = source.servedBy;
  return served === `${ref.domain}/${ref.path}` ? undefined : served;
}
