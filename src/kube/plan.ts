/**
 * The install plan: rendered manifests parsed into Kubernetes objects, in the order they are applied.
 * Files in natural order (1, 2, …, 10); within a file Namespaces, then CustomResourceDefinitions, then the
 * rest as written. Pure: no cluster is touched; `--dry-run` prints this plan.
 */
import { AirgapError, type Problem } from "../errors.js";
import { naturalCompare } from "../util/natural-sort.js";
import type { KubeObject } from "./object.js";
import type { ManifestText } from "./render.js";
import { loadDocuments } from "./yaml.js";

export { apiGroup, objectKey, type KubeObject } from "./object.js";

/** One object to apply, with where it came from. */
export interface PlannedObject {
  object: KubeObject;
  file: string;
  /** 1-based position of the document in its file. */
  document: number;
  /** 1-based line the document starts on (for messages). */
  line?: number;
  /** The object is an item of a `kind: List` document. */
  inList?: boolean;
  /** Where a namespaced object that names no namespace goes (its file's {@link ManifestText.namespace}). */
  namespace?: string;
  /** Created when absent, never deleted by an uninstall (a chart's namespace, which may hold what is not ours). */
  keep?: boolean;
}

const NAMESPACE = "Namespace";
const CRD = "CustomResourceDefinition";

/** The priority of a kind within its file: Namespaces, then CRDs, then everything else. */
function rank(kind: string): number {
  return kind === NAMESPACE ? 0 : kind === CRD ? 1 : 2;
}

/** Parses and orders every object of the rendered files; every malformed document is reported at once. */
export function planInstall(files: readonly ManifestText[]): PlannedObject[] {
  const problems: Problem[] = [];
  const plan: PlannedObject[] = [];
  for (const file of [...files].sort((a, b) => naturalCompare(a.path, b.path))) {
    let docs: unknown[];
    try {
      docs = loadDocuments(file.text, file.path);
    } catch (err) {
      const problem = err instanceof AirgapError ? err.problems[0] : undefined;
      problems.push({ file: file.path, ...(problem?.line !== undefined && { line: problem.line }), reason: `not valid YAML after rendering: ${problem?.reason ?? (err as Error).message}` });
      continue;
    }
    const inFile: PlannedObject[] = [];
    const lines = documentLines(file.text);
    docs.forEach((doc, i) => {
      const line = lines[i];
      const inList = isList(doc);
      for (const object of expandLists(doc)) {
        const reason = invalidObject(object);
        if (reason) problems.push({ file: file.path, ...(line !== undefined && { line }), text: `document ${i + 1}`, reason });
        else inFile.push({ object: object as KubeObject, file: file.path, document: i + 1, ...(line !== undefined && { line }), ...(inList && { inList }), ...(file.namespace && { namespace: file.namespace }) });
      }
    });
    // A stable sort keeps the written order within each rank.
    plan.push(...inFile.sort((a, b) => rank(a.object.kind) - rank(b.object.kind)));
  }
  if (problems.length > 0) throw new AirgapError("INVALID_MANIFEST", `${problems.length} manifest document${problems.length === 1 ? "" : "s"} cannot be installed`, { problems });
  return plan;
}

function isList(doc: unknown): doc is { items: unknown[] } {
  return typeof doc === "object" && doc !== null && !Array.isArray(doc) && (doc as { kind?: unknown }).kind === "List" && Array.isArray((doc as { items?: unknown }).items);
}

/** A `kind: List` (as `kubectl get -o yaml` writes) stands for its items; empty documents for nothing. */
function expandLists(doc: unknown): unknown[] {
  if (doc === null || doc === undefined) return [];
  return isList(doc) ? doc.items : [doc];
}

/**
 * The line each document of a YAML text starts on, as a loader counts documents: a `---` line starts one; the text
 * before the first is a document only when it holds more than comments and blank lines.
 */
export function documentLines(text: string): number[] {
  const lines = text.split("\n");
  const starts: number[] = [];
  let content = false;
  lines.forEach((l, i) => {
    if (/^---(\s|$)/.test(l)) {
      if (starts.length === 0 && content) starts.push(1);
      starts.push(i + 2);
    } else if (!/^\s*(#.*)?$/.test(l) && !/^%/.test(l)) content = true;
  });
  if (starts.length === 0 && content) starts.push(1);
  return starts;
}

function invalidObject(o: unknown): string | undefined {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return "not a Kubernetes object (a mapping with apiVersion, kind and metadata)";
  const obj = o as Partial<KubeObject>;
  if (typeof obj.apiVersion !== "string" || obj.apiVersion === "") return "no apiVersion";
  if (typeof obj.kind !== "string" || obj.kind === "") return "no kind";
  const md = obj.metadata;
  if (typeof md !== "object" || md === null) return `${obj.kind}: no metadata`;
  if (typeof md.name !== "string" && typeof md.generateName !== "string") return `${obj.kind}: neither metadata.name nor metadata.generateName`;
  return undefined;
}

/** The order to delete in: the install order reversed (so Namespaces and CRDs of a file go after what they hold). */
export function planUninstall(plan: readonly PlannedObject[]): PlannedObject[] {
  return plan.filter((p) => !p.keep).reverse();
}
