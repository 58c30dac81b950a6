/**
 * The one mapping from an offset of the logical tar to the file that holds it: a bundle is one file or numbered
 * parts whose concatenation is the tar. The writer, the reader, the tar index and the hash worker all use it.
 */

/** The bytes of the tar one file holds. */
export interface PartSpan {
  /** Offset in the tar of the file's first byte. */
  start: number;
  size: number;
}

/** Where tar offset `at` lies: which part, the position in it, and how many of `length` bytes stay in that part. */
export interface Located {
  index: number;
  position: number;
  length: number;
}

/** Locates tar offset `at` (undefined past the end), for a read or write of at most `length` bytes from there. */
export function locate(parts: readonly PartSpan[], at: number, length: number): Located | undefined {
  // Parts are few (a split bundle of 4 GB parts) and contiguous: a linear scan is what a reader would write.
  for (let index = 0; index < parts.length; index++) {
    const p = parts[index]!;
    if (at >= p.start && at < p.start + p.size) return { index, position: at - p.start, length: Math.min(length, p.start + p.size - at) };
  }
  return undefined;
}
