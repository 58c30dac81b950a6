/**
 * Rewrites image references in manifest text and nothing else: every byte outside the references
 * stays as it was (comments, quoting, key order, indentation, JSON/YAML inside strings). A plan is
 * computed purely; the result is checked by rescanning it before anyone writes it.
 */
import { AirgapError } from "../errors.js";
import { parseReference, repositoryOf } from "../reference/reference.js";
import { formatRegistry, REGISTRY_PLACEHOLDER, targetPath, targetReference, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import { scanManifest, type FileScan, type ImageFinding } from "./scan.js";
import { loadDocuments, mayHoldAliases } from "./yaml.js";

/** One replaced reference. */
export interface RewriteChange {
  finding: ImageFinding;
  to: string;
}

/** A rewritten file. */
export interface RewrittenFile {
  file: string;
  original: string;
  text: string;
  changes: RewriteChange[];
}

/** Registry value used to check a template that still holds {{REGISTRY}}: parseable, and never reachable. */
const PROBE_REGISTRY = "registry.airgap-check.invalid:5000";

/** Replaces every `{{REGISTRY}}` with the registry (`HOST[:PORT][/PREFIX]`). */
export function renderRegistry(text: string, registry: string): string {
  return text.split(REGISTRY_PLACEHOLDER).join(registry);
}

/**
 * Where each found reference goes in a private registry: `REGISTRY/<path under the layout>` with its tag and
 * digest, a digest in `repins` (`repository@digest` → digest: an index of which a load pushed only some
 * platforms) changed to what the registry holds. What `bundle rewrite` and Helm's post-renderer write.
 */
export function relocation(registry: RegistryLocation, layout: TargetLayout, repins: ReadonlyMap<string, string> = new Map()): (f: ImageFinding) => string {
  return (f) => {
    if (f.kind === "repository") return `${formatRegistry(registry)}/${targetPath(f.ref, undefined, layout)}`;
    const repin = f.ref.digest === undefined ? undefined : repins.get(`${repositoryOf(f.ref)}@${f.ref.digest}`);
    return targetReference(repin ? { ...f.ref, digest: repin } : f.ref, registry, layout);
  };
}

/** Replaces each finding's characters with `target(finding)`; throws if the result is not what was meant. */
export function rewriteManifest(scan: FileScan, target: (f: ImageFinding) => string): RewrittenFile {
  const changes = scan.findings.map((finding) => ({ finding, to: target(finding) }));
  let text = "";
  let at = 0;
  for (const c of changes) {
    text += scan.text.slice(at, c.finding.start) + c.to;
    at = c.finding.end;
  }
  text += scan.text.slice(at);
  const result = { file: scan.file, original: scan.text, text, changes };
  checkRewrite(result);
  return result;
}

/**
 * Proves a rewrite: the result (with a registry filled in) parses to the same documents as the original,
 * every key, value and order equal, except strings whose only differences are the intended replacements.
 * (Parsed with js-yaml, which is several times faster than the position-keeping parser the scan needs;
 * a file js-yaml cannot read is checked by scanning the result again instead.)
 */
export function checkRewrite(file: RewrittenFile): void {
  const fail = (reason: string) =>
    new AirgapError("INVALID_MANIFEST", `${file.file}: the rewrite would change more than image references (${reason}); nothing was written`);
  if (file.changes.length === 0) {
    if (file.text !== file.original) throw fail("text changed without a reference");
    return;
  }
  const rendered = renderRegistry(file.text, PROBE_REGISTRY);
  // A file with aliases is proved by rescanning, which never expands them (an alias bomb stays 1 KB).
  if (mayHoldAliases(file.original)) {
    checkByRescan(file, rendered, fail);
    return;
  }
  let before: unknown[];
  try {
    before = loadDocuments(file.original, file.file);
  } catch {
    checkByRescan(file, rendered, fail);
    return;
  }
  let after: unknown[];
  try {
    after = loadDocuments(rendered, file.file);
  } catch (err) {
    throw fail(`the result does not parse: ${(err as Error).message.split("\n")[0]}`);
  }
  for (const c of file.changes) {
    // A replacement must itself be one reference and nothing more (no space, comment or quote).
    const rendered = renderRegistry(c.to, PROBE_REGISTRY);
    try {
      parseReference(rendered, { defaultTag: false });
    } catch {
      throw fail(`"${c.to}" is not an image reference`);
    }
  }
  const reverse = new Reverse(file.changes.map((c) => [renderRegistry(c.to, PROBE_REGISTRY), c.finding.raw] as const));
  compareTrees(before, after, "", reverse, fail);
}

/** Maps replaced references back to the originals: whole strings by lookup, embedded ones by search. */
class Reverse {
  private readonly whole = new Map<string, string>();
  private readonly pairs: Array<readonly [string, string]>;

  constructor(pairs: Array<readonly [string, string]>) {
    for (const [to, raw] of pairs) this.whole.set(to, raw);
    this.pairs = [...this.whole.entries()].sort((x, y) => y[0].length - x[0].length);
  }

  restore(text: string): string {
    const trimmed = text.trim();
    const raw = this.whole.get(trimmed);
    if (raw !== undefined) return text.replace(trimmed, raw);
    let out = text;
    for (const [to, original] of this.pairs) if (out.includes(to)) out = out.split(to).join(original);
    return out;
  }
}

function compareTrees(a: unknown, b: unknown, path: string, reverse: Reverse, fail: (reason: string) => Error): void {
  if (typeof a === "string" && typeof b === "string") {
    if (a !== b && reverse.restore(b) !== a) throw fail(`${path || "a document"} changed beyond its image references`);
    return;
  }
  if (a instanceof Date || b instanceof Date) {
    if (!(a instanceof Date && b instanceof Date && a.getTime() === b.getTime())) throw fail(`${path} changed`);
    return;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) throw fail(`${path || "the documents"} changed length`);
    a.forEach((x, i) => compareTrees(x, b[i], `${path}[${i}]`, reverse, fail));
    return;
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) throw fail(`the keys of ${path || "a document"} changed`);
    for (const k of ka) compareTrees((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k, reverse, fail);
    return;
  }
  if (a !== b) throw fail(`${path} changed`);
}

/** The slower proof, for files js-yaml cannot read: scan the result again and put the originals back. */
function checkByRescan(file: RewrittenFile, rendered: string, fail: (reason: string) => Error): void {
  let again: FileScan;
  try {
    again = scanManifest(file.file, rendered);
  } catch (err) {
    throw fail(`the result does not parse: ${(err as Error).message}`);
  }
  if (again.findings.length !== file.changes.length) throw fail(`${file.changes.length} references became ${again.findings.length}`);
  let restored = "";
  let at = 0;
  again.findings.forEach((found, i) => {
    const change = file.changes[i]!;
    if (found.path !== change.finding.path) throw fail(`${change.finding.path} moved to ${found.path}`);
    if (found.raw !== renderRegistry(change.to, PROBE_REGISTRY)) throw fail(`${found.path} is "${found.raw}", not "${change.to}"`);
    restored += rendered.slice(at, found.start) + change.finding.raw;
    at = found.end;
  });
  restored += rendered.slice(at);
  if (restored !== file.original) throw fail("bytes outside the references differ");
}
