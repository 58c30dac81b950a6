/**
 * `--convert-apis`: the objects of an install written in API versions the cluster no longer serves, converted to
 * the versions that replaced them (kube/convert.ts) — in the plan that is applied and in the rendered files a dry
 * run writes or an installer script reads (each converted document replaced, the rest of the file as it was).
 * Which versions need converting is the caller's question: the cluster's discovery at install, a Kubernetes
 * version offline (`bundle rewrite --kube-version`).
 */
import { AirgapError, type Problem } from "../errors.js";
import { conversionFor, convertObject, NotConvertible, removedBy, type ConvertOptions } from "../kube/convert.js";
import { objectKey, type KubeObject } from "../kube/object.js";
import { documentLines, planInstall, type PlannedObject } from "../kube/plan.js";
import type { ManifestText } from "../kube/render.js";
import { dumpDocument } from "../kube/yaml.js";
import { plural } from "../util/plural.js";

/** Whether objects of `apiVersion`/`kind` need converting (not served), given the version they would become. */
export type NeedsConversion = (apiVersion: string, kind: string, to: string) => boolean | Promise<boolean>;

/** What a conversion did, per kind and version: said once each. */
export interface ConvertedKind {
  kind: string;
  from: string;
  to: string;
  count: number;
}

/** The outcome of {@link convertApis}. */
export interface ConvertedApis {
  plan: PlannedObject[];
  files: ManifestText[];
  kinds: ConvertedKind[];
  /** What the user should know about single objects (`CustomResourceDefinition/x: its schema made structural: …`). */
  notes: string[];
}

/** Offline: the versions Kubernetes `version` no longer serves. */
export function removedIn(version: string): NeedsConversion {
  return (apiVersion, kind) => {
    const rule = conversionFor(apiVersion, kind);
    return rule !== undefined && removedBy(rule, version);
  };
}

/**
 * Converts every object whose version `needs` says is gone. Throws INVALID_MANIFEST listing, with file:line, each
 * object that cannot be converted faithfully, before anything is applied.
 */
export async function convertApis(plan: readonly PlannedObject[], files: readonly ManifestText[], needs: NeedsConversion, options: ConvertOptions = {}): Promise<ConvertedApis> {
  const asked = new Map<string, Promise<boolean>>();
  const gone = (o: KubeObject, to: string) => {
    const key = `${o.apiVersion}|${o.kind}`;
    if (!asked.has(key)) asked.set(key, Promise.resolve(needs(o.apiVersion, o.kind, to)));
    return asked.get(key)!;
  };
  const problems: Problem[] = [];
  const notes: string[] = [];
  const counts = new Map<string, ConvertedKind>();
  const changed = new Set<string>();
  const out: PlannedObject[] = [];
  for (const p of plan) {
    const rule = conversionFor(p.object.apiVersion, p.object.kind);
    if (!rule || !(await gone(p.object, rule.to))) {
      out.push(p);
      continue;
    }
    try {
      const converted = convertObject(p.object, options)!;
      out.push({ ...p, object: converted.object });
      changed.add(`${p.file}|${p.document}`);
      const k = `${p.object.kind}|${rule.from}`;
      const c = counts.get(k) ?? { kind: p.object.kind, from: rule.from, to: rule.to, count: 0 };
      c.count++;
      counts.set(k, c);
      for (const n of converted.notes) notes.push(`${objectKey(p.object)}: ${n}`);
    } catch (err) {
      if (!(err instanceof NotConvertible)) throw err;
      problems.push({ file: p.file, ...(p.line !== undefined && { line: p.line }), text: `${objectKey(p.object)} (${p.object.apiVersion})`, reason: err.message });
    }
  }
  if (problems.length > 0) {
    throw new AirgapError("INVALID_MANIFEST", `${plural(problems.length, "object")} written for an older Kubernetes cannot be converted faithfully`, {
      problems, hint: "change them in the manifests, or leave them out with --skip-kind KIND",
    });
  }
  return { plan: out, files: files.map((f) => rewriteFile(f, out, changed)), kinds: [...counts.values()], notes };
}

/** A file with each converted document replaced by the converted objects (a List stays a List). */
function rewriteFile(file: ManifestText, plan: readonly PlannedObject[], changed: ReadonlySet<string>): ManifestText {
  const mine = plan.filter((p) => p.file === file.path);
  const docs = [...new Set(mine.map((p) => p.document))].filter((d) => changed.has(`${file.path}|${d}`));
  if (docs.length === 0) return file;
  const lines = file.text.split("\n");
  const starts = documentLines(file.text);
  const text = (d: number) => {
    const objects = mine.filter((p) => p.document === d);
    const body = objects[0]?.inList ? { apiVersion: "v1", kind: "List", items: objects.map((p) => p.object) } : objects[0]!.object;
    return `# converted by airgap-bundle --convert-apis\n${dumpDocument(body)}`.replace(/\n$/, "");
  };
  // Replaced from the last document up, so that earlier line numbers stay right.
  for (const d of [...docs].sort((a, b) => b - a)) {
    const start = starts[d - 1];
    if (start === undefined) throw new AirgapError("INTERNAL", `${file.path}: document ${d} not found in the text`);
    const next = starts[d];
    // The next document's marker line is kept; a last document runs to the end of the text (its final newline kept).
    const end = next !== undefined ? next - 2 : lines.length - (lines[lines.length - 1] === "" ? 1 : 0);
    lines.splice(start - 1, end - (start - 1), ...text(d).split("\n"));
  }
  return { ...file, text: lines.join("\n") };
}

/**
 * Manifest files converted as a whole folder (`bundle rewrite --convert-apis`): each file that parses as Kubernetes
 * objects is planned and converted; a file that does not (a kustomization, a values file) is left as it is.
 */
export async function convertFiles(files: readonly ManifestText[], needs: NeedsConversion, options: ConvertOptions = {}): Promise<ConvertedApis> {
  const plan: PlannedObject[] = [];
  for (const file of files) {
    try {
      plan.push(...planInstall([file]));
    } catch (err) {
      if (!(err instanceof AirgapError && err.code === "INVALID_MANIFEST")) throw err;
    }
  }
  return convertApis(plan, files, needs, options);
}
