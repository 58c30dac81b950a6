/**
 * Indexes a bundle tar by walking its headers — no extraction, no full read — so that any entry can
 * then be read by byte range. Split parts are read in place as one logical file. Unsafe or unexpected
 * entries (absolute paths, `..`, links, devices, duplicates, names outside the format) are refused.
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13
 */
import { readSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { notABundle } from "./not-a-bundle.js";
import { AirgapError, type Problem } from "../errors.js";
import { BLOCK, padding } from "../util/tar-header.js";
import { locate } from "./parts.js";
import { partFileName, wholeTarName } from "./format.js";

/** One file of the logical tar and the bytes of it it holds. */
export interface TarPart {
  path: string;
  start: number;
  size: number;
}

/** An entry of the tar. */
export interface TarEntry {
  name: string;
  type: "file" | "directory";
  /** Offset of the entry's data in the logical tar. */
  offset: number;
  size: number;
}

/** Names allowed in a bundle (DESIGN.md, format v1). */
const ALLOWED = /^(bundle\.json|oci-layout|index\.json|imagelist|SHA256SUMS|blobs\/|blobs\/sha256\/|blobs\/sha256\/[0-9a-f]{64}|manifests\/.*|charts\/.*)$/;

/** The files that make up a bundle given as `NAME.tar`, `NAME.tar.001` or the base name of split parts. */
export async function bundleParts(path: string): Promise<TarPart[]> {
  const base = wholeTarName(path);
  if (await stat(path).then((s) => s.isDirectory(), () => false)) {
    throw new AirgapError("NOT_A_BUNDLE", `${path} is a folder, not a bundle`, { hint: "give a NAME-VERSION.tar in it (bundle save writes them to --out, default bundles/)" });
  }
  const isFile = async (p: string) => stat(p).then((s) => (s.isFile() ? s.size : undefined), () => undefined);
  if (base === path) {
    const size = await isFile(path);
    if (size !== undefined) return [{ path, start: 0, size }];
  }
  const parts: TarPart[] = [];
  let start = 0;
  for (let n = 1; ; n++) {
    const p = partFileName(base, n);
    const size = await isFile(p);
    if (size === undefined) break;
    parts.push({ path: p, start, size });
    start += size;
  }
  if (parts.length === 0) throw new AirgapError("FILE_NOT_FOUND", `bundle not found: ${path}`, { hint: "give the .tar file, or the first part (.tar.001) of a split bundle" });
  return parts;
}

/** Random access to the logical tar across its parts. */
export class TarFile {
  private constructor(
    readonly parts: TarPart[],
    private readonly handles: FileHandle[],
  ) {}

  /** Opens every part. */
  static async open(parts: TarPart[]): Promise<TarFile> {
    const handles: FileHandle[] = [];
    try {
      for (const p of parts) handles.push(await open(p.path, "r"));
    } catch (err) {
      await Promise.all(handles.map((h) => h.close()));
      throw new AirgapError("IO", `cannot open ${(err as NodeJS.ErrnoException).path ?? parts[0]?.path}: ${(err as NodeJS.ErrnoException).code}`);
    }
    return new TarFile(parts, handles);
  }

  /** Total size. */
  get size(): number {
    const last = this.parts.at(-1);
    return last ? last.start + last.size : 0;
  }

  /** Reads up to `length` bytes at `offset` (fewer at the end). */
  async read(offset: number, length: number): Promise<Buffer> {
    // Not zero-filled first (a load reads the whole bundle through here); only what was read is returned.
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset)));
    return out.subarray(0, await this.readInto(out, offset));
  }

  /** Reads into `out` from `offset` (fewer bytes at the end); returns how many were read. */
  async readInto(out: Buffer, offset: number): Promise<number> {
    const length = Math.max(0, Math.min(out.length, this.size - offset));
    let got = 0;
    for (let piece = this.piece(offset, length, 0); piece; piece = this.piece(offset, length, got)) {
      const { bytesRead } = await piece.handle.read(out, got, piece.length, piece.position);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  /**
   * Reads like {@link read}, synchronously: for the header walk, hundreds of 512-byte reads one after the
   * other, each a round trip through the thread pool when asynchronous (~25 ms of opening a bundle; ~1 ms so).
   */
  readSync(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset)));
    let got = 0;
    for (let piece = this.piece(offset, out.length, 0); piece; piece = this.piece(offset, out.length, got)) {
      const bytesRead = readSync(piece.handle.fd, out, got, piece.length, piece.position);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return out.subarray(0, got);
  }

  /** Where the next read of a range goes once `got` of its `length` bytes are in: which part, where in it, how much. */
  private piece(offset: number, length: number, got: number): { handle: FileHandle; position: number; length: number } | undefined {
    if (got >= length) return undefined;
    const where = locate(this.parts, offset + got, length - got);
    return where && { handle: this.handles[where.index]!, position: where.position, length: where.length };
  }

  /** Streams `length` bytes from `offset`, in chunks of up to 1 MiB. */
  async *range(offset: number, length: number, chunk = 1 << 20): AsyncGenerator<Buffer> {
    for (let done = 0; done < length; ) {
      const buf = await this.read(offset + done, Math.min(chunk, length - done));
      if (buf.length === 0) throw new AirgapError("IO", `unexpected end of the bundle at byte ${offset + done}`);
      done += buf.length;
      yield buf;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close().catch(() => undefined)));
  }
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end >= start && end < start + length ? end : start + length);
}

