/**
 * Rendering the bundled manifests for one closed network: `{{REGISTRY}}` becomes the private registry
 * (under the target layout the load used) and `{KEY}` placeholders take the install settings. Pure: text in,
 * text and problems out; nothing is written or applied here.
 */
import type { Problem } from "../errors.js";
import type { Reference } from "../reference/reference.js";
import { formatRegistry, REGISTRY_PLACEHOLDER, targetPath, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import type { Setting } from "./config-file.js";

/** A manifest file before or after rendering. */
export interface ManifestText {
  /** Path below the manifests folder, `/`-separated. */
  path: string;
  text: string;
  /** The namespace its namespaced objects go to when they name none (a chart's release namespace); else the cluster's default. */
  namespace?: string;
}

/** What to render with. */
export interface RenderOptions {
  registry: RegistryLocation;
  /** The layout the images were loaded with (bundles rewrite manifests for `host`). */
  layout: TargetLayout;
  /** The bundle's images (needed to move references when the layout is `strip-host`). */
  images: readonly Reference[];
  settings: ReadonlyMap<string, Setting>;
  /**
   * Digests to change in references to an image: an index of which the bundle keeps some platforms only is
   * pushed as another manifest (bundles of this version pinned manifests to it at save already).
   */
  repins?: ReadonlyArray<{ ref: Reference; from: string; to: string }>;
}

/** The rendered files, every placeholder left unresolved (file:line), and notices worth showing. */
export interface RenderResult {
  files: ManifestText[];
  unresolved: Problem[];
  notices: string[];
}

/**
 * `{KEY}` or `{{KEY}}`: a key the settings define is always replaced; an UPPER_CASE one they do not define is
 * reported. `${KEY}` (a shell variable in an embedded script) is neither.
 */
const PLACEHOLDER = /(\$?)(\{\{|\{)([A-Za-z_][A-Za-z0-9_]*)(\}\}|\})/g;
const UNDEFINED_PLACEHOLDER_KEY = /^[A-Z][A-Z0-9_]*$/;

/** Renders every file; never throws for unresolved placeholders (the caller decides, see `--allow-unresolved`). */
export function renderManifests(files: readonly ManifestText[], options: RenderOptions): RenderResult {
  const registry = formatRegistry(options.registry);
  const moves = layoutMoves(options, registry);
  const repins = (options.repins ?? []).map(({ ref, from, to }): [RegExp, string] => [
    new RegExp(`(${escapeRegExp(`${REGISTRY_PLACEHOLDER}/${targetPath(ref, undefined, "host")}`)}(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?)@${escapeRegExp(from)}`, "g"),
    `$1@${to}`,
  ]);
  const unresolved: Problem[] = [];
  const notices: string[] = [];
  const configured = options.settings.get("REGISTRY");
  if (configured && configured.value !== registry) {
    notices.push(`REGISTRY is ${configured.value} in ${configured.origin} but --registry is ${registry}: {REGISTRY} takes the setting, {{REGISTRY}} (the bundle's image references) --registry`);
  }
  for (const s of options.settings.values()) {
    const leftover = /\{\{[^}]*\}\}/.exec(s.value);
    if (leftover) unresolved.push({ file: s.origin, text: s.key, reason: `its value still holds the template ${leftover[0]}: edit it` });
  }
  const rendered = files.map((f) => {
    let text = f.text;
    for (const [from, to] of repins) text = text.replace(from, to);
    for (const [from, to] of moves) text = text.replace(from, to);
    text = text.split(REGISTRY_PLACEHOLDER).join(registry);
    text = text.replace(PLACEHOLDER, (whole: string, dollar: string, open: string, key: string, close: string, offset: number) => {
      if (dollar !== "" || open.length !== close.length) return whole;
      const setting = options.settings.get(key);
      if (setting) return setting.value;
      if (key === "REGISTRY") return registry;
      if (UNDEFINED_PLACEHOLDER_KEY.test(key)) unresolved.push({ file: f.path, line: lineAt(text, offset), text: whole, reason: `no value for ${key}` });
      return whole;
    });
    return { path: f.path, text, ...(f.namespace && { namespace: f.namespace }) };
  });
  return { files: rendered, unresolved, notices };
}

/**
 * Bundles point manifests at `{{REGISTRY}}/<source host>/<path>`; a load with `--target-layout strip-host`
 * put the images at `<registry>/<path>`, so each image's reference moves with them.
 */
function layoutMoves(options: RenderOptions, registry: string): Array<[RegExp, string]> {
  if (options.layout === "host") return [];
  const paths = new Map<string, string>();
  for (const ref of options.images) paths.set(targetPath(ref, undefined, "host"), targetPath(ref, undefined, options.layout));
  return [...paths]
    .sort((a, b) => b[0].length - a[0].length)
    .map(([from, to]) => [new RegExp(`${escapeRegExp(`${REGISTRY_PLACEHOLDER}/${from}`)}(?![A-Za-z0-9._/-])`, "g"), `${registry}/${to}`]);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Masks secret values wherever they would be shown (messages, API errors, script output). */
export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: Iterable<string>) {
    // As written and as JSON writes it (quotes, backslashes); longest first, so a secret containing another is masked whole.
    const forms = [...secrets].filter((s) => s !== "").flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
    this.secrets = [...new Set(forms)].sort((a, b) => b.length - a.length);
  }

  /** The text with every secret value replaced by `***`. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join("***");
    return out;
  }
}

/** The values to keep secret: keys that look secret (CLIENT_SECRET, *_PASSWORD, …) and those named with `--secret-key`. */
export function secretValues(settings: ReadonlyMap<string, Setting>, secretKeys: readonly string[], pattern: RegExp): string[] {
  const named = new Set(secretKeys);
  return [...settings.values()].filter((s) => named.has(s.key) || pattern.test(s.key)).map((s) => s.value);
}
