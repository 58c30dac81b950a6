/**
 * Checksum files in coreutils `sha256sum` format (`<hex>  <path>`), so users can check bundles with
 * `sha256sum -c` alone: the `.sha256` sidecar beside the tar and `SHA256SUMS` inside it.
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";

/** A finished file of a bundle: where it is, its size and sha256 (hex). */
export interface WrittenFile {
  path: string;
  size: number;
  sha256: string;
}

/** One line of a sha256sum file. */
export interface ChecksumLine {
  sha256: string;
  path: string;
}

/** Formats lines as `sha256sum` does (two spaces: text mode). */
export function formatChecksums(lines: readonly ChecksumLine[]): string {
  return lines.map((l) => `${l.sha256}  ${l.path}\n`).join("");
}

/** Marks the comment that records the whole tar's checksum in a split bundle's sidecar. */
export const WHOLE_COMMENT = "# whole";

/**
 * The `.sha256` sidecar: the tar's line; for a split bundle one line per part plus a comment with the
 * concatenation's checksum (a comment, so that plain `sha256sum -c` checks the parts that exist).
 */
export function sidecarText(files: readonly WrittenFile[], whole: { sha256: string }, tarPath: string, split: boolean): string {
  const lines = formatChecksums(files.map((f) => ({ sha256: f.sha256, path: basename(f.path) })));
  if (!split) return lines;
  return `${lines}${WHOLE_COMMENT} ${whole.sha256}  ${basename(tarPath)}\n`;
}

/** Parses sha256sum text; comment lines are skipped, the split-bundle "whole" comment is returned apart. */
export function parseChecksums(text: string): { lines: ChecksumLine[]; whole?: ChecksumLine; bad: number[] } {
  const lines: ChecksumLine[] = [];
  const bad: number[] = [];
  let whole: ChecksumLine | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    if (line.startsWith(WHOLE_COMMENT)) {
      const m = /^# whole ([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (m) whole = { sha256: m[1]!, path: m[2]! };
      return;
    }
    if (line.startsWith("#")) return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) lines.push({ sha256: m[1]!, path: m[2]! });
    else bad.push(i + 1);
  });
  return { lines, ...(whole && { whole }), bad };
}

/**
 * One digest over named small files (the bundle's own entries but its blobs): a verified stamp records it, so a
 * bundle changed in place with its size and modification time kept is caught where it matters.
 */
export function entriesDigest(files: ReadonlyArray<{ name: string; content: Buffer }>): string {
  const hash = createHash("sha256");
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    hash.update(`${f.name}\0${createHash("sha256").update(f.content).digest("hex")}\n`);
  }
  return hash.digest("hex");
}
