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
    docs.forEach((doc, i) => {
      for (const object of expandLists(doc)) {
        const reason = invalidObject(object);
        if (reason) problems.push({ file: file.path, text: `document ${i + 1}`, reason });
        else inFile.push({ object: object as KubeObject, file: file.path, document: i + 1 });
      }
    });
    // A stable sort keeps the written order within each rank.
    plan.push(...inFile.sort((a, b) => rank(a.object.kind) - rank(b.object.kind)));
  }
  if (problems.length > 0) throw new AirgapError("INVALID_MANIFEST", `${problems.length} manifest document${problems.length === 1 ? "" : "s"} cannot be installed`, { problems });
  return plan;
}

/** A `kind: List` (as `kubectl get -o yaml` writes) stands for its items; empty documents for nothing. */
function expandLists(doc: unknown): unknown[] {
  if (doc === null || doc === undefined) return [];
  if (typeof doc === "object" && !Array.isArray(doc) && (doc as { kind?: unknown }).kind === "List" && Array.isArray((doc as { items?: unknown }).items)) {
    return (doc as { items: unknown[] }).items;
  }
  return [doc];
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
  return [...plan].reverse();
}
