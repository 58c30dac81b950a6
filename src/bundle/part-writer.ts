/**
 * Writes a byte stream to one file or to numbered parts of at most `splitSize` bytes, hashing each
 * part and the whole as bytes pass. Everything is written under temporary names; `commit()` renames
 * them, `abort()` deletes them, so an interrupted or failed write never leaves a finished-looking file.
 * (No fsync: the `.sha256` sidecar, checked by `bundle verify` and before every load, catches a file
 * that a power cut left incomplete; syncing a 10 GB bundle would cost more than the whole copy.)
 */
import { createHash, type Hash } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Writable } from "node:stream";
import { writeError } from "../layout/layout.js";
import { partFileName } from "./format.js";

/** A finished file: where it is, its size and sha256 (hex). */
export interface WrittenFile {
  path: string;
  size: number;
  sha256: string;
}

/** Temporary name of a file being written: `.NAME.partial` beside it. */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.partial`);
}

/** The stream of a bundle's bytes into its file or parts. */
export class PartWriter extends Writable {
  private readonly whole: Hash = createHash("sha256");
  private wholeSize = 0;
  private current?: { handle: FileHandle; hash: Hash; size: number; final: string; temp: string };
  private readonly done: WrittenFile[] = [];
  private readonly temps: string[] = [];

  /**
   * @param path final path of the tar (`bundles/NAME-VERSION.tar`)
   * @param splitSize bytes per part, or undefined for one file
   * @param onBytes called with the size of every chunk written (progress)
   */
  constructor(
    private readonly path: string,
    private readonly splitSize?: number,
    private readonly onBytes?: (n: number) => void,
  ) {
    super({ highWaterMark: 4 << 20 });
  }

  private async nextFile(): Promise<void> {
    await this.closeCurrent();
    const final = this.splitSize ? join(dirname(this.path), partFileName(basename(this.path), this.done.length + 1)) : this.path;
    const temp = temporaryName(final);
    this.temps.push(temp);
    try {
      const handle = await open(temp, "w");
      this.current = { handle, hash: createHash("sha256"), size: 0, final, temp };
    } catch (err) {
      throw writeError(temp, err);
    }
  }

  private async closeCurrent(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    try {
      await c.handle.close();
    } catch (err) {
      throw writeError(c.temp, err);
    }
    this.done.push({ path: c.final, size: c.size, sha256: c.hash.digest("hex") });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeChunk(chunk).then(() => callback(), callback);
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    this.whole.update(chunk);
    this.wholeSize += chunk.length;
    let rest = chunk;
    while (rest.length > 0) {
      if (!this.current || (this.splitSize !== undefined && this.current.size >= this.splitSize)) await this.nextFile();
      const c = this.current!;
      const room = this.splitSize === undefined ? rest.length : Math.min(rest.length, this.splitSize - c.size);
      const piece = rest.subarray(0, room);
      try {
        let off = 0;
        while (off < piece.length) off += (await c.handle.write(piece, off, piece.length - off)).bytesWritten;
      } catch (err) {
        throw writeError(c.temp, err);
      }
      c.hash.update(piece);
      c.size += piece.length;
      rest = rest.subarray(room);
    }
    this.onBytes?.(chunk.length);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      if (!this.current && this.done.length === 0) await this.nextFile();
      await this.closeCurrent();
    })().then(() => callback(), callback);
  }

  /** The files written (parts in order, or the one tar) and the whole stream's size and sha256. */
  result(): { files: WrittenFile[]; whole: { size: number; sha256: string } } {
    return { files: [...this.done], whole: { size: this.wholeSize, sha256: this.whole.copy().digest("hex") } };
  }

  /** Renames the temporary files to their final names. */
  async commit(): Promise<void> {
    for (const [i, f] of this.done.entries()) await rename(this.temps[i]!, f.path);
  }

  /** Deletes every temporary file (after a failure or interruption). */
  async abort(): Promise<void> {
    await this.current?.handle.close().catch(() => undefined);
    this.current = undefined;
    await Promise.all(this.temps.map((t) => unlink(t).catch(() => undefined)));
  }
}
