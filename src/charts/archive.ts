/**
 * A chart's archive (`NAME-VERSION.tgz`: a gzip'd tar whose entries are all under `NAME/`), read in memory — a
 * chart is kilobytes to a few megabytes, and both sizes are bounded — and a chart's folder packed into one, the
 * same bytes from the same files every time (sorted names, no times, no owners).
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { AirgapError } from "../errors.js";
import { BLOCK, END_OF_ARCHIVE, padding, tarHeader } from "../util/tar-header.js";

/** Most bytes a chart archive may unpack to. */
export const MAX_CHART_BYTES = 100 * 1024 * 1024;

/** The files of a chart archive, by path inside it (`NAME/Chart.yaml`, `NAME/charts/dep/values.yaml`…). */
export type ChartFiles = Map<string, Buffer>;

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end >= start && end < start + length ? end : start + length);
}

/** Reads a chart's archive; INVALID_CHART naming `label` when it is not a gzip'd tar of safe names. */
export function readChartArchive(tgz: Buffer, label: string): ChartFiles {
  const bad = (reason: string) => new AirgapError("INVALID_CHART", `${label}: ${reason}`, { hint: "a chart archive is what helm package writes: a .tgz with every file under NAME/" });
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: MAX_CHART_BYTES });
  } catch (err) {
    throw bad((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" ? `more than ${MAX_CHART_BYTES} bytes once unpacked` : "not a gzip'd archive");
  }
  const files: ChartFiles = new Map();
  let longName: string | undefined;
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break;
    const sizeText = cString(header, 124, 12).trim();
    if (!/^[0-7]*$/.test(sizeText)) throw bad(`a malformed tar header at byte ${at}`);
    let size = sizeText === "" ? 0 : parseInt(sizeText, 8);
    const type = String.fromCharCode(header[156]!);
    const prefix = cString(header, 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
    longName = undefined;
    const dataAt = at + BLOCK;
    if (type === "x") {
      const pax = tar.toString("utf8", dataAt, dataAt + size);
      for (const m of pax.matchAll(/^\d+ (path|size)=(.*)$/gm)) {
        if (m[1] === "path") longName = m[2];
        // A pax size applies to the next entry; charts are small enough that ustar's size always holds.
      }
    } else if (type === "L") {
      longName = cString(tar, dataAt, size);
    } else if (type === "0" || type === "\0" || type === "7") {
      name = name.replace(/^\.\//, "");
      if (name.startsWith("/") || name.split("/").includes("..")) throw bad(`${JSON.stringify(name)} is outside the chart`);
      if (dataAt + size > tar.length) throw bad(`${name} is cut short`);
      files.set(name, tar.subarray(dataAt, dataAt + size));
    } else if (type !== "5" && type !== "g") {
      // Links and devices have no place in a chart: Helm refuses them too.
      throw bad(`${JSON.stringify(name)} is not a file or folder (tar type ${JSON.stringify(type)})`);
    }
    size = Math.max(size, 0);
    at = dataAt + size + padding(size);
  }
  if (files.size === 0) throw bad("no files in it");
  return files;
}

/** Files and folders `helm package` leaves out of every chart besides those `.helmignore` names. */
const ALWAYS_IGNORED = new Set([".git", ".svn", ".hg", ".DS_Store"]);

/**
 * `.helmignore`'s patterns, as far as we follow them: `NAME`, `*.ext`, `dir/` and `prefix*` at any depth, and paths
 * from the chart's root; `#` comments. (Negation, `!`, is not followed: such a line is ignored.)
 */
function ignoreRules(text: string): Array<(path: string, isDir: boolean) => boolean> {
  const rules: Array<(path: string, isDir: boolean) => boolean> = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.includes("/");
    const re = new RegExp(`^${line.replace(/^\//, "").split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")}$`);
    rules.push((path, isDir) => (!dirOnly || isDir) && (anchored ? re.test(path) : re.test(path.slice(path.lastIndexOf("/") + 1))));
  }
  return rules;
}

/** Packs a chart's folder into an archive under `name/` (the name its Chart.yaml gives). */
export async function packChartFolder(dir: string, name: string): Promise<Buffer> {
  const rules = ignoreRules(await readFile(join(dir, ".helmignore"), "utf8").catch(() => ""));
  const ignored = (path: string, isDir: boolean) => ALWAYS_IGNORED.has(path.slice(path.lastIndexOf("/") + 1)) || rules.some((r) => r(path, isDir));
  const pieces: Buffer[] = [];
  let total = 0;
  const walk = async (folder: string): Promise<void> => {
    for (const entry of (await readdir(folder)).sort()) {
      const path = join(folder, entry);
      const rel = relative(dir, path).split(sep).join("/");
      const info = await lstat(path);
      if (ignored(rel, info.isDirectory())) continue;
      if (info.isDirectory()) {
        await walk(path);
      } else if (info.isFile()) {
        total += info.size;
        if (total > MAX_CHART_BYTES) throw new AirgapError("INVALID_CHART", `${dir}: more than ${MAX_CHART_BYTES} bytes of files`, { hint: "list what the chart should leave out in its .helmignore" });
        const data = await readFile(path);
        pieces.push(tarHeader({ name: `${name}/${rel}`, size: data.length, type: "file", mtime: 0, mode: 0o644 }), data, Buffer.alloc(padding(data.length)));
      } else {
        throw new AirgapError("INVALID_CHART", `${path} is ${info.isSymbolicLink() ? "a symbolic link" : "not a file or folder"}: a chart folder holds files`, { hint: "replace it with the file it points to, or name it in the chart's .helmignore" });
      }
    }
  };
  await walk(dir);
  pieces.push(END_OF_ARCHIVE);
  return gzipSync(Buffer.concat(pieces));
}
