/**
 * POSIX tar (ustar) headers, with a pax extended header when a name or size does not fit ustar.
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13
 */

/** Size of a tar block. */
export const BLOCK = 512;
/** Largest size the 11 octal digits of a ustar header hold (8 GiB − 1). */
const MAX_OCTAL_SIZE = 0o77777777777;

/** What a header describes. */
export interface TarHeaderInput {
  name: string;
  size: number;
  type: "file" | "directory";
  /** Modification time, seconds since the epoch. */
  mtime: number;
  mode: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function ustar(name: string, prefix: string, size: number, typeflag: string, mtime: number, mode: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(Math.min(size, MAX_OCTAL_SIZE), 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(typeflag, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

/** Splits a long name into ustar's prefix (≤155 bytes) and name (≤100 bytes) at a slash, if possible. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: "", name };
  for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== "") return { prefix, name: rest };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (Buffer.byteLength(`${length}${body}`) !== length) length = Buffer.byteLength(`${length}${body}`);
  return `${length}${body}`;
}

/** The header block(s) of an entry: 512 bytes, or a pax header + its records + the ustar header. */
export function tarHeader(entry: TarHeaderInput): Buffer {
  const typeflag = entry.type === "directory" ? "5" : "0";
  const split = splitName(entry.name);
  const records: string[] = [];
  if (!split) records.push(paxRecord("path", entry.name));
  if (entry.size > MAX_OCTAL_SIZE) records.push(paxRecord("size", String(entry.size)));
  const main = ustar(split?.name ?? entry.name.slice(-100), split?.prefix ?? "", entry.size, typeflag, entry.mtime, entry.mode);
  if (records.length === 0) return main;
  const data = Buffer.from(records.join(""));
  const pax = ustar("PaxHeader", "", data.length, "x", entry.mtime, 0o644);
  return Buffer.concat([pax, data, Buffer.alloc(padding(data.length)), main]);
}

/** Zero bytes after `size` bytes of data up to the next block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end of an archive: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