/** A header's numeric field: octal digits (NaN when it holds anything else), or base-256 for sizes over 8 GiB. */
function octalNumber(buf: Buffer, start: number, length: number): number {
  // Base-256 (a set high bit) for sizes over 8 GiB, as GNU tar writes them.
  if ((buf[start]! & 0x80) !== 0) {
    let n = buf[start]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + buf[start + i]!;
    return n;
  }
  const text = cString(buf, start, length).trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum === octalNumber(header, 148, 8);
}

/**
 * Parses pax records (`<length> <key>=<value>\n`, the length counting the whole record). A record whose
 * length is not a whole number that lands on its own newline inside the data is refused: a length that
 * does not move forward (`0`, `1e-300`) would otherwise loop for ever.
 */
function parsePax(data: Buffer, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave after the last record
    const space = data.indexOf(0x20, at);
    const digits = space < 0 ? "" : data.toString("ascii", at, space);
    const length = /^[1-9][0-9]{0,7}$/.test(digits) ? Number(digits) : NaN;
    if (!(length > space - at + 1) || at + length > data.length || data[at + length - 1] !== 0x0a) {
      throw new AirgapError("INVALID_BUNDLE", `${where}: a malformed pax record at byte ${at} of the extended header`, { hint: BUNDLE_DAMAGED_HINT });
    }
    const record = data.toString("utf8", space + 1, at + length - 1);
    const eq = record.indexOf("=");
    if (eq <= 0) throw new AirgapError("INVALID_BUNDLE", `${where}: a pax record without a key at byte ${at} of the extended header`, { hint: BUNDLE_DAMAGED_HINT });
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}

const BUNDLE_DAMAGED_HINT = "the bundle is damaged or was not written by bundle save: copy it again and check it with sha256sum -c";

/** A size from a header or a pax `size` record: a whole number of bytes, or an error naming where. */
function entrySize(value: number | string, where: string): number {
  const n = typeof value === "number" ? value : /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new AirgapError("INVALID_BUNDLE", `${where}: the entry's size is not a number of bytes (${String(value).slice(0, 40)})`, { hint: BUNDLE_DAMAGED_HINT });
  return n;
}

/** Why a name may not be in a bundle, or undefined. */
function unsafeName(name: string): string | undefined {
  if (name.startsWith("/")) return "absolute path";
  if (name.split("/").includes("..")) return "path with ..";
  if (!ALLOWED.test(name)) return "not a name a bundle holds";
  return undefined;
}

