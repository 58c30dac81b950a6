/**
 * What `bundle serve` answers from: the repositories a load would create, each with its tags, the manifests and
 * blobs its images reach and the referrers attached to them. Manifests (small) are read once at start, through the
 * copy engine as a load reads them, so a served image is exactly what a load would push (a filtered index as its
 * kept manifest or a new index of those kept); configs and layers stay in the tar and are read per request.
 */
import { walkGraph, type ResolvedImage } from "../content/graph.js";
import { BUNDLE_GRAPH } from "../content/policy.js";
import type { SourceJob } from "../content/target.js";
import { asPushed } from "../content/kept-platforms.js";
import { LayeredSource } from "../content/layered.js";
import type { BundleReader } from "../bundle/reader.js";
import type { BundleReferrer } from "../bundle/format.js";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "../oci/descriptor.js";
import { parseReference, type Reference } from "../reference/reference.js";
import { assertNoTargetCollisions, digestTag, targetPath, type TargetLayout } from "../reference/target.js";
import { plural } from "../util/plural.js";

/** A manifest as stored: bytes, type and digest. */
export interface ServedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** One repository as a load would create it. */
export interface ServedRepository {
  name: string;
  /** Tag → manifest digest. */
  tags: Map<string, string>;
  manifests: Map<string, ServedManifest>;
  /** Configs and layers its images reference, by digest. */
  blobs: Map<string, Descriptor>;
  /** Subject digest → the descriptors the Referrers API lists for it. */
  referrers: Map<string, Descriptor[]>;
}

/** Where a config or layer's bytes are: which bundle, where in its tar. */
export interface BlobPlace {
  reader: BundleReader;
  offset: number;
  size: number;
}

/** An image as served: its repository, tag (or digest) and digest. */
export interface ServedImage {
  source: string;
  repository: string;
  reference: string;
  digest: string;
}

/** Everything a served bundle answers. */
export interface ServedContent {
  repositories: Map<string, ServedRepository>;
  images: ServedImage[];
  /**
   * Every byte of the bundles was proved by their checksums before serving (as before a load): blobs are then sent
   * checked for size only; otherwise each whole blob is hashed as it is sent.
   */
  proved: boolean;
  /** The bundle (or --base bundle) holding a config or layer. */
  place(d: Pick<Descriptor, "digest" | "size">): BlobPlace | undefined;
}

/** Options of {@link servedContent}. */
export interface ServeOptions {
  /** Older bundles holding what a delta left out (open; the caller closes them). */
  bases?: readonly BundleReader[];
  /** Repository names as `bundle load --registry HOST[/PREFIX] --target-layout …` would give them. */
  layout: TargetLayout;
  prefix?: string;
  /** Every byte was proved by the bundles' checksums before serving (see {@link ServedContent.proved}). */
  proved: boolean;
  signal?: AbortSignal;
}

/** Reads a bundle's (and its bases') manifests into what `bundle serve` answers. */
export async function servedContent(reader: BundleReader, options: ServeOptions): Promise<ServedContent> {
  const { bases = [], layout, prefix, proved, signal } = options;
  const holders = [reader, ...bases];
  const place = (d: Pick<Descriptor, "digest" | "size">): BlobPlace | undefined => {
    for (const r of holders) {
      const e = r.blobEntry(d.digest);
      if (e?.size === d.size) return { reader: r, offset: e.offset, size: e.size };
    }
    return undefined;
  };
  const missing = (reader.bundle.base?.blobs ?? []).filter((b) => !place(b));
  if (missing.length > 0) {
    throw new AirgapError("INVALID_ARGUMENT", `${reader.path} is a delta: ${plural(missing.length, "config or layer", "configs and layers")} it relies on ${missing.length === 1 ? "is" : "are"} in none of the bundles given (first: ${missing[0]!.digest})`, {
      hint: "serve it with --base OLD.tar, the bundle it was made against (repeatable)",
    });
  }
  const source = bases.length > 0 ? new LayeredSource(holders) : reader;
  const images = reader.bundle.images;
  const refs = images.map((i) => parseReference(i.source));
  assertNoTargetCollisions(refs, layout);
  // Each graph as a load reads it: what the bundle holds; nothing is copied.
  const resolve = (job: SourceJob): Promise<ResolvedImage<SourceJob>> => walkGraph(job, BUNDLE_GRAPH, { ...(signal && { signal }) });
  const repositories = new Map<string, ServedRepository>();
  const repositoryOf = (ref: Reference): ServedRepository => {
    const name = targetPath(ref, prefix, layout);
    let repo = repositories.get(name);
    if (!repo) repositories.set(name, (repo = { name, tags: new Map(), manifests: new Map(), blobs: new Map(), referrers: new Map() }));
    return repo;
  };

  const served: ServedImage[] = [];
  const resolved = await Promise.all(images.map((image, i) => resolve({ label: image.source, ref: refs[i]!, source })));
  resolved.forEach((r, i) => {
    const ref = refs[i]!;
    const image = asPushed(r);
    const repo = repositoryOf(ref);
    holdImage(repo, image);
    const digest = image.top.descriptor.digest;
    if (ref.tag !== undefined) repo.tags.set(ref.tag, digest);
    // As a load tags it: an image pulled by digest alone under pin-sha256-<hex> too.
    else if (ref.digest !== undefined) repo.tags.set(digestTag(digest), digest);
    served.push({ source: images[i]!.source, repository: repo.name, reference: ref.tag ?? digest, digest });
  });

  const referrers = reader.bundle.referrers ?? [];
  const attached = await Promise.all(referrers.map((r) => resolve({ label: `${r.subject} (${r.kind})`, ref: parseReference(r.name), source })));
  attached.forEach((image, i) => {
    const r = referrers[i]!;
    const repo = repositoryOf(parseReference(r.subject));
    holdImage(repo, image);
    if (r.tag) repo.tags.set(r.tag, r.digest);
    if (r.kind === "referrer") repo.referrers.set(r.subjectDigest, [...(repo.referrers.get(r.subjectDigest) ?? []), referrerDescriptor(r, image)]);
  });
  return { repositories, images: served, proved, place };
}

/** Records an image's manifests and blobs in its repository. */
function holdImage(repo: ServedRepository, image: ResolvedImage<SourceJob>): void {
  for (const m of [image.top, ...image.children]) repo.manifests.set(m.descriptor.digest, { digest: m.descriptor.digest, mediaType: m.descriptor.mediaType, bytes: m.bytes });
  for (const c of image.contents) repo.blobs.set(c.descriptor.digest, c.descriptor);
}

/** A referrer as the Referrers API lists it: its artifact type (the manifest's, else its config's) and annotations. */
function referrerDescriptor(r: BundleReferrer, image: ResolvedImage<SourceJob>): Descriptor {
  const manifest = JSON.parse(image.top.bytes.toString("utf8")) as { artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
  const artifactType = manifest.artifactType ?? manifest.config?.mediaType ?? r.artifactType;
  return {
    mediaType: r.mediaType,
    digest: r.digest,
    size: r.size,
    ...(artifactType !== undefined && { artifactType }),
    ...(manifest.annotations && { annotations: manifest.annotations }),
  };
}
