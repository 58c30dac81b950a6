/**
 * Hostile bundles made from good ones, for the tests that prove a reader never hangs, crashes or lets bad
 * content through: entries rewritten at the level of their content (bundle.json, index.json… with SHA256SUMS
 * and the sidecar redone, so only the deeper checks can catch them), and raw header bytes changed at the level
 * of the tar (with each header's checksum fixed, so the damage is not caught by the first check).
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import tar from "tar-stream";
import { fixChecksum, ustarHeader } from "./tar.js";

export { fixChecksum } from "./tar.js";

/** One entry of a bundle, with all of its bytes. */
export interface FullEntry {
  name: string;
  type: "file" | "directory";
  data: Buffer;
}

/** Reads every entry of a tar whole (test bundles are small). */
export async function readEntries(path: string): Promise<FullEntry[]> {
  const extract = tar.extract();
  const entries: FullEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        entries.push({ name: header.name, type: header.type === "directory" ? "directory" : "file", data: Buffer.concat(chunks) });
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  extract.end(await readFile(path));
  await done;
  return entries;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Writes `entries` as a tar at `path`, SHA256SUMS recomputed (unless `keepSums`) and a sidecar beside it. */
export async function writeBundle(path: string, entries: FullEntry[], options: { keepSums?: boolean } = {}): Promise<void> {
  let list = entries;
  if (!options.keepSums) {
    const sums = list.filter((e) => e.type === "file" && e.name !== "SHA256SUMS").map((e) => `${sha256(e.data)}  ${e.name}\n`).join("");
    list = [...list.filter((e) => e.name !== "SHA256SUMS"), { name: "SHA256SUMS", type: "file", data: Buffer.from(sums) }];
  }
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const finished = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  for (const e of list) {
    if (e.type === "file") pack.entry({ name: e.name, type: "file", size: e.data.length, mtime: new Date(0) }, e.data);
    else pack.entry({ name: e.name, type: "directory", mtime: new Date(0) });
  }
  pack.finalize();
  await finished;
  const bytes = Buffer.concat(chunks);
  await writeFile(path, bytes);
  await writeFile(`${path}.sha256`, `${sha256(bytes)}  ${basename(path)}\n`);
}

/** Copies the bundle at `src` to `dst` with its entries changed by `change` (JSON entries may be edited as objects). */
export async function mutateBundle(src: string, dst: string, change: (entries: FullEntry[]) => FullEntry[] | void): Promise<void> {
  const entries = await readEntries(src);
  await writeBundle(dst, change(entries) ?? entries);
}

/** Replaces a JSON entry's value. */
export function editJson(entries: FullEntry[], name: string, edit: (value: Record<string, unknown>) => unknown): void {
  const e = entries.find((x) => x.name === name);
  if (!e) throw new Error(`no ${name}`);
  e.data = Buffer.from(JSON.stringify(edit(JSON.parse(e.data.toString("utf8")) as Record<string, unknown>)));
}

/** Byte ranges of ustar header fields. */
export const HEADER_FIELDS = { name: [0, 100], mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12], typeflag: [156, 1], linkname: [157, 100], magic: [257, 6], prefix: [345, 155] } as const;

/** Sets a header field of the block at `offset` to `value` (NUL-padded) and fixes the header's checksum. */
export function setHeaderField(tarBytes: Buffer, offset: number, field: keyof typeof HEADER_FIELDS, value: Buffer | string): Buffer {
  const out = Buffer.from(tarBytes);
  const [start, length] = HEADER_FIELDS[field];
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value);
  out.fill(0, offset + start, offset + start + length);
  v.copy(out, offset + start, 0, Math.min(length, v.length));
  fixChecksum(out, offset);
  return out;
}

/** A pax extended header ('x') with `records` as its data, as raw blocks. */
export function paxBlocks(records: string): Buffer {
  const data = Buffer.from(records);
  return Buffer.concat([ustarHeader("PaxHeader", data.length, "x"), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** Offsets of every header block of a tar (walking it as a trusting reader would). */
export function headerOffsets(tarBytes: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 512 <= tarBytes.length; ) {
    const block = tarBytes.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    out.push(at);
    const size = parseInt(block.toString("ascii", 124, 135), 8) || 0;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Offset of the end-of-archive blocks (where an entry can be appended). */
export function endOfEntries(tarBytes: Buffer): number {
  const offsets = headerOffsets(tarBytes);
  const last = offsets.at(-1) ?? 0;
  const size = parseInt(tarBytes.toString("ascii", last + 124, last + 135), 8) || 0;
  return last + 512 + Math.ceil(size / 512) * 512;
}
