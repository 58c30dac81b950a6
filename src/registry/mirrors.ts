/**
 * Pull-through mirrors for the internet side, as containers/image orders them: for an image, the mirrors of the
 * longest matching registry prefix in order, then the registry itself (its `location`) unless mirrors only are
 * wanted. Read from `--mirror HOST=MIRROR[/PREFIX]`, `registries.conf` (the containers' v2 TOML) and Docker's
 * `registry-mirrors` (docker.io only). Each candidate is a repository on some host: the reference's path below the
 * prefix, placed under the mirror's location (Harbor proxy-cache style: `docker.io/library/nginx` through
 * `harbor.corp/dockerhub-proxy` is `harbor.corp/dockerhub-proxy/library/nginx`).
 * https://github.com/containers/image/blob/main/docs/containers-registries.conf.5.md
 */
import { parse, TomlError } from "smol-toml";
import { AirgapError } from "../errors.js";
import type { Reference } from "../reference/reference.js";
import { formatRegistry, parseRegistry } from "../reference/target.js";

/** When a mirror is asked: for every image, only for digest references, or only for tags. */
export type PullFrom = "all" | "digest-only" | "tag-only";

/** One mirror of a registry. */
export interface Mirror {
  /** `host[:port][/path]`. */
  location: string;
  insecure: boolean;
  pullFrom: PullFrom;
}

/** What one `[[registry]]` (or `--mirror`, or daemon.json) says about a prefix of references. */
export interface RegistryRule {
  /** `host[/path]`, or `*.domain` for every host under it. */
  prefix: string;
  /** Where the registry itself is reached (default: the prefix). */
  location?: string;
  insecure?: boolean;
  blocked?: boolean;
  mirrors: Mirror[];
  /** Where the rule was read, for messages (`--mirror`, a file). */
  from: string;
}

/** One place to ask for an image: a repository on a host. */
export interface Candidate {
  host: string;
  path: string;
  /** The mirror this is (absent: the registry itself). */
  mirror?: Mirror;
}

/** Whether `ref` falls under `prefix` (whole path components; `*.domain` matches hosts under it). */
function under(ref: Reference, prefix: string): boolean {
  if (prefix.startsWith("*.")) return ref.domain.endsWith(prefix.slice(1));
  const name = `${ref.domain}/${ref.path}`;
  return name === prefix || name.startsWith(`${prefix}/`);
}

/** A mirror's or a registry's location (`HOST[:PORT][/PATH]`), checked as a registry location is; `where` names it in the error. */
function location(text: string, where: string): string {
  try {
    return formatRegistry(parseRegistry(text));
  } catch (err) {
    throw new AirgapError("INVALID_ARGUMENT", `${where}: ${(err as Error).message}`);
  }
}

/** The rules of a run, merged: `--mirror` first, then registries.conf, then Docker's. */
export class MirrorTable {
  /** One rule per prefix: the mirrors of every rule naming it, in the order given; the first location, insecure, blocked. */
  readonly rules: readonly RegistryRule[];

  constructor(
    rules: readonly RegistryRule[],
    /** `--mirror-only`: never the registry itself, only its mirrors. */
    readonly mirrorOnly = false,
  ) {
    const byPrefix = new Map<string, RegistryRule>();
    for (const r of rules) {
      const had = byPrefix.get(r.prefix);
      if (!had) byPrefix.set(r.prefix, { ...r, mirrors: [...r.mirrors] });
      else {
        had.mirrors.push(...r.mirrors.filter((m) => !had.mirrors.some((h) => h.location === m.location)));
        if (had.location === undefined && r.location !== undefined) had.location = r.location;
        if (r.insecure) had.insecure = true;
        if (r.blocked) had.blocked = true;
      }
    }
    this.rules = [...byPrefix.values()];
  }

  /** Whether any rule applies to some image. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rule for a reference: the longest prefix that matches. */
  ruleFor(ref: Reference): RegistryRule | undefined {
    let best: RegistryRule | undefined;
    for (const r of this.rules) if (under(ref, r.prefix) && (!best || r.prefix.length > best.prefix.length)) best = r;
    return best;
  }

