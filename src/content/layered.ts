/**
 * Several places read as one: images resolve in the first, and each blob is read from the first place that holds
 * it. A delta bundle is read this way at load: the delta, then older bundles given with --base, then the
 * repositories of the target registry that hold what the delta left out.
 */
import type { Readable } from "node:stream";
import type { ManifestData, ReadOnlyTarget } from "./target.js";
import type { Descriptor } from "../oci/descriptor.js";
import type { Reference } from "../reference/reference.js";

/** The first place that holds each blob. */
export class LayeredSource implements ReadOnlyTarget {
  readonly name: string;

  constructor(private readonly layers: readonly ReadOnlyTarget[]) {
    this.name = layers[0]!.name;
  }

  resolve(ref: Reference, signal?: AbortSignal): Promise<ManifestData> {
    return this.layers[0]!.resolve(ref, signal);
  }

  private async holder(d: Descriptor, signal?: AbortSignal): Promise<ReadOnlyTarget> {
    for (const layer of this.layers) if (await layer.exists(d, signal)) return layer;
    // None holds it: the first one says so in its own words.
    return this.layers[0]!;
  }

  async fetchBytes(d: Descriptor, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    return (await this.holder(d, signal)).fetchBytes(d, maxBytes, signal);
  }

  async fetch(d: Descriptor, signal?: AbortSignal): Promise<Readable> {
    return (await this.holder(d, signal)).fetch(d, signal);
  }

  async exists(d: Descriptor, signal?: AbortSignal): Promise<boolean> {
    for (const layer of this.layers) if (await layer.exists(d, signal)) return true;
    return false;
  }
}
