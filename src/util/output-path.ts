/**
 * Where a command may write: nothing that is not ours is replaced. A file given as output may be replaced with
 * `--force` only when it is a regular file and not one the command reads; a FIFO, device node, socket, folder or
 * symbolic link never (writing "over" one would write into the device, or replace the link with a file). A
 * folder given as output must be empty, or `--force` says to write into it.
 */
import { lstat, readdir, stat } from "node:fs/promises";
import { AirgapError } from "../errors.js";

/** What a path is, in words, when it is not a regular file. */
function kindOf(st: { isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string | undefined {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device node";
  if (st.isSocket()) return "a socket";
  return undefined;
}

/**
 * Refuses an output file that exists unless `force` is given and it is a regular file none of `inputs` is
 * (the same file, through any path). `option` names the option in messages (`-o`).
 */
export async function checkOutputFile(path: string, options: { force: boolean; option: string; inputs?: readonly string[] }): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  const kind = kindOf(st);
  if (kind) throw new AirgapError("INVALID_ARGUMENT", `${options.option} ${path} is ${kind}, not a file; it is never replaced, --force or not`, { hint: "give the path of a new or regular file" });
  for (const input of options.inputs ?? []) {
    const other = await stat(input).catch(() => undefined);
    if (other && other.dev === st.dev && other.ino === st.ino) {
      throw new AirgapError("INVALID_ARGUMENT", `${options.option} ${path} is ${input}, which this command reads`, { hint: "write to another file" });
    }
  }
  if (!options.force) throw new AirgapError("BUNDLE_EXISTS", `${path} exists`, { hint: "pass --force to overwrite it" });
}

/** Refuses an output folder that is not a folder, or holds anything, unless `force` is given (then it is written into). */
export async function checkOutputFolder(path: string, options: { force: boolean; option: string }): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) throw new AirgapError("INVALID_ARGUMENT", `${options.option} ${path} is ${kindOf(st) ?? "a file"}, not a folder`, { hint: "give a new or empty folder" });
  if (!options.force && (await readdir(path)).length > 0) {
    throw new AirgapError("INVALID_ARGUMENT", `${options.option} ${path} is not empty`, { hint: "choose an empty folder, or pass --force to write over what is there" });
  }
}

/** Refuses an output folder path that exists and is not a folder (a file, a link, a device); a missing one is made. */
export async function checkOutputFolderIsFolder(path: string, option: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st && !st.isDirectory()) throw new AirgapError("INVALID_ARGUMENT", `${option} ${path} is ${kindOf(st) ?? "a file"}, not a folder`, { hint: "give a new folder or one this command wrote before" });
}
