/**
 * What the copy engine knows of the sinks that mount (a registry's repositories): per store and blob, which
 * sink holds it (pushed, mounted or found there this run), which sinks the run will put it into, and the
 * upload running now. A push to a sink that mounts waits for a running upload of the same blob to its store,
 * then mounts from a sink known (or, failing that, planned) to hold it: the same bytes are never uploaded
 * twice to one registry.
 */
import type { Descriptor } from "../oci/descriptor.js";
import type { Mounter, Opener } from "./target.js";

/** Run-scoped mount bookkeeping; keys are `mountDomain|digest`. */
export class Mounts {
  private readonly homes = new Map<string, string>();
  private readonly plans = new Map<string, string[]>();
  private readonly uploads = new Map<string, Promise<unknown>>();

  /** The run will put `digest` into `sink` (a rerun may find it there from an interrupted run). */
  plan(sink: Mounter, digest: string): void {
    const key = `${sink.mountDomain}|${digest}`;
    const list = this.plans.get(key) ?? [];
    if (!list.includes(sink.mountName)) list.push(sink.mountName);
    this.plans.set(key, list);
  }

  /** `sink` holds `digest`: others of its store may mount it from there. */
  holds(sink: Mounter, digest: string): void {
    this.holdsAt(sink.mountDomain, sink.mountName, digest);
  }

  /** The sink named `name` in store `domain` holds `digest` (known from elsewhere: a delta's base). */
  holdsAt(domain: string, name: string, digest: string): void {
    const key = `${domain}|${digest}`;
    if (!this.homes.has(key)) this.homes.set(key, name);
  }

  /** Stores a blob in `sink`: mounted from another sink of its store where one has it, else uploaded. */
  async push(sink: Mounter, d: Descriptor, open: Opener, signal?: AbortSignal): Promise<void | "mounted"> {
    const key = `${sink.mountDomain}|${d.digest}`;
    const running = this.uploads.get(key);
    if (running) await running.catch(() => undefined);
    const from = this.sourceFor(sink, key);
    const work = from === undefined ? sink.push(d, open, signal) : sink.mount(d, from, open, signal);
    this.uploads.set(key, work);
    try {
      const how = await work;
      this.holds(sink, d.digest);
      return how;
    } finally {
      if (this.uploads.get(key) === work) this.uploads.delete(key);
    }
  }

  /**
   * Another sink of the store known to hold the blob; failing that, one this run will fill, which may hold it
   * from an earlier, interrupted run (if not, the store opens an upload session instead, at no extra request).
   */
  private sourceFor(sink: Mounter, key: string): string | undefined {
    const home = this.homes.get(key);
    if (home !== undefined && home !== sink.mountName) return home;
    return this.plans.get(key)?.find((r) => r !== sink.mountName);
  }
}
