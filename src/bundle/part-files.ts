/**
 * The files a bundle tar is written to: one file, or numbered parts of at most `splitSize` bytes whose
 * concatenation is the tar. Bytes are written at their place (any order), under temporary names;
 * `commit()` renames them, `abort()` deletes them: an unfinished bundle never looks finished.
 */
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writeError } from "../util/whole-file.js";
import { partFileName } from "./format.js";
import { locate, type PartSpan } from "./parts.js";

/** One file of the tar: where it is going, where it is written meanwhile, which bytes of the tar it holds. */
export interface PartFile extends PartSpan {
  final: string;
  temp: string;
}

/** Temporary name of a file being written: `.NAME.partial` beside it. */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.partial`);
}

/** The layout of a tar of `size` bytes at `tarPath` in parts of `splitSize` (one file when undefined). */
export function partLayout(tarPath: string, size: number, splitSize?: number): PartFile[] {
  if (splitSize === undefined) return [{ final: tarPath, temp: temporaryName(tarPath), start: 0, size }];
  const parts: PartFile[] = [];
  for (let start = 0, n = 1; start < size || n === 1; start += splitSize, n++) {
    const final = join(dirname(tarPath), partFileName(basename(tarPath), n));
    parts.push({ final, temp: temporaryName(final), start, size: Math.min(splitSize, size - start) });
  }
  return parts;
}

/** Open part files, written at tar offsets. */
export class PartFiles {
  private constructor(
    readonly parts: PartFile[],
    private readonly handles: FileHandle[],
  ) {}

  /** Creates (truncating) every part's temporary file at its final size. */
  static async create(parts: PartFile[]): Promise<PartFiles> {
    const handles: FileHandle[] = [];
    try {
      for (const p of parts) {
        const h = await open(p.temp, "w+");
        handles.push(h);
        await h.truncate(p.size);
      }
    } catch (err) {
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
      await Promise.all(parts.map((p) => unlink(p.temp).catch(() => undefined)));
      throw writeError(parts[handles.length]?.temp ?? parts[0]!.temp, err);
    }
    return new PartFiles(parts, handles);
  }

  /** Writes `data` at tar offset `offset`, across part boundaries if it must. */
  async write(data: Buffer, offset: number): Promise<void> {
    let rest = data;
    let at = offset;
    while (rest.length > 0) {
      const where = locate(this.parts, at, rest.length);
      if (!where) throw new Error(`offset ${at} is outside the tar`);
      const n = where.length;
      try {
        let done = 0;
        while (done < n) done += (await this.handles[where.index]!.write(rest, done, n - done, where.position + done)).bytesWritten;
      } catch (err) {
        throw writeError(this.parts[where.index]!.temp, err);
      }
      rest = rest.subarray(n);
      at += n;
    }
  }

  /** Writes several buffers back to back at tar offset `offset` (one system call when they stay in one part). */
  async writev(buffers: Buffer[], offset: number): Promise<void> {
    const length = buffers.reduce((n, b) => n + b.length, 0);
    const where = locate(this.parts, offset, length);
    if (!where || where.length < length || buffers.length === 1) {
      await this.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers, length), offset);
      return;
    }
    try {
      const done = (await this.handles[where.index]!.writev(buffers, where.position)).bytesWritten;
      if (done < length) await this.write(Buffer.concat(buffers, length).subarray(done), offset + done);
    } catch (err) {
      throw writeError(this.parts[where.index]!.temp, err);
    }
  }

  /** Closes the files. */
  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close().catch(() => undefined)));
  }

  /** Closes and renames the temporary files to their final names. */
  async commit(): Promise<void> {
    await this.close();
    for (const p of this.parts) {
      try {
        await rename(p.temp, p.final);
      } catch (err) {
        throw writeError(p.final, err);
      }
    }
  }

  /** Closes and deletes every temporary file. */
  async abort(): Promise<void> {
    await this.close();
    await Promise.all(this.parts.map((p) => unlink(p.temp).catch(() => undefined)));
  }
}
