/**
 * Finds image references in Kubernetes manifests — in containers, under keys named `image` or ending
 * in `Image`, and inside JSON or YAML held in strings (recursively) — with their exact place in the file,
 * so that a rewrite can change those characters and nothing else.
 */
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Scalar } from "./yaml.js";
import { invalidYaml } from "./yaml-error.js";
import { AirgapError } from "../errors.js";
import { parseReference, type Reference } from "../reference/reference.js";
import type { FileScan, IgnoredValue, ImageFinding } from "./finding.js";

export type { FileScan, IgnoredValue, ImageFinding } from "./finding.js";
export { findingName } from "./finding.js";

const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);
/** Strings worth parsing as embedded JSON/YAML: they look like a mapping or a list and are long enough. */
const EMBEDDED_MIN_LENGTH = 8;

/** True for keys that hold an image: `image`, or camelCase ending in `Image` (`queueSidecarImage`). */
export function isImageKey(key: string): boolean {
  return key === "image" || /[a-z0-9]Image$/.test(key);
}

function formatPath(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : p === ">" ? ">" : i === 0 || path[i - 1] === ">" ? p : `.${p}`)).join("");
}

function countOccurrences(text: string, needle: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf(needle, from); i >= 0 && i + needle.length <= to; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

function nthOccurrence(text: string, needle: string, from: number, to: number, n: number): number {
  let i = text.indexOf(needle, from);
  for (let k = 0; i >= 0 && k < n; k++) i = text.indexOf(needle, i + needle.length);
  return i >= 0 && i + needle.length <= to ? i : -1;
}

/** An env entry's value when its name says it holds an image (`…_IMAGE`, `…Image`), if it is a string. */
function envImageValue(node: Node): Scalar | undefined {
  if (!isMap(node) || node.items.length > 3) return undefined;
  const get = (k: string) => node.items.find((p) => isScalar(p.key) && p.key.value === k)?.value as Node | null | undefined;
  const name = get("name");
  const value = get("value");
  if (!name || !isScalar(name) || typeof name.value !== "string" || !/(_IMAGE|[a-z0-9]Image)$/.test(name.value)) return undefined;
  return value && isScalar(value) && typeof value.value === "string" && value.value !== "" ? value : undefined;
}

/** The `default` of a schema property of type string (`{type: string, default: "…"}`), if it has one. */
function schemaDefault(node: Node): Scalar | undefined {
  if (!isMap(node)) return undefined;
  const get = (k: string) => node.items.find((p) => isScalar(p.key) && p.key.value === k)?.value as Node | null | undefined;
  const type = get("type");
  const dflt = get("default");
  return type && isScalar(type) && type.value === "string" && dflt && isScalar(dflt) && typeof dflt.value === "string" ? dflt : undefined;
}

/** Maps an offset in one level's text to an offset in the file. */
type Locate = (offset: number, needle: string) => number;

class Scanner {
  readonly findings: ImageFinding[] = [];
  readonly ignored: IgnoredValue[] = [];
  private readonly lines: number[] = [0];

  constructor(
    private readonly file: string,
    private readonly text: string,
  ) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) this.lines.push(i + 1);
  }

  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.lines.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lines[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  /** Scans the documents of `text` (the file, or a string inside it whose offsets `locate` maps to the file). */
  scanText(text: string, locate: Locate, basePath: Array<string | number>, documentIndex: number | undefined, strict: boolean): boolean {
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: false });
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      const error = doc.errors[0];
      if (error) {
        if (!strict) return false;
        throw invalidYaml(this.file, text, error.message, { line: error.linePos?.[0]?.line ?? 1, ...(error.linePos?.[0] && { column: error.linePos[0].col }) });
      }
    }
    if (!strict && !list.some((d) => isMap(d.contents) || isSeq(d.contents))) return false;
    list.forEach((doc, i) => {
      if (doc.contents) this.walk(doc.contents as Node, text, locate, [...basePath], documentIndex ?? i);
    });
    return true;
  }

  private walk(node: Node, text: string, locate: Locate, path: Array<string | number>, doc: number): void {
    if (isMap(node)) {
      // An environment variable that names an image (`{name: V2_DRIVER_IMAGE, value: REF}`): its value is one.
      const envValue = envImageValue(node);
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        const value = pair.value as Node | null;
        if (!value || key === undefined) continue;
        if (value === envValue) {
          this.candidate(envValue, text, locate, [...path, key], doc, false);
          continue;
        }
        // A CRD schema's image property with a default (`image: {type: string, default: REF}`): the API server
        // writes that reference into every custom resource that names none.
        const dflt = isImageKey(key) ? schemaDefault(value) : undefined;
        if (isImageKey(key) && isScalar(value) && typeof value.value === "string") {
          this.candidate(value, text, locate, [...path, key], doc, isContainer(path));
        } else if (dflt) {
          this.candidate(dflt, text, locate, [...path, key, "default"], doc, false);
        } else {
          this.walk(value, text, locate, [...path, key], doc);
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (item) this.walk(item as Node, text, locate, [...path, i], doc);
      });
    } else if (isScalar(node) && typeof node.value === "string") {
      this.embedded(node, text, locate, path, doc);
    }
  }

  /** A string that holds JSON or YAML (ConfigMap data, trial templates): scan inside it. */
  private embedded(node: Scalar, text: string, locate: Locate, path: Array<string | number>, doc: number): void {
    const value = node.value as string;
    const trimmed = value.trimStart();
    if (value.length < EMBEDDED_MIN_LENGTH || !(trimmed.startsWith("{") || trimmed.startsWith("[") || (value.includes("\n") && value.includes(":")))) return;
    const [from, to] = node.range ?? [0, 0];
    const inner: Locate = (offset, needle) => {
      // A reference has no character a scalar style escapes, so it stands verbatim in the source:
      // the k-th occurrence in the value is the k-th occurrence in the source of the scalar.
      const k = countOccurrences(value, needle, 0, offset);
      const at = nthOccurrence(text, needle, from, to, k);
      if (at < 0) throw new AirgapError("INVALID_MANIFEST", `${this.file}: cannot place "${needle}" inside ${formatPath(path)}`);
      return locate(at, needle);
    };
    this.scanText(value, inner, [...path, ">"], doc, false);
  }

  private candidate(node: Scalar, text: string, locate: Locate, path: Array<string | number>, doc: number, container: boolean): void {
    const raw = (node.value as string).trim();
    const [from, to] = node.range ?? [0, 0];
    const at = raw === "" ? -1 : text.indexOf(raw, from);
    const start = at >= 0 && at + raw.length <= to ? locate(at, raw) : -1;
    const line = this.lineOf(start >= 0 ? start : locate(from, text.slice(from, Math.min(to, from + 1))));
    const where = { file: this.file, line, path: formatPath(path) };
    if (raw === "") return;
    let ref: Reference;
    let kind: ImageFinding["kind"] = "image";
    try {
      ref = parseReference(raw, { defaultTag: container });
      if (!container && ref.tag === undefined && ref.digest === undefined) kind = "repository";
    } catch (err) {
      this.ignored.push({ ...where, value: raw, reason: err instanceof AirgapError ? (err.problems[0]?.reason ?? err.message) : String(err) });
      return;
    }
    if (start < 0) throw new AirgapError("INVALID_MANIFEST", `${this.file}:${line}: cannot place the reference "${raw}"`);
    this.findings.push({ ...where, document: doc, raw, ref, kind, start, end: start + raw.length });
  }
}

/** True when `path` (the place of a mapping) is an item of a container list. */
function isContainer(path: ReadonlyArray<string | number>): boolean {
  const n = path.length;
  return n >= 2 && typeof path[n - 1] === "number" && CONTAINER_LISTS.has(String(path[n - 2]));
}

/** Scans one manifest file's text. Throws INVALID_MANIFEST (with file and line) for invalid YAML. */
export function scanManifest(file: string, text: string): FileScan {
  const scanner = new Scanner(file, text);
  scanner.scanText(text, (offset) => offset, [], undefined, true);
  scanner.findings.sort((a, b) => a.start - b.start);
  return { file, text, findings: scanner.findings, ignored: scanner.ignored };
}

