/**
 * Image references: parse, normalise and format them the way Docker does.
 *
 * Grammar: https://github.com/distribution/reference (reference.go, normalize.go).
 * Differences, on purpose: a first path component with upper-case letters and no `.`/`:` is refused
 * (Docker would take it for a registry host, which is never what an imagelist means), and host names
 * are lower-cased (they are case-insensitive, and lower case keeps de-duplication and target paths exact).
 */
import { AirgapError } from "../errors.js";

/** Registry host of Docker Hub after normalisation. */
export const DOCKER_HUB = "docker.io";
/** Legacy Docker Hub host names that normalise to {@link DOCKER_HUB}. */
const DOCKER_HUB_ALIASES = new Set(["index.docker.io", "registry-1.docker.io", "docker.io"]);
/** Tag given to a reference that names neither a tag nor a digest. */
export const DEFAULT_TAG = "latest";
/** Longest repository name (host + path) the distribution spec allows. */
export const MAX_NAME_LENGTH = 255;
/** Longest tag the distribution spec allows. */
export const MAX_TAG_LENGTH = 128;

/** Hex length of each digest algorithm we accept (OCI image-spec, "Digests"). */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[0-9a-fA-F:.]+\]$/;
const TAG = /^[\w][\w.-]*$/;

/** A parsed, normalised image reference: `domain/path[:tag][@digest]`. */
export interface Reference {
  /** Registry host, with port if any, lower case: `docker.io`, `gcr.io`, `localhost:5000`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/mysql`, `kubeflow-images-public/tf_operator`. */
  readonly path: string;
  /** Tag, if any. Set to `latest` when neither tag nor digest was given (unless parsing a repository). */
  readonly tag?: string;
  /** Digest `algorithm:hex`, if any. When both are present the digest wins for pulling. */
  readonly digest?: string;
}

/** Options for {@link parseReference}. */
export interface ParseOptions {
  /**
   * Add `:latest` when neither tag nor digest is given (default true). False parses a repository
   * reference, as in configs that keep the image name and its version in separate fields.
   */
  defaultTag?: boolean;
}

function invalid(input: string, reason: string): AirgapError {
  return new AirgapError("INVALID_REFERENCE", `invalid image reference "${input}": ${reason}`, {
    problems: [{ text: input, reason }],
  });
}

/** Reason text of a reference error (what `parseReference` threw), for listing many at once. */
export function referenceErrorReason(err: unknown): string {
  if (err instanceof AirgapError && err.problems[0]) return err.problems[0].reason;
  return err instanceof Error ? err.message : String(err);
}

/** Checks a digest string `algorithm:hex`; returns a reason when it is not acceptable. */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(":");
  if (colon < 0) return `digest "${digest}" has no algorithm (expected sha256:<64 hex digits>)`;
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const want = DIGEST_HEX_LENGTH[algorithm];
  if (want === undefined) return `unsupported digest algorithm "${algorithm}" (expected sha256 or sha512)`;
  if (!/^[0-9a-f]*$/.test(hex)) return `${algorithm} digest must be lower-case hex digits`;
  if (hex.length !== want) return `${algorithm} digest must have ${want} hex digits, got ${hex.length}`;
  return undefined;
}

function domainProblem(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  const ipv6 = /^(\[[^\]]*\])(?::(.*))?$/.exec(domain);
  if (ipv6) {
    host = ipv6[1] ?? "";
    port = ipv6[2];
    if (!IPV6_HOST.test(host)) return `invalid IPv6 registry host "${host}"`;
  } else {
    const colon = domain.lastIndexOf(":");
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    if (!host.split(".").every((c) => DOMAIN_COMPONENT.test(c))) return `invalid registry host "${host}"`;
  }
  if (port !== undefined) {
    const n = Number(port);
    if (!/^[0-9]+$/.test(port) || n < 1 || n > 65535) return `invalid port "${port}" in registry host`;
  }
  return undefined;
}

