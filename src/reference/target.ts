/**
 * The ONE mapping from a source image reference to its name in the private registry.
 * Both the push (`bundle load`) and the manifest rewrite use it, so they can never disagree.
 */
import { AirgapError } from "../errors.js";
import { formatReference, parseReference, type Reference } from "./reference.js";

/** How source repositories are laid out under the private registry. */
export type TargetLayout =
  /** `REGISTRY[/PREFIX]/<source host>/<source path>` (default; keeps images of different hosts apart). */
  | "host"
  /** `REGISTRY[/PREFIX]/<source path>`: for registries that limit path depth; collisions are refused. */
  | "strip-host";

/** Default {@link TargetLayout}. */
export const DEFAULT_TARGET_LAYOUT: TargetLayout = "host";

/** A private registry as given to `--registry HOST[:PORT][/PREFIX]`. */
export interface RegistryLocation {
  /** `HOST[:PORT]`, lower case. */
  readonly host: string;
  /** Optional path prefix (a Harbor project), without slashes at either end. */
  readonly prefix?: string;
}

/** The placeholder a rewritten manifest holds where the registry goes; rendered at load. */
export const REGISTRY_PLACEHOLDER = "{{REGISTRY}}";

/** Parses `HOST[:PORT][/PREFIX]` (no scheme). Throws `INVALID_REGISTRY` with a reason. */
export function parseRegistry(input: string): RegistryLocation {
  const bad = (reason: string) =>
    new AirgapError("INVALID_REGISTRY", `invalid registry "${input}": ${reason}`, {
      hint: "give HOST[:PORT][/PREFIX], e.g. 10.0.0.5:5000 or harbor.local/ai-devops",
    });
  if (input.includes("://")) throw bad("leave out the scheme (http:// or https://)");
  const trimmed = input.replace(/\/+$/, "");
  const slash = trimmed.indexOf("/");
  const host = (slash < 0 ? trimmed : trimmed.slice(0, slash)).toLowerCase();
  const prefix = slash < 0 ? undefined : trimmed.slice(slash + 1);
  if (host === "") throw bad("empty host");
  // Reuse the reference grammar: a host with a path must parse as a reference with that host.
  try {
    const probe = parseReference(`${host}/${prefix ?? "x"}/x`);
    if (probe.domain !== host) throw bad(`"${host}" is not a registry host (it needs a "." or a ":port", or to be localhost)`);
  } catch (err) {
    if (err instanceof AirgapError && err.code === "INVALID_REGISTRY") throw err;
    throw bad(err instanceof AirgapError && err.problems[0] ? err.problems[0].reason : String(err));
  }
  return prefix === undefined ? { host } : { host, prefix };
}

/** Formats a registry location back to `HOST[:PORT][/PREFIX]`. */
export function formatRegistry(location: RegistryLocation): string {
  return location.prefix ? `${location.host}/${location.prefix}` : location.host;
}

/**
 * Writes a source host as one repository path component: a path component may not hold a `:`, so
 * `localhost:5000` becomes `localhost-5000`, and an IPv6 host `[::1]:5000` becomes `ipv6---1-5000`.
 */
export function hostAsPathComponent(domain: string): string {
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(domain);
  if (v6) return `ipv6-${v6[1]!.toLowerCase().replace(/[:.]/g, "-")}${v6[2] ? `-${v6[2]}` : ""}`;
  return domain.replace(":", "-");
}

/**
 * Where the images of a source host go under the private registry, without the registry host:
 * `[PREFIX/]<source host>` (or `[PREFIX]` with `strip-host`; "" when that is nothing).
 */
export function targetNamespace(domain: string, prefix?: string, layout: TargetLayout = DEFAULT_TARGET_LAYOUT): string {
  return [prefix, layout === "host" ? hostAsPathComponent(domain) : undefined].filter((p) => p !== undefined && p !== "").join("/");
}

/**
 * The repository path of a source reference under the private registry, without the registry host:
 * `[PREFIX/]<source host>/<source path>` (or `[PREFIX/]<source path>` with `strip-host`).
 */
export function targetPath(source: Reference, prefix?: string, layout: TargetLayout = DEFAULT_TARGET_LAYOUT): string {
  const namespace = targetNamespace(source.domain, prefix, layout);
  return namespace === "" ? source.path : `${namespace}/${source.path}`;
}

/**
 * Maps a source reference to its target in the private registry, same tag and digest:
 * `gcr.io/kubeflow-images-public/tf_operator:v1` → `10.0.0.5:5000/gcr.io/kubeflow-images-public/tf_operator:v1`.
 * `registry` may be a {@link RegistryLocation} or the literal {@link REGISTRY_PLACEHOLDER} (manifest rewrite at save).
 */
export function targetReference(
  source: Reference,
  registry: RegistryLocation | typeof REGISTRY_PLACEHOLDER,
  layout: TargetLayout = DEFAULT_TARGET_LAYOUT,
): string {
  const host = typeof registry === "string" ? registry : registry.host;
  const prefix = typeof registry === "string" ? undefined : registry.prefix;
  return formatReference({ ...source, domain: host, path: targetPath(source, prefix, layout) });
}

/** The target below the registry: `<source host>/<source path>[:tag][@digest]` (what bundle.json records). */
export function relativeTarget(source: Reference, layout: TargetLayout = DEFAULT_TARGET_LAYOUT): string {
  const tail = `${source.tag !== undefined ? `:${source.tag}` : ""}${source.digest !== undefined ? `@${source.digest}` : ""}`;
  return `${targetPath(source, undefined, layout)}${tail}`;
}

/**
 * Refuses a set of sources that would land on the same target repository from different source
 * repositories (possible with `strip-host`). Returns quietly when all targets are distinct.
 */
export function assertNoTargetCollisions(sources: readonly Reference[], layout: TargetLayout): void {
  const owner = new Map<string, string>();
  const problems: string[] = [];
  for (const source of sources) {
    const target = targetPath(source, undefined, layout);
    const repo = `${source.domain}/${source.path}`;
    const first = owner.get(target);
    if (first === undefined) owner.set(target, repo);
    else if (first !== repo) problems.push(`${first} and ${repo} would both be pushed to …/${target}`);
  }
  if (problems.length > 0) {
    throw new AirgapError("TARGET_COLLISION", `target repositories collide: ${problems.join("; ")}`, {
      hint: "use the default --target-layout host, which keeps the source host in the path",
      problems: problems.map((reason) => ({ reason })),
    });
  }
}

/**
 * The tag a load gives an image pulled by digest alone, so that a registry's garbage collection of untagged
 * manifests keeps it and tag listings (bundle inventory) see it: `pin-sha256-<64 hex>`, naming the digest of the
 * manifest it points at. It cannot be taken for cosign's `sha256-<hex>.sig/.att/.sbom` or the referrers
 * fallback tag `sha256-<hex>`, which start with the algorithm.
 */
export function digestTag(digest: string): string {
  return `pin-${digest.replace(":", "-")}`;
}
