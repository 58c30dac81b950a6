/**
 * A small file written whole or not at all: under a temporary name beside it (`.NAME.partial`), then renamed,
 * so a file that looks complete is complete. A failed write leaves no temporary behind and is an IO error
 * naming the file (a full disk names itself).
 */
import { rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AirgapError } from "../errors.js";

/** Writes `data` to `path` through a temporary file and a rename. */
export async function writeWholeFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.partial`);
  try {
    await writeFile(temp, data, { mode });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw writeError(path, err);
  }
}

/** Turns a write failure into a clear error (a full disk names itself). */
export function writeError(path: string, err: unknown): AirgapError {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof AirgapError) return err;
  if (code === "ENOSPC" || code === "EDQUOT") return new AirgapError("DISK_FULL", `disk full while writing ${path}`, { hint: "free space (or choose another folder) and run again: a save keeps what it downloaded and checked", cause: err });
  return new AirgapError("IO", `cannot write ${path}: ${code ?? (err as Error).message}`, { cause: err });
}
