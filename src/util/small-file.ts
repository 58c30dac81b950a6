/**
 * Reading a small file whose path a user or a bundle names (a key, a signature): it must be a regular file and
 * at most `cap` bytes, so that `/dev/zero` or a FIFO given by mistake is one line, not a process that fills its
 * memory or waits for ever.
 */
import { open } from "node:fs/promises";
import { constants } from "node:fs";
import { AirgapError } from "../errors.js";

/** The file's bytes; throws FILE_NOT_FOUND (missing, unreadable), or INVALID_ARGUMENT (not a regular file, too large). */
export async function readSmallFile(path: string, cap: number, what: string): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer before we can see what it is.
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new AirgapError("FILE_NOT_FOUND", `cannot read ${what} ${path}: ${err.code ?? err.message}`);
  });
  try {
    const st = await file.stat();
    if (!st.isFile()) throw new AirgapError("INVALID_ARGUMENT", `${what} ${path} is not a regular file`);
    if (st.size > cap) throw new AirgapError("INVALID_ARGUMENT", `${what} ${path} is ${st.size} bytes; more than the ${cap} such a file can be`);
    return await file.readFile();
  } finally {
    await file.close();
  }
}
