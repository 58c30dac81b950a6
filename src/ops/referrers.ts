/**
 * What travels with an image: its cosign objects (tags `sha256-<hex>.sig`, `.att`, `.sbom` in the same
 * repository) and its OCI 1.1 referrers (the Referrers API, or the referrers tag schema `sha256-<hex>` where the
 * API is missing, as on distribution 2.8). Found at save; pushed after their subject at load, the fallback tag
 * index written (merged with one already there) for a registry without the API.
 * https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md,
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#referrers-tag-schema
 */
import { Readable } from "node:stream";
import type { ManifestData } from "../content/target.js";
import { AirgapError } from "../errors.js";
import { isParsedIndex, parseManifest, type Descriptor } from "../oci/descriptor.js";
import { MediaType } from "../oci/media-types.js";
import { digestOf } from "../oci/verify.js";
import { RegistryRepository } from "../registry/repository.js";
import { MirroredSource } from "../registry/mirrored-source.js";
import type { CopyEngine, ResolvedImage } from "../content/copy.js";
import { formatReference, parseReference } from "../reference/reference.js";
import type { ReadOnlyTarget } from "../content/target.js";
import type { Problem } from "../errors.js";
import type { BundleReferrer } from "../bundle/format.js";

/** The cosign objects, by the suffix of their tag. */
const COSIGN_KINDS = { sig: "cosign-signature", att: "cosign-attestation", sbom: "cosign-sbom" } as const;

/** A referrer found at the source: its manifest's descriptor, its kind, and the tag it goes under (cosign's). */
export type FoundReferrer = Omit<BundleReferrer, "subject" | "subjectDigest" | "name">;

/** The tag of the referrers tag schema (and cosign's prefix) for a digest: `sha256-<hex>`. */
export function fallbackTag(digest: string): string {
  return digest.replace(":", "-");
}

/** Resolves a tag, or undefined where the repository lacks it. */
async function tagged(repo: RegistryRepository, tag: string, signal?: AbortSignal): Promise<ManifestData | undefined> {
  if ((await repo.headManifest(tag, signal)) === undefined) return undefined;
  return repo.resolve({ domain: repo.mountDomain, path: repo.path, tag }, signal).catch((err: unknown) => {
    if (err instanceof AirgapError && err.code === "NOT_FOUND") return undefined;
    throw err;
  });
}

/** Everything attached to `subject` in `repo`: cosign's tags, then OCI referrers (API, else the fallback tag). */
export async function discoverReferrers(repo: RegistryRepository, subject: string, signal?: AbortSignal): Promise<FoundReferrer[]> {
  const found = new Map<string, FoundReferrer>();
  for (const [suffix, kind] of Object.entries(COSIGN_KINDS)) {
    const tag = `${fallbackTag(subject)}.${suffix}`;
    const m = await tagged(repo, tag, signal);
    if (m) found.set(m.descriptor.digest, { digest: m.descriptor.digest, mediaType: m.descriptor.mediaType, size: m.descriptor.size, kind, tag });
  }
  let listed = await repo.referrers(subject, signal);
  if (listed === undefined) {
    const index = await tagged(repo, fallbackTag(subject), signal);
    const parsed = index ? parseManifest(index.bytes, index.descriptor.mediaType, `${repo.name}:${fallbackTag(subject)}`) : undefined;
    listed = parsed && isParsedIndex(parsed) ? parsed.manifests : [];
  }
  for (const d of listed) {
    if (found.has(d.digest)) continue;
    found.set(d.digest, { digest: d.digest, mediaType: d.mediaType, size: d.size, kind: "referrer", ...(d.artifactType && { artifactType: d.artifactType }) });
  }
  return [...found.values()];
}

/**
 * For a registry without the Referrers API: the fallback tag `sha256-<subject hex>` names an index of the subject's
 * referrers; `add` is merged into the one already there (entries it has are kept, none is lost). Returns the
 * index's digest.
 */
export async function writeFallbackIndex(repo: RegistryRepository, subject: string, add: Descriptor[], signal?: AbortSignal): Promise<string> {
  const tag = fallbackTag(subject);
  const existing = await tagged(repo, tag, signal);
  const parsed = existing ? parseManifest(existing.bytes, existing.descriptor.mediaType, `${repo.name}:${tag}`) : undefined;
  const manifests: Descriptor[] = parsed && isParsedIndex(parsed) ? [...parsed.manifests] : [];
  for (const d of add) if (!manifests.some((m) => m.digest === d.digest)) manifests.push(d);
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
  const descriptor: Descriptor = { mediaType: MediaType.OciIndex, digest: digestOf(bytes), size: bytes.length };
  if (existing?.descriptor.digest === descriptor.digest) return descriptor.digest;
  // Pushed by digest then tagged: the same two requests any manifest push makes.
  await repo.push(descriptor, async () => Readable.from([bytes]), signal);
  await repo.tag(descriptor, { domain: repo.mountDomain, path: repo.path, tag }, signal);
  return descriptor.digest;
}

