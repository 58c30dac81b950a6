/**
 * Plain-text tables for results: columns padded to their widest cell, the last column left ragged.
 */

/** Formats a header and rows as aligned columns separated by two spaces. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  // A loop, not Math.max(...cells): a spread of 120k cells overflows the call stack (a diff of every tag).
  const widths = header.map((h) => h.length);
  for (const r of rows) r.forEach((cell, c) => (widths[c] = Math.max(widths[c] ?? 0, cell.length)));
  return [header, ...rows].map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ")).join("\n");
}
