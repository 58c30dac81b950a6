/**
 * A sink that also says it holds blobs known to be elsewhere already (what a closed site holds: a delta's base):
 * the copy engine then neither fetches nor writes them.
 */
import type { Sink } from "./target.js";

/** `sink`, holding `held` as well. */
export function holdingAlso(sink: Sink, held: ReadonlySet<string>): Sink {
  if (held.size === 0) return sink;
  return {
    name: sink.name,
    exists: async (d, signal) => held.has(d.digest) || sink.exists(d, signal),
    push: (d, open, signal) => sink.push(d, open, signal),
    tag: (d, ref, signal) => sink.tag(d, ref, signal),
  };
}
