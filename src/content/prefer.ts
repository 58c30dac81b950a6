/**
 * A source that reads blobs from a local store when it has them (the download cache) and from the
 * original source otherwise: a rerun fetches nothing already verified. When the store kept the first bytes of
 * an interrupted download and the source can stream from an offset, the blob is those bytes and then the rest
 * (`Range`); the whole is verified against its digest by the caller as for any fetch.
 */
import { Readable } from "node:stream";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";
import { canFetchFrom, type ManifestData, type PartialStore, type ReadOnlyTarget } from "./target.js";

/** What a resumed download reports: the blob and the bytes it did not fetch again. */
export type ResumeNotice = (d: Descriptor, from: number) => void;

/** Reads from `local` when it has the blob, else from `remote` (resuming a kept start); resolves references at `remote`. */
export function preferLocal(local: ReadOnlyTarget & Partial<PartialStore>, remote: ReadOnlyTarget, onResume?: ResumeNotice): ReadOnlyTarget {
  const fetchRemote = async (d: Descriptor, signal?: AbortSignal): Promise<Readable> => {
    const kept = local.partialSize && canFetchFrom(remote) ? await local.partialSize(d) : 0;
    if (kept === 0 || !canFetchFrom(remote)) return remote.fetch(d, signal);
    onResume?.(d, kept);
    return resumed(local as PartialStore, d, () => remote.fetchFrom(d, kept, signal));
  };
  return {
    name: remote.name,
    resolve: (ref: Reference, signal?: AbortSignal): Promise<ManifestData> => remote.resolve(ref, signal),
    exists: async (d: Descriptor, signal?: AbortSignal) => (await local.exists(d, signal)) || remote.exists(d, signal),
    fetchBytes: async (d: Descriptor, max: number, signal?: AbortSignal) =>
      (await local.exists(d, signal)) ? local.fetchBytes(d, max, signal) : remote.fetchBytes(d, max, signal),
    fetch: async (d: Descriptor, signal?: AbortSignal): Promise<Readable> =>
      (await local.exists(d, signal)) ? local.fetch(d, signal) : fetchRemote(d, signal),
  };
}

/**
 * The kept first bytes, then the rest, asked for only once they are read. The kept bytes are forgotten once the
 * whole went through (verified and stored, or refused by the digest check: then the next run starts afresh); a
 * broken connection keeps them.
 */
function resumed(store: PartialStore, d: Descriptor, rest: () => Promise<Readable>): Readable {
  const whole = Readable.from((async function* () {
    yield* store.openPartial(d);
    yield* await rest();
  })(), { objectMode: false, highWaterMark: 1 << 20 });
  whole.once("end", () => void store.dropPartial(d));
  return whole;
}
