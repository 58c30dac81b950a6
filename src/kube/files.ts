/**
 * The manifests folder: every `*.yaml`, `*.yml` and `*.json` file below it, in natural order
 * (`1, 2, …, 10, 11`), read as UTF-8 and scanned.
 */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { AirgapError, type Problem } from "../errors.js";
import { plural } from "../util/plural.js";
import { naturalCompare } from "../util/natural-sort.js";
import { formatBytes } from "../util/size.js";
import { isManifestFileName } from "../util/manifest-file.js";
import type { FileScan } from "./finding.js";
import { scanManifest } from "./scan.js";
import { DEFAULT_MAX_MANIFEST_BYTES } from "./limits.js";

/**
 * Lists manifest files below `dir` (relative, `/`-separated, natural order). A missing folder is an error only if
 * `required`. One rule for what is below it: a symbolic link whose target stays inside the folder is followed
 * (a file or a folder); one that leaves it, or leads nowhere, and every special file (FIFO, socket, device) are
 * refused, each named — never skipped, which would leave the site without them. The folder is where `dir` leads
 * (a link given as `--manifests` is followed: the user named it). A name a bundle cannot hold (a control
 * character in it) is refused here, not at the site.
 */
export async function listManifestFiles(dir: string, required: boolean): Promise<string[]> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new AirgapError("INVALID_ARGUMENT", `manifests: ${dir} is not a folder`);
  } catch (err) {
    if (err instanceof AirgapError) throw err;
    if (!required) return [];
    throw new AirgapError("FILE_NOT_FOUND", `manifests folder not found: ${dir}`, { hint: "pass --manifests DIR" });
  }
  const files: string[] = [];
  const problems: Problem[] = [];
  const visited = new Set<string>([root]);
  const inside = (target: string) => target === root || target.startsWith(`${root}${sep}`);
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(d, entry.name);
      const shown = relative(dir, path).split(sep).join("/");
      if ([...shown].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
        problems.push({ file: JSON.stringify(shown), reason: "a name with a control character (a newline?), which a bundle cannot carry; rename it" });
        continue;
      }
      let kind: "file" | "folder" | "special" = entry.isDirectory() ? "folder" : entry.isFile() ? "file" : "special";
      let real = path;
      if (entry.isSymbolicLink()) {
        const target = await realpath(path).catch(() => undefined);
        if (target === undefined) {
          problems.push({ file: join(dir, shown), reason: "a symbolic link that leads nowhere" });
          continue;
        }
        if (!inside(target)) {
          problems.push({ file: join(dir, shown), reason: `a symbolic link that leaves the folder (to ${target}); copy what it points at into the folder instead` });
          continue;
        }
        const st = await stat(target);
        kind = st.isDirectory() ? "folder" : st.isFile() ? "file" : "special";
        real = target;
      }
      if (kind === "special") problems.push({ file: join(dir, shown), reason: "not a regular file (a FIFO, socket or device)" });
      else if (kind === "folder") {
        const key = await realpath(real);
        if (visited.has(key)) continue; // a link back to a folder already walked
        visited.add(key);
        await walk(path);
      } else if (isManifestFileName(entry.name)) files.push(shown);
    }
  };
  await walk(dir);
  if (problems.length > 0) {
    throw new AirgapError("INVALID_ARGUMENT", `${plural(problems.length, "entry", "entries")} under ${dir} cannot be carried`, {
      problems,
      hint: "links may point only inside the manifests folder; move or remove what is listed",
    });
  }
  return files.sort(naturalCompare);
}

/**
 * Reads and scans every manifest file below `dir`. Refuses files larger than `maxBytes` (before reading them)
 * and files that are not UTF-8 (a rewrite could not keep their bytes).
 */
export async function scanManifestDir(dir: string, required: boolean, maxBytes = DEFAULT_MAX_MANIFEST_BYTES): Promise<FileScan[]> {
  const files = await listManifestFiles(dir, required);
  if (files.length === 0) return [];
  const sizes = await Promise.all(files.map(async (file) => ({ file, size: (await stat(join(dir, file))).size })));
  const large = sizes.filter((f) => f.size > maxBytes);
  if (large.length > 0) {
    throw new AirgapError("INVALID_ARGUMENT", `${large.length === 1 ? "a manifest file is" : `${large.length} manifest files are`} larger than ${formatBytes(maxBytes)}`, {
      problems: large.map((f) => ({ file: join(dir, f.file), reason: `${formatBytes(f.size)}` })),
      hint: "split the file, or raise the limit with --max-manifest-size (parsing takes some 40 times a file's size in memory)",
    });
  }
  return Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(join(dir, file));
      const text = bytes.toString("utf8");
      if (!Buffer.from(text, "utf8").equals(bytes)) {
        throw new AirgapError("INVALID_YAML", `${join(dir, file)}: not UTF-8 text`, { hint: "Kubernetes manifests are UTF-8; convert the file" });
      }
      try {
        return scanManifest(file, text);
      } catch (err) {
        // Named by the user's own path (the scan knows only the path below the folder).
        if (err instanceof AirgapError && err.code === "INVALID_YAML") {
          throw new AirgapError("INVALID_YAML", `${dir.replace(/\/+$/, "")}/${err.message}`, { ...(err.hint && { hint: err.hint }), problems: err.problems.map((p) => ({ ...p, file: join(dir, file) })) });
        }
        throw err;
      }
    }),
  );
}
