/**
 * The narrow roles every place images live implements (registry repository, OCI layout, bundle,
 * Docker daemon), so one copy engine serves every command.
 */
import type { Readable } from "node:stream";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";

/** A manifest (or index) with its exact bytes: they are never re-serialised. */
export interface ManifestData {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** Re-openable source of a blob's bytes: called again for each retry (a consumed stream cannot be re-read). */
export type Opener = () => Promise<Readable>;

/** Somewhere images can be read from. */
export interface ReadOnlyTarget {
  /** Names the place in messages and keys, e.g. `gcr.io/kubeflow-images-public/tf_operator`. */
  readonly name: string;
  /** Resolves a reference to its top manifest (index or image manifest), digest-checked. */
  resolve(ref: Reference, signal?: AbortSignal): Promise<ManifestData>;
  /** Reads a small blob (manifest, config) into memory, at most `maxBytes`, checked against `d`. */
  fetchBytes(d: Descriptor, maxBytes: number, signal?: AbortSignal): Promise<Buffer>;
  /** Streams a blob's bytes; the caller verifies them. */
  fetch(d: Descriptor, signal?: AbortSignal): Promise<Readable>;
  /** True when the blob or manifest is present. */
  exists(d: Descriptor, signal?: AbortSignal): Promise<boolean>;
  /** The digest a tag or digest resolves to, by HEAD (where the place has it: a registry counts no pull for it). */
  headManifest?(reference: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** Somewhere images can be written to: what the copy engine copies into. */
export interface Sink {
  /** Names the place in messages and keys. */
  readonly name: string;
  /** True when the blob or manifest is present. */
  exists(d: Descriptor, signal?: AbortSignal): Promise<boolean>;
  /** Stores a blob or manifest; `open` yields bytes already verified against `d` by the caller. "mounted" when no byte had to move. */
  push(d: Descriptor, open: Opener, signal?: AbortSignal): Promise<void | "mounted">;
  /** Points a reference (tag) at a stored manifest. */
  tag(d: Descriptor, ref: Reference, signal?: AbortSignal): Promise<void>;
  /** The digest a tag or digest resolves to here, undefined when absent (one round trip, where the sink has it). */
  headManifest?(reference: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** Somewhere images can be read from and written to (a registry repository, the layout cache). */
export interface Target extends ReadOnlyTarget, Sink {}

/**
 * A sink that can take a blob from another sink of the same store without moving its bytes (a registry's
 * cross-repository mount). The copy engine decides what to mount from: it knows every sink of the run.
 */
export interface Mounter extends Sink {
  /** Sinks that can mount from one another share this (a registry host). */
  readonly mountDomain: string;
  /** How another sink of the domain names this one in a mount (a repository path). */
  readonly mountName: string;
  /**
   * Puts the blob here from the sink named `from`: "mounted" when no byte had to move; when the store will
   * not mount, it stores the bytes of `open` instead.
   */
  mount(d: Descriptor, from: string, open: Opener, signal?: AbortSignal): Promise<void | "mounted">;
}

/** Whether the sink can mount (see {@link Mounter}). */
export function canMount(sink: Sink): sink is Mounter {
  return typeof (sink as Partial<Mounter>).mount === "function" && typeof (sink as Partial<Mounter>).mountDomain === "string";
}

/** A source that can stream a blob from a byte offset on (a registry, with `Range`): what resumes a download. */
export interface RangeFetcher extends ReadOnlyTarget {
  /** Streams the blob's bytes from `offset` to its end. */
  fetchFrom(d: Descriptor, offset: number, signal?: AbortSignal): Promise<Readable>;
}

/** Whether the source can stream from an offset (see {@link RangeFetcher}). */
export function canFetchFrom(source: ReadOnlyTarget): source is RangeFetcher {
  return typeof (source as Partial<RangeFetcher>).fetchFrom === "function";
}

/**
 * A store that keeps the first bytes of a blob whose download was interrupted (the layout cache): unverified
 * until the rest arrives and the whole is checked against the digest.
 */
export interface PartialStore {
  /** How many first bytes of the blob are kept (0: none). */
  partialSize(d: Descriptor): Promise<number>;
  /** Streams the kept first bytes. */
  openPartial(d: Descriptor): Readable;
  /** Forgets them (the blob is complete, or they were wrong). */
  dropPartial(d: Descriptor): Promise<void>;
}

/** One image to read: what a graph walk needs (content/graph.ts). */
export interface SourceJob {
  /** Names the image in events and errors (usually the normalised source reference). */
  label: string;
  /** What to resolve at the source. */
  ref: Reference;
  source: ReadOnlyTarget;
}

/** One image to copy. */
export interface CopyJob extends SourceJob {
  sink: Sink;
  /** Tag to set in the sink after everything is there (none: the sink is not tagged). */
  tagAs?: Reference;
}