/** Largest pax or GNU long-name header read. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

/** Walks the headers of a tar and returns its entries; refuses what a bundle may not hold. */
export async function indexTar(tar: TarFile, label: string): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const problems: Problem[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  for (;;) {
    const header = tar.readSync(offset, BLOCK);
    if (offset === 0 && (header.length < BLOCK || !checksumOk(header))) throw notABundle(label, header);
    if (header.length < BLOCK) {
      if (header.length === 0 && offset > 0) break;
      throw new AirgapError("INVALID_BUNDLE", `${label}: truncated: the tar ends inside a header at byte ${offset}`, { hint: "the file is incomplete: copy it again and check it with sha256sum -c" });
    }
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) {
      if (offset === 0) throw new AirgapError("NOT_A_BUNDLE", `${label}: not a tar file (no tar header at its start)`, { hint: "give the NAME-VERSION.tar that bundle save wrote, or its first part (.tar.001)" });
      throw new AirgapError("INVALID_BUNDLE", `${label}: damaged: bad header checksum at byte ${offset}`, { hint: BUNDLE_DAMAGED_HINT });
    }
    const typeflag = String.fromCharCode(header[156]!);
    const prefix = cString(header, 345, 155);
    const rawName = cString(header, 0, 100);
    let size = entrySize(octalNumber(header, 124, 12), `${label}: header at byte ${offset}`);
    const dataOffset = offset + BLOCK;
    if ((typeflag === "x" || typeflag === "L" || typeflag === "g") && dataOffset + size > tar.size) {
      throw new AirgapError("INVALID_BUNDLE", `${label}: truncated: the tar ends inside an extended header at byte ${offset}`, { hint: "the file is incomplete: copy it again and check it with sha256sum -c" });
    }
    if (typeflag === "x" || typeflag === "L") {
      // The size is the file's to decide: a long name or a few pax records never need more.
      if (size > MAX_EXTENDED_HEADER) throw new AirgapError("INVALID_BUNDLE", `${label}: an extended header of ${size} bytes at byte ${offset} (at most ${MAX_EXTENDED_HEADER})`);
      const data = tar.readSync(dataOffset, size);
      if (typeflag === "x") pax = parsePax(data, `${label}: header at byte ${offset}`);
      else longName = cString(data, 0, data.length);
      offset = dataOffset + size + padding(size);
      continue;
    }
    if (typeflag === "g") {
      offset = dataOffset + size + padding(size);
      continue;
    }
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
    if (pax.size !== undefined) size = entrySize(pax.size, `${label}: pax header before byte ${offset}`);
    pax = {};
    longName = undefined;
    const kind = typeflag === "0" || typeflag === "\0" ? "file" : typeflag === "5" ? "directory" : undefined;
    const reason = kind === undefined ? `${{ "1": "hard link", "2": "symbolic link", "3": "character device", "4": "block device", "6": "FIFO" }[typeflag] ?? `entry type "${typeflag}"`} not allowed` : unsafeName(name);
    if (reason) problems.push({ text: name, reason });
    else if (entries.has(name)) problems.push({ text: name, reason: "duplicate entry" });
    else entries.set(name, { name, type: kind!, offset: dataOffset, size });
    offset = dataOffset + size + padding(size);
    if (dataOffset + size > tar.size) {
      throw new AirgapError("INVALID_BUNDLE", `${label}: truncated: ${name} needs ${size} bytes, only ${Math.max(0, tar.size - dataOffset)} are there`, {
        hint: "the file is incomplete: copy it again and check it with sha256sum -c",
      });
    }
  }
  if (problems.length > 0) {
    throw new AirgapError("INVALID_BUNDLE", `${label}: refusing ${problems.length} unsafe or unexpected entr${problems.length === 1 ? "y" : "ies"}`, { problems });
  }
  return entries;
}