/** Why `path` is not a repository path (`team/app`), or undefined: what goes into a registry URL must be one. */
export function pathProblem(path: string): string | undefined {
  for (const component of path.split("/")) {
    if (component === "") return `empty path component in repository "${path}"`;
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase())) return `repository name must be lowercase ("${path}")`;
    return `invalid repository path component "${component}" (allowed: a-z 0-9 separated by ".", "_", "__" or "-")`;
  }
  return undefined;
}

function tagProblem(tag: string): string | undefined {
  if (tag === "") return "empty tag after \":\"";
  if (tag.length > MAX_TAG_LENGTH) return `tag is ${tag.length} characters long, at most ${MAX_TAG_LENGTH} are allowed`;
  if (!TAG.test(tag)) return `invalid tag "${tag}" (allowed: A-Z a-z 0-9 _ . -, not starting with . or -)`;
  return undefined;
}

/** True when the first path component names a registry host rather than a Docker Hub namespace. */
function isDomain(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost" || component.startsWith("[");
}

/**
 * Parses and normalises an image reference like Docker: `mysql:8.0` → `docker.io/library/mysql:8.0`.
 * Throws an {@link AirgapError} `INVALID_REFERENCE` whose reason a user understands.
 */
export function parseReference(input: string, options: ParseOptions = {}): Reference {
  if (input === "") throw invalid(input, "empty reference");
  if (/\s/.test(input)) throw invalid(input, "contains white space");
  if (input.includes("://")) throw invalid(input, "a reference has no scheme (remove \"http://\" or \"https://\")");

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.includes("@")) throw invalid(input, "more than one \"@\"");
    const problem = digestProblem(digest);
    if (problem) throw invalid(input, problem);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const tagColon = rest.indexOf(":", lastSlash + 1);
  if (tagColon >= 0) {
    tag = rest.slice(tagColon + 1);
    rest = rest.slice(0, tagColon);
    const problem = tagProblem(tag);
    if (problem) throw invalid(input, problem);
  }
  if (rest === "") throw invalid(input, "empty repository name");

  let domain = DOCKER_HUB;
  let path = rest;
  const firstSlash = rest.indexOf("/");
  if (firstSlash >= 0 && isDomain(rest.slice(0, firstSlash))) {
    domain = rest.slice(0, firstSlash).toLowerCase();
    path = rest.slice(firstSlash + 1);
    const problem = domainProblem(domain);
    if (problem) throw invalid(input, problem);
  }
  if (DOCKER_HUB_ALIASES.has(domain)) {
    domain = DOCKER_HUB;
    if (!path.includes("/")) path = `library/${path}`;
  }

  const problem = pathProblem(path);
  if (problem) throw invalid(input, problem);
  const nameLength = domain.length + 1 + path.length;
  if (nameLength > MAX_NAME_LENGTH) {
    throw invalid(input, `repository name is ${nameLength} characters long, at most ${MAX_NAME_LENGTH} are allowed`);
  }

  if (tag === undefined && digest === undefined && options.defaultTag !== false) tag = DEFAULT_TAG;
  return { domain, path, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** The repository part: `docker.io/library/mysql`. */
export function repositoryOf(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Formats a reference in its normalised form: `docker.io/library/mysql:8.0[@sha256:…]`. */
export function formatReference(ref: Reference): string {
  return `${repositoryOf(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** What to ask the registry for: the digest when pinned (it wins), else the tag. */
export function manifestSelector(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** The name to ask the engine for: Docker's short form (`nginx:1.25`, `myapp:dev`, `gcr.io/x/y:1`). */
export function engineName(ref: Reference): string {
  const full = formatReference(ref);
  return full.startsWith("docker.io/library/") ? full.slice("docker.io/library/".length) : full.startsWith("docker.io/") ? full.slice("docker.io/".length) : full;
}

/** True for a pod sandbox's pause image (`…/pause:TAG`): the nodes' container runtime runs it, no manifest names it. */
export function isPauseImage(ref: Reference): boolean {
  return ref.path === "pause" || ref.path.endsWith("/pause");
}