  /** Where to ask for `ref`, in order. Throws INVALID_ARGUMENT when its registry is blocked or it has nowhere to go. */
  candidates(ref: Reference): Candidate[] {
    const rule = this.ruleFor(ref);
    const name = `${ref.domain}/${ref.path}`;
    if (!rule) return this.mirrorOnly ? [] : [{ host: ref.domain, path: ref.path }];
    if (rule.blocked) throw new AirgapError("INVALID_ARGUMENT", `${name}: its registry is blocked (${rule.from})`);
    // A wildcard's registry is the reference's own host; what follows the prefix goes under each location.
    const wildcard = rule.prefix.startsWith("*.");
    const rest = wildcard ? `/${ref.path}` : name.slice(rule.prefix.length);
    const at = (place: string, mirror?: Mirror): Candidate => {
      const { host, prefix = "" } = parseRegistry(place);
      return { host, path: `${prefix}${rest}`.replace(/^\//, ""), ...(mirror && { mirror }) };
    };
    const pinned = ref.digest !== undefined;
    const list = rule.mirrors.filter((m) => m.pullFrom === "all" || (m.pullFrom === "digest-only") === pinned).map((m) => at(m.location, m));
    if (!this.mirrorOnly) list.push(wildcard ? { host: ref.domain, path: ref.path } : at(rule.location ?? rule.prefix));
    return list;
  }

  /** Hosts to reach with TLS unverified (and plain HTTP allowed): the mirrors and registries marked insecure. */
  insecureHosts(): string[] {
    const hostOf = (place: string) => parseRegistry(place).host;
    return [...new Set(this.rules.flatMap((r) => [...(r.insecure && !r.prefix.startsWith("*.") ? [hostOf(r.location ?? r.prefix)] : []), ...r.mirrors.filter((m) => m.insecure).map((m) => hostOf(m.location))]))];
  }
}

/** `--mirror HOST=MIRROR[/PREFIX]` (repeatable): a mirror asked for every image of HOST, before HOST. */
export function parseMirrorFlag(text: string): RegistryRule {
  const eq = text.indexOf("=");
  const prefix = eq < 0 ? "" : text.slice(0, eq).trim();
  const mirror = eq < 0 ? "" : text.slice(eq + 1).trim().replace(/^https?:\/\//, "");
  if (!prefix || !mirror || /\s/.test(prefix + mirror)) {
    throw new AirgapError("INVALID_ARGUMENT", `--mirror ${text}: expected HOST=MIRROR[/PREFIX], e.g. docker.io=harbor.corp/dockerhub-proxy`);
  }
  return { prefix: location(prefix, `--mirror ${text}`), mirrors: [{ location: location(mirror, `--mirror ${text}`), insecure: false, pullFrom: "all" }], from: `--mirror ${text}` };
}

/** The line and column of a TOML error, else of nothing. */
function tomlProblem(err: unknown): string {
  return err instanceof TomlError ? `${err.line}:${err.column}: ${err.message.split("\n")[0]}` : (err as Error).message;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * registries.conf (v2): `[[registry]]` tables with `prefix`, `location`, `insecure`, `blocked`, `mirror-by-digest-only`
 * and `[[registry.mirror]]` (`location`, `insecure`, `pull-from-mirror`). `unqualified-search-registries` and
 * aliases are not used: an imagelist line is always a full reference. A parse error names the file, line and column.
 */
export function parseRegistriesConf(text: string, file: string): RegistryRule[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new AirgapError("INVALID_ARGUMENT", `${file}:${tomlProblem(err)}`, { hint: "registries.conf is TOML (containers-registries.conf(5))" });
  }
  const bad = (what: string) => new AirgapError("INVALID_ARGUMENT", `${file}: ${what}`, { hint: "registries.conf is TOML (containers-registries.conf(5))" });
  // The v1 format ([registries.search] …) names no mirrors: nothing of it is read.
  const tables = doc.registry === undefined ? [] : Array.isArray(doc.registry) ? doc.registry : undefined;
  if (!tables) throw bad("registry must be an array of tables ([[registry]])");
  return tables.map((t, i) => {
    const table = t as Record<string, unknown>;
    const registryLocation = str(table.location);
    const prefix = str(table.prefix) ?? registryLocation;
    if (!prefix) throw bad(`[[registry]] number ${i + 1} has neither prefix nor location`);
    const byDigestOnly = table["mirror-by-digest-only"] === true;
    const mirrors = (Array.isArray(table.mirror) ? table.mirror : []).map((m, j) => {
      const mm = m as Record<string, unknown>;
      const where = `[[registry]] ${prefix}: mirror number ${j + 1}`;
      const loc = str(mm.location);
      if (!loc) throw bad(`${where} has no location`);
      const checked = location(loc, `${file}: ${where}`);
      const pull = mm["pull-from-mirror"] ?? (byDigestOnly ? "digest-only" : "all");
      if (pull !== "all" && pull !== "digest-only" && pull !== "tag-only") throw bad(`${where}: pull-from-mirror must be "all", "digest-only" or "tag-only", not ${JSON.stringify(pull)}`);
      return { location: checked, insecure: mm.insecure === true, pullFrom: pull as PullFrom };
    });
    const where = `${file}: [[registry]] number ${i + 1}`;
    return {
      prefix: prefix.startsWith("*.") ? prefix : location(prefix, where),
      ...(registryLocation && { location: location(registryLocation, where) }),
      ...(table.insecure === true && { insecure: true }),
      ...(table.blocked === true && { blocked: true }),
      mirrors,
      from: file,
    };
  });
}

/** Docker's daemon.json `registry-mirrors` (URLs): mirrors of docker.io, in order. */
export function parseDockerDaemonJson(text: string, file: string): RegistryRule[] {
  let doc: { "registry-mirrors"?: unknown; "insecure-registries"?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw new AirgapError("INVALID_ARGUMENT", `${file}: not JSON (${(err as Error).message})`);
  }
  const list = doc["registry-mirrors"];
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((u) => typeof u !== "string")) throw new AirgapError("INVALID_ARGUMENT", `${file}: registry-mirrors must be a list of URLs`);
  const insecure = new Set(Array.isArray(doc["insecure-registries"]) ? (doc["insecure-registries"] as unknown[]).filter((x): x is string => typeof x === "string") : []);
  const mirrors = (list as string[]).map((url) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new AirgapError("INVALID_ARGUMENT", `${file}: registry-mirrors: ${JSON.stringify(url)} is not a URL`);
    }
    return { location: location(`${u.host}${u.pathname}`, `${file}: registry-mirrors`), insecure: u.protocol === "http:" || insecure.has(u.host), pullFrom: "all" as const };
  });
  return mirrors.length === 0 ? [] : [{ prefix: "docker.io", mirrors, from: file }];
}
