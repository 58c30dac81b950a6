/**
 * A file written whole or not at all: under a temporary name beside it, then renamed, so a file that looks complete
 * is complete. A failed write leaves no temporary behind and is an IO error naming the file (a full disk names itself).
 */
import { rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AirgapError } from "../errors.js";

/**
 * Fills the temporary file `temp` with `fill`, then renames it to `final` — a name, or one known only from what
 * `fill` found (a blob's digest). On any failure the temporary file is removed, and an error that is not ours is
 * worded for the final name (the temporary one when the final is not known yet).
 */
export async function commitFile<T>(temp: string, fill: (temp: string) => Promise<T>, final: string | ((filled: T) => string)): Promise<T> {
  try {
    const filled = await fill(temp);
    await rename(temp, typeof final === "string" ? final : final(filled));
    return filled;
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw writeError(typeof final === "string" ? final : temp, err);
  }
}

/** Writes `data` to `path` through a temporary file (`.NAME.partial`) and a rename. */
export async function writeWholeFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await commitFile(join(dirname(path), `.${basename(path)}.partial`), (temp) => writeFile(temp, data, { mode }), path);
}

/** Turns a write failure into a clear error (a full disk names itself). */
export function writeError(path: string, err: unknown): AirgapError {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof AirgapError) return err;
  if (code === "ENOSPC" || code === "EDQUOT") return new AirgapError("DISK_FULL", `disk full while writing ${path}`, { hint: "free space (or choose another folder) and run again: a save keeps what it downloaded and checked", cause: err });
  return new AirgapError("IO", `cannot write ${path}: ${code ?? (err as Error).message}`, { cause: err });
}
