/**
 * A source that reads blobs from a local store when it has them (the download cache) and from the
 * original source otherwise: a rerun fetches nothing already verified.
 */
import type { Readable } from "node:stream";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";
import type { ManifestData, ReadOnlyTarget } from "./target.js";

/** Reads from `local` when it has the blob, else from `remote`; resolves references at `remote`. */
export function preferLocal(local: ReadOnlyTarget, remote: ReadOnlyTarget): ReadOnlyTarget {
  return {
    name: remote.name,
    resolve: (ref: Reference, signal?: AbortSignal): Promise<ManifestData> => remote.resolve(ref, signal),
    exists: async (d: Descriptor, signal?: AbortSignal) => (await local.exists(d, signal)) || remote.exists(d, signal),
    fetchBytes: async (d: Descriptor, max: number, signal?: AbortSignal) =>
      (await local.exists(d, signal)) ? local.fetchBytes(d, max, signal) : remote.fetchBytes(d, max, signal),
    fetch: async (d: Descriptor, signal?: AbortSignal): Promise<Readable> =>
      (await local.exists(d, signal)) ? local.fetch(d, signal) : remote.fetch(d, signal),
  };
}
