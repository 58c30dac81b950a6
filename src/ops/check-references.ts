/**
 * What the cluster will pull must exist: every image reference in the rendered manifests is asked of the
 * private registry — a HEAD of its tag or digest, or the tags list of a repository reference — after the push.
 * This, not only the bundle's own images, is what a load calls verified.
 */
import { AirgapError, type Problem } from "../errors.js";
import { plural } from "../util/plural.js";
import type { ManifestText } from "../kube/render.js";
import type { ImageFinding } from "../kube/finding.js";
import { formatReference } from "../reference/reference.js";
import { formatRegistry, type RegistryLocation } from "../reference/target.js";
import type { RegistryHost } from "../registry/client.js";
import { RegistryRepository } from "../registry/repository.js";
import pLimit from "p-limit";
import { scanManifest } from "../kube/scan.js";

/** References asked at once (small HEAD requests). */
const CHECKS_AT_ONCE = 16;

/** The outcome: references that do not resolve (file:line), and those that point at another registry. */
export interface ReferenceCheck {
  /** Distinct references asked of the registry. */
  checked: number;
  /** References into the private registry that do not resolve there. */
  missing: Problem[];
  /** References to another registry, which a closed network cannot reach. */
  elsewhere: Problem[];
  /** How many of `missing` the registry did not answer for (a failed request, not a "not there"). */
  unanswered: number;
}

/** Checks every image reference of the rendered `files` against `registry`. */
export async function checkReferences(
  files: readonly ManifestText[],
  registry: RegistryLocation,
  host: RegistryHost,
  options: { signal?: AbortSignal } = {},
): Promise<ReferenceCheck> {
  const findings = files.flatMap((f) => scanManifest(f.path, f.text).findings);
  const asked = new Map<string, Promise<string | undefined>>();
  const unanswered = new Set<string>();
  const limit = pLimit(CHECKS_AT_ONCE);
  const repos = new Map<string, RegistryRepository>();
  const repository = (path: string) => {
    let r = repos.get(path);
    if (!r) repos.set(path, (r = new RegistryRepository(host, path)));
    return r;
  };
  /** Why a reference does not resolve, or undefined when it does. */
  const ask = (f: ImageFinding): Promise<string | undefined> => {
    const key = formatReference(f.ref);
    let answer = asked.get(key);
    if (!answer) {
      const repo = repository(f.ref.path);
      answer = limit(async () => {
        try {
          if (f.kind === "repository") return (await repo.hasTags(options.signal)) ? undefined : "the repository holds no tag";
          const selector = f.ref.digest ?? f.ref.tag ?? "latest";
          const got = await repo.headManifest(selector, options.signal);
          return got === undefined ? `${f.ref.digest ? "the digest" : `the tag ${selector}`} is not in ${f.ref.path}` : undefined;
        } catch (err) {
          // Stopped (Ctrl-C, a deadline): say that, not that images are missing.
          if (options.signal?.aborted) throw err;
          unanswered.add(key);
          return (err as Error).message;
        }
      });
      asked.set(key, answer);
    }
    return answer;
  };
  const missing: Problem[] = [];
  const elsewhere: Problem[] = [];
  await Promise.all(
    findings.map(async (f) => {
      const where = { file: f.file, line: f.line, text: f.raw };
      if (f.ref.domain !== registry.host) {
        elsewhere.push({ ...where, reason: `points at ${f.ref.domain}, not at ${formatRegistry(registry)}` });
        return;
      }
      const why = await ask(f);
      if (why !== undefined) missing.push({ ...where, reason: why });
    }),
  );
  const failedAsking = findings.filter((f) => unanswered.has(formatReference(f.ref)) && f.ref.domain === registry.host).length;
  const order = (a: Problem, b: Problem) => (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0);
  return { checked: asked.size, missing: missing.sort(order), elsewhere: elsewhere.sort(order), unanswered: failedAsking };
}

/** Where a problem of a rendered manifest is, as the bundle names the file. */
function inBundle(p: Problem): Problem {
  return { ...p, file: p.file === undefined ? undefined : `manifests/${p.file}` };
}

/**
 * {@link checkReferences}, as a load and an install require it: a reference that does not resolve is
 * REFERENCES_MISSING (each with its file:line); one that points at another registry is a warning; all resolving is
 * said. Returns the check.
 */
export async function requireReferences(
  files: readonly ManifestText[],
  registry: RegistryLocation,
  host: RegistryHost,
  options: { signal?: AbortSignal; notice: (level: "warning" | "info", message: string, problem?: Problem) => void },
): Promise<ReferenceCheck> {
  const result = await checkReferences(files, registry, host, options);
  for (const p of result.elsewhere) options.notice("warning", "a closed network cannot pull it", inBundle(p));
  if (result.missing.length > 0) {
    const one = result.missing.length === 1;
    throw new AirgapError("REFERENCES_MISSING", `${plural(result.missing.length, "image reference")} in the rendered manifests ${one ? "does" : "do"} not resolve in ${formatRegistry(registry)}; the cluster could not pull ${one ? "it" : "them"}`, {
      problems: result.missing.map(inBundle),
      hint: result.unanswered === result.missing.length
        ? `${formatRegistry(registry)} did not answer for ${one ? "it" : "them"}: check the registry and rerun`
        : "add the images to the imagelist and save the bundle again (or fix the manifests)",
    });
  }
  options.notice("info", `every image reference of the rendered manifests resolves in ${formatRegistry(registry)} (${plural(result.checked, "reference")} checked)`);
  return result;
}
