/**
 * The manifests folder: every `*.yaml`, `*.yml` and `*.json` file below it, in natural order
 * (`1, 2, …, 10, 11`), read as UTF-8 and scanned.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { AirgapError } from "../errors.js";
import { naturalCompare } from "../util/natural-sort.js";
import type { FileScan } from "./finding.js";

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** Lists manifest files below `dir` (relative, `/`-separated, natural order). A missing folder is an error only if `required`. */
export async function listManifestFiles(dir: string, required: boolean): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new AirgapError("INVALID_ARGUMENT", `manifests: ${dir} is not a folder`);
  } catch (err) {
    if (err instanceof AirgapError) throw err;
    if (!required) return [];
    throw new AirgapError("FILE_NOT_FOUND", `manifests folder not found: ${dir}`, { hint: "pass --manifests DIR" });
  }
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && MANIFEST_FILE.test(entry.name)) files.push(relative(dir, path).split(sep).join("/"));
    }
  };
  await walk(dir);
  return files.sort(naturalCompare);
}

/** Reads and scans every manifest file below `dir`. Refuses files that are not UTF-8 (a rewrite could not keep their bytes). */
export async function scanManifestDir(dir: string, required: boolean): Promise<FileScan[]> {
  const files = await listManifestFiles(dir, required);
  if (files.length === 0) return [];
  // Loaded on use: the YAML parser is most of the start-up of a save without manifests.
  const { scanManifest } = await import("./scan.js");
  return Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(join(dir, file));
      const text = bytes.toString("utf8");
      if (!Buffer.from(text, "utf8").equals(bytes)) {
        throw new AirgapError("INVALID_MANIFEST", `${file}: not UTF-8 text`, { hint: "Kubernetes manifests are UTF-8; convert the file" });
      }
      return scanManifest(file, text);
    }),
  );
}
