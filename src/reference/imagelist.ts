/**
 * The imagelist: one image reference per line, `#` comments, blank lines.
 * Every bad line is reported at once, with its number; duplicates are dropped with a warning.
 */
import { readFile } from "node:fs/promises";
import { AirgapError, type Problem } from "../errors.js";
import { printable } from "../util/printable.js";
import { formatReference, parseReference, referenceErrorReason, repositoryOf, type Reference } from "./reference.js";

/** One image of an imagelist. */
export interface ImagelistEntry {
  /** The reference as written on its line (comment and surrounding white space removed). */
  readonly source: string;
  /** The normalised reference, e.g. `docker.io/library/mysql:5.6`. */
  readonly normalized: string;
  /** The parsed reference. */
  readonly ref: Reference;
  /** 1-based line number. */
  readonly line: number;
  /** `docker-daemon` for a line written `docker-daemon:NAME:TAG`: the image comes from the local Docker engine. */
  readonly transport?: "docker-daemon";
}

/** The prefix of imagelist lines read from the local Docker engine instead of a registry. */
export const DAEMON_PREFIX = "docker-daemon:";

/** A parsed imagelist: its entries in file order and what was worth a warning. */
export interface Imagelist {
  /** Where it came from (a path, or a label for text given directly). */
  readonly file: string;
  /** Distinct images in file order. */
  readonly entries: ImagelistEntry[];
  /** Non-fatal findings (duplicates), each naming its lines. */
  readonly warnings: Problem[];
}

/**
 * Parses imagelist text. Throws `INVALID_IMAGELIST` listing EVERY invalid line (or saying the list is empty).
 * @param file shown in messages, e.g. the path the text was read from
 */
export function parseImagelist(text: string, file: string): Imagelist {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const entries: ImagelistEntry[] = [];
  const warnings: Problem[] = [];
  const problems: Problem[] = [];
  const firstLine = new Map<string, number>();
  const tagged = new Map<string, { line: number; normalized: string }>();

  lines.forEach((raw, index) => {
    const line = index + 1;
    const hash = raw.indexOf("#");
    const source = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (source === "") return;
    const fromDaemon = source.startsWith(DAEMON_PREFIX);
    let ref: Reference;
    try {
      ref = parseReference(fromDaemon ? source.slice(DAEMON_PREFIX.length) : source);
    } catch (err) {
      problems.push({ file, line, text: printable(source), reason: referenceErrorReason(err) });
      return;
    }
    const normalized = formatReference(ref);
    const seen = firstLine.get(normalized);
    if (seen !== undefined) {
      warnings.push({ file, line, reason: `duplicate of line ${seen} (${normalized}); dropped` });
      return;
    }
    firstLine.set(normalized, line);
    // Two images for one tag: each load would tag whichever it pushed last, and the tag would flip.
    if (ref.tag !== undefined) {
      const tag = `${repositoryOf(ref)}:${ref.tag}`;
      const other = tagged.get(tag);
      if (other) {
        problems.push({ file, line, text: printable(source), reason: `the tag ${tag} is also given by line ${other.line} (${other.normalized}) for another image; keep one` });
        return;
      }
      tagged.set(tag, { line, normalized });
    }
    entries.push({ source, normalized, ref, line, ...(fromDaemon && { transport: "docker-daemon" as const }) });
  });

  if (problems.length > 0) {
    const n = problems.length;
    throw new AirgapError("INVALID_IMAGELIST", `${file}: ${n} invalid line${n === 1 ? "" : "s"}`, {
      problems,
      hint: "fix or remove the lines above; one image reference per line, # starts a comment",
    });
  }
  if (entries.length === 0) {
    throw new AirgapError("INVALID_IMAGELIST", `${file}: the imagelist has no images`, {
      hint: "write one image reference per line, e.g. docker.io/library/mysql:8.0",
    });
  }
  return { file, entries, warnings };
}

/** Reads and parses an imagelist file. Throws `FILE_NOT_FOUND` when it is missing. */
export async function readImagelist(path: string): Promise<Imagelist> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new AirgapError("FILE_NOT_FOUND", `imagelist not found: ${path}`, { hint: "pass --imagelist FILE", cause: err });
    }
    if (code === "EISDIR") throw new AirgapError("INVALID_ARGUMENT", `--imagelist: ${path} is a folder, not a file`, { hint: "pass --imagelist FILE" });
    throw new AirgapError("IO", `cannot read imagelist ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseImagelist(text, path);
}
