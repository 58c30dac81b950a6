/**
 * A sink that keeps nothing: it reads every blob it is given to its end, so the copy engine's verifying stream
 * hashes it, and records each one that could not be read whole and right — every one, not only the first. A copy
 * into it is a deep check of the source (`bundle verify --deep`).
 */
import type { Opener, Sink } from "./target.js";
import type { Descriptor } from "../oci/descriptor.js";

/** A blob that failed its check, with why. */
export interface CheckFailure {
  descriptor: Descriptor;
  error: Error;
}

/** Reads and forgets. */
export class CheckSink implements Sink {
  readonly name = "check";
  /** Every blob read (checked or failed), by digest. */
  readonly checked = new Set<string>();
  readonly failures: CheckFailure[] = [];

  exists(d: Descriptor): Promise<boolean> {
    return Promise.resolve(this.checked.has(d.digest));
  }

  async push(d: Descriptor, open: Opener): Promise<void> {
    if (this.checked.has(d.digest)) return;
    this.checked.add(d.digest);
    try {
      for await (const chunk of await open()) void chunk;
    } catch (err) {
      this.failures.push({ descriptor: d, error: err as Error });
    }
  }

  tag(): Promise<void> {
    return Promise.resolve();
  }
}
