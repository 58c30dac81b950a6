/**
 * Lays a tar out before any byte is written: where each entry's header and data go. With every
 * blob's size known after resolving, blobs can then be written straight to their place, in any order.
 */
import type { Descriptor } from "../oci/descriptor.js";
import { END_OF_ARCHIVE, padding, tarHeader } from "../util/tar-header.js";

/** An entry to place: a directory, a small file with its content, or a blob written later. */
export type PlanInput =
  | { name: string; type: "directory" }
  | { name: string; type: "file"; content: Buffer }
  | { name: string; type: "file"; blob: Descriptor };

/** A placed entry. */
export interface PlannedEntry {
  name: string;
  header: Buffer;
  headerOffset: number;
  dataOffset: number;
  size: number;
  content?: Buffer;
  blob?: Descriptor;
}

/** A whole tar, laid out. */
export interface TarPlan {
  entries: PlannedEntry[];
  /** Offset of the end-of-archive blocks. */
  endOffset: number;
  /** Total size of the tar. */
  size: number;
}

/** Places entries one after the other (headers, data, padding) and the end-of-archive blocks. */
export function planTar(inputs: readonly PlanInput[], mtime: number): TarPlan {
  const entries: PlannedEntry[] = [];
  let offset = 0;
  for (const input of inputs) {
    const size = input.type === "directory" ? 0 : "content" in input ? input.content.length : input.blob.size;
    const header = tarHeader({ name: input.name, size, type: input.type, mtime, mode: input.type === "directory" ? 0o755 : 0o644 });
    const entry: PlannedEntry = { name: input.name, header, headerOffset: offset, dataOffset: offset + header.length, size };
    if (input.type === "file" && "content" in input) entry.content = input.content;
    if (input.type === "file" && "blob" in input) entry.blob = input.blob;
    entries.push(entry);
    offset = entry.dataOffset + size + padding(size);
  }
  return { entries, endOffset: offset, size: offset + END_OF_ARCHIVE.length };
}
