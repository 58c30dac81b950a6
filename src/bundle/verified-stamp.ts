/**
 * Remembers files whose checksum was verified, by identity (path, inode, size, modification time), so that
 * loading the same unchanged bundle again need not hash gigabytes again. Any change to a file (a write
 * moves its modification time) invalidates its stamp. Kept in `$XDG_CACHE_HOME/airgap-bundle` (or
 * `~/.cache/airgap-bundle`); losing it only costs time.
 */
import { mkdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { commitFile } from "../util/whole-file.js";
import { homedir } from "node:os";
import { join } from "node:path";

interface Stamp {
  ino: number;
  size: number;
  mtimeMs: number;
  sha256: string;
  /** The digest of the bundle's own small files when it was verified ({@link entriesDigest}). */
  decisive?: string;
}

function stampFile(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(base, "airgap-bundle", "verified.json");
}

async function readStamps(): Promise<Record<string, Stamp>> {
  try {
    return JSON.parse(await readFile(stampFile(), "utf8")) as Record<string, Stamp>;
  } catch {
    return {};
  }
}

/** True when `path` was verified to have `sha256` (and its small files `decisive`) and has not changed since. */
export async function isStamped(path: string, sha256: string, decisive: string): Promise<boolean> {
  try {
    const [s, real, stamps] = await Promise.all([stat(path), realpath(path), readStamps()]);
    const stamp = stamps[real];
    return stamp !== undefined && stamp.sha256 === sha256 && stamp.decisive === decisive && stamp.ino === s.ino && stamp.size === s.size && stamp.mtimeMs === s.mtimeMs;
  } catch {
    return false;
  }
}

/** Records that `path` was just verified to have `sha256`, its small files `decisive`. Failures are ignored (it is only a cache). */
export async function stamp(path: string, sha256: string, decisive: string): Promise<void> {
  try {
    const [s, real, stamps] = await Promise.all([stat(path), realpath(path), readStamps()]);
    // Stamps of files that are gone are dropped, so the cache stays the size of what is on disk.
    const gone = await Promise.all(Object.keys(stamps).map(async (p) => ((await stat(p).then(() => true, () => false)) ? undefined : p)));
    for (const p of gone) if (p !== undefined) delete stamps[p];
    stamps[real] = { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, sha256, decisive };
    const file = stampFile();
    await mkdir(join(file, ".."), { recursive: true });
    // A temporary name of this process's own: two commands may stamp at once.
    await commitFile(`${file}.${process.pid}.tmp`, (temp) => writeFile(temp, JSON.stringify(stamps)), file);
  } catch {
    // only a cache
  }
}
