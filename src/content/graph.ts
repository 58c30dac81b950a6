/**
 * An image's graph as the copy engine reads it: the top manifest, the selected children, the configs and layers,
 * each distinct descriptor once.
 */
import type { Descriptor } from "../oci/descriptor.js";
import type { CopyJob, ManifestData } from "./target.js";

/** An image whose graph is known: manifests (and single-platform configs) read, blobs listed, nothing copied yet. */
export interface ResolvedImage {
  job: CopyJob;
  top: ManifestData;
  /** Child manifests of an index (empty for a single manifest), bytes as they were. */
  children: ManifestData[];
  /** Index entries left out because the source lacks them (with presentChildrenOnly). */
  absentChildren: Descriptor[];
  /** Configs and layers to copy; `bytes` is set for configs already read (to check a platform). */
  contents: Array<{ descriptor: Descriptor; bytes?: Buffer }>;
  platformDigests: Record<string, string>;
  /** Every descriptor of the selected graph (top, child manifests, configs, layers), each once. */
  blobs: Descriptor[];
  size: number;
}

/** A resolved image with its distinct descriptors listed and summed. */
export function graph(job: CopyJob, top: ManifestData, children: ManifestData[], absentChildren: Descriptor[], contents: ResolvedImage["contents"], platformDigests: Record<string, string>): ResolvedImage {
  const blobs = new Map<string, Descriptor>([[top.descriptor.digest, top.descriptor]]);
  for (const child of children) blobs.set(child.descriptor.digest, child.descriptor);
  for (const c of contents) blobs.set(c.descriptor.digest, c.descriptor);
  const all = [...blobs.values()];
  return { job, top, children, absentChildren, contents, platformDigests, blobs: all, size: all.reduce((n, d) => n + d.size, 0) };
}