/** A referrer resolved for the copy, with what bundle.json records of it. */
export interface ResolvedReferrer {
  image: ResolvedImage;
  referrer: BundleReferrer;
}

/**
 * Finds and resolves what is attached to each image read from a registry (an engine's images have nothing
 * attached), through `engine` (platforms "all": an attestation index is kept whole). A referrer that cannot be
 * read fails the save: a bundle that silently lacks an image's signature is not made.
 */
export async function resolveReferrers(images: readonly ResolvedImage[], engine: CopyEngine, signal?: AbortSignal): Promise<ResolvedReferrer[]> {
  const out: ResolvedReferrer[] = [];
  await Promise.all(images.map(async (image) => {
    // Read through a mirror: what is attached is asked of the repository that served the image.
    const source = image.job.source instanceof MirroredSource ? image.job.source.servingRepository : image.job.source;
    if (!(source instanceof RegistryRepository)) return;
    for (const found of await discoverReferrers(source, image.top.descriptor.digest, signal)) {
      const ref = { domain: image.job.ref.domain, path: image.job.ref.path, digest: found.digest };
      const resolved = await engine.resolve({ label: `${image.job.label} (${found.kind})`, ref, source, sink: image.job.sink });
      if ("error" in resolved) throw resolved.error;
      out.push({ image: resolved, referrer: { subject: image.job.label, subjectDigest: image.top.descriptor.digest, name: formatReference(ref), ...found } });
    }
  }));
  return out.sort((a, b) => (a.referrer.subject + a.referrer.kind + a.referrer.digest < b.referrer.subject + b.referrer.kind + b.referrer.digest ? -1 : 1));
}

/**
 * Pushes the bundle's referrers after their subjects (those whose subject arrived: `sinkOf` gives its
 * repository), each under cosign's tag where it has one; for a registry without the Referrers API, writes each
 * subject's fallback tag index (merged with one already there). Then checks every one is in place. Returns the
 * problems, each naming the referrer and its image.
 */
export async function pushReferrers(
  referrers: readonly BundleReferrer[],
  engine: CopyEngine,
  source: ReadOnlyTarget,
  sinkOf: (subject: string) => RegistryRepository | undefined,
  signal?: AbortSignal,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const placed = referrers.filter((r) => sinkOf(r.subject) !== undefined);
  await Promise.all(placed.map(async (r) => {
    const subject = parseReference(r.subject);
    const job = { label: `${r.subject} (${r.kind})`, ref: parseReference(r.name), source, sink: sinkOf(r.subject)!, ...(r.tag && { tagAs: { ...subject, tag: r.tag, digest: undefined } }) };
    const resolved = await engine.resolve(job);
    const copied = "error" in resolved ? resolved : await engine.transfer(resolved);
    if ("error" in copied) problems.push({ text: r.subject, reason: `${r.kind} ${r.digest}: ${copied.error.message}` });
  }));
  // The referrers tag schema, where the registry has no Referrers API to index them by their subject.
  const bySubject = new Map<string, BundleReferrer[]>();
  for (const r of placed) if (r.kind === "referrer") bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
  for (const [subject, list] of bySubject) {
    const repo = sinkOf(subject)!;
    const subjectDigest = list[0]!.subjectDigest;
    if ((await repo.referrers(subjectDigest, signal)) !== undefined) continue;
    await writeFallbackIndex(repo, subjectDigest, list.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, ...(r.artifactType && { artifactType: r.artifactType }) })), signal);
  }
  await Promise.all(placed.map(async (r) => {
    const repo = sinkOf(r.subject)!;
    if ((await repo.headManifest(r.digest, signal).catch(() => undefined)) !== r.digest) problems.push({ text: r.subject, reason: `its ${r.kind} ${r.digest} is not in ${repo.path}` });
    else if (r.tag && (await repo.headManifest(r.tag, signal).catch(() => undefined)) !== r.digest) problems.push({ text: r.subject, reason: `${repo.path}:${r.tag} does not name its ${r.kind} ${r.digest}` });
  }));
  return problems;
}
