/**
 * Plain-text tables for results: columns padded to their widest cell, the last column left ragged. On a terminal
 * (or with COLUMNS set) the table fits its width: the widest columns give way first, and a cell too long for its
 * column keeps its start and its end (`127.0.0.1:5000/…/team/app:1`), so the tag and the host both stay in view.
 * Piped output is never shortened: scripts read whole names.
 */

/** The width tables must fit: the terminal's (80 to 120 columns of it), COLUMNS when set, else none. */
export function tableWidth(): number | undefined {
  const columns = process.stdout.isTTY ? process.stdout.columns : Number(process.env.COLUMNS) || undefined;
  return columns === undefined ? undefined : Math.min(120, Math.max(80, columns));
}

/** How a table fits: the width (default {@link tableWidth}) and the columns that may give way (default: all). */
export interface TableFit {
  width?: number;
  shrink?: readonly number[];
}

/** Formats a header and rows as aligned columns separated by two spaces, within the width when there is one. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, options: TableFit = {}): string {
  // An explicit `width: undefined` means none (piped output), not the default.
  const maxWidth = "width" in options ? options.width : tableWidth();
  // A loop, not Math.max(...cells): a spread of 120k cells overflows the call stack (a diff of every tag).
  const widths = header.map((h) => h.length);
  for (const r of rows) r.forEach((cell, c) => (widths[c] = Math.max(widths[c] ?? 0, cell.length)));
  if (maxWidth !== undefined) fit(widths, header, maxWidth, options.shrink ?? header.map((_, c) => c));
  return [header, ...rows].map((r) => r.map((cell, c) => {
    const fitted = shorten(cell, widths[c]!);
    return c === r.length - 1 ? fitted : fitted.padEnd(widths[c]!);
  }).join("  ")).join("\n");
}

/** Narrows the widest of the `shrink` columns until the table fits `maxWidth`, none below its header or 10 columns. */
function fit(widths: number[], header: readonly string[], maxWidth: number, shrink: readonly number[]): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  for (let over = total() - maxWidth; over > 0; over = total() - maxWidth) {
    const floor = (c: number) => Math.max(header[c]!.length, 10);
    const widest = shrink.map((c) => ({ c, room: widths[c]! - floor(c) })).filter((x) => x.room > 0).sort((a, b) => widths[b.c]! - widths[a.c]!)[0];
    if (!widest) return;
    const second = Math.max(0, ...shrink.filter((c) => c !== widest.c).map((c) => widths[c]!));
    widths[widest.c] = Math.max(floor(widest.c), widths[widest.c]! - Math.max(1, Math.min(over, widths[widest.c]! - second)));
  }
}

/** `cell` in at most `width` characters: its start, `…`, its end. */
function shorten(cell: string, width: number): string {
  if (cell.length <= width) return cell;
  const keep = width - 1;
  const head = Math.ceil(keep / 2);
  return `${cell.slice(0, head)}…${cell.slice(cell.length - (keep - head))}`;
}
