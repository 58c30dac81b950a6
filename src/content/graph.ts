/**
 * An image's graph — the top manifest, the index entries a {@link GraphPolicy} selects, their configs and layers,
 * each distinct descriptor once — read from a source alone. The copy engine walks it before it copies; serve,
 * inventory and deltas walk it to learn what a bundle or a registry holds.
 */
import { AirgapError } from "../errors.js";
import { isParsedIndex, MAX_MANIFEST_BYTES, parseManifest, type Descriptor, type ImageManifest } from "../oci/descriptor.js";
import { isImageConfig, isIndex, isManifest } from "../oci/media-types.js";
import { formatPlatform, platformMatches, type Platform } from "../oci/platform.js";
import type { GraphPolicy } from "./policy.js";
import type { CopyJob, ManifestData, ReadOnlyTarget, SourceJob } from "./target.js";

/** Largest image config we read into memory (a remote decides a descriptor's size, so cap it). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** An image whose graph is known: manifests (and single-platform configs) read, blobs listed, nothing copied yet. */
export interface ResolvedImage<J extends SourceJob = CopyJob> {
  job: J;
  top: ManifestData;
  /** Child manifests of an index (empty for a single manifest), bytes as they were. */
  children: ManifestData[];
  /** Index entries left out because the source lacks them (with {@link GraphPolicy.presentEntriesOnly}). */
  absentChildren: Descriptor[];
  /** Configs and layers; `bytes` is set for configs already read (to learn a platform). */
  contents: Array<{ descriptor: Descriptor; bytes?: Buffer }>;
  /** Selected platform → the image manifest digest chosen for it. */
  platformDigests: Record<string, string>;
  /** Every descriptor of the selected graph (top, child manifests, configs, layers), each once. */
  blobs: Descriptor[];
  size: number;
}

/** A local store read before the source where it holds a manifest or config (the save's layout cache). */
export interface LocalStore extends ReadOnlyTarget {
  readManifestByDigest(digest: string): Promise<ManifestData | undefined>;
}

/** Whether a place is also a {@link LocalStore}. */
export function isLocalStore(place: object): place is LocalStore {
  return typeof (place as Partial<LocalStore>).readManifestByDigest === "function" && typeof (place as Partial<LocalStore>).fetchBytes === "function";
}

/** How a walk makes its requests. */
export interface WalkOptions {
  signal?: AbortSignal;
  /** Runs each manifest and config request of the source (the engine's metadata limiter); default: at once. */
  limit?: <T>(request: () => Promise<T>) => Promise<T>;
  /** Read before the source; spares network reads on a rerun. */
  cache?: LocalStore;
  /** Called once the top manifest is known, before its children are read. */
  onTop?: (top: ManifestData) => void;
}

const now = <T>(request: () => Promise<T>): Promise<T> => request();

/** Resolves the job's reference at its source (or in the cache), then reads its graph. */
export async function walkGraph<J extends SourceJob>(job: J, policy: GraphPolicy, options: WalkOptions = {}): Promise<ResolvedImage<J>> {
  const top = await resolveTop(job, options);
  options.onTop?.(top);
  return readGraph(job, top, policy, options);
}

/** Reads the graph below a top manifest already read. */
export async function readGraph<J extends SourceJob>(job: J, top: ManifestData, policy: GraphPolicy, options: WalkOptions = {}): Promise<ResolvedImage<J>> {
  const parsed = parseManifest(top.bytes, top.descriptor.mediaType, job.label);
  if (!isParsedIndex(parsed)) {
    const checked = await readConfig(job, parsed.config, policy, options);
    const contents = [checked.bytes ? { descriptor: parsed.config, bytes: checked.bytes } : { descriptor: parsed.config }, ...parsed.layers.map((descriptor) => ({ descriptor }))];
    return graph(job, top, [], [], contents, checked.platform ? { [checked.platform]: top.descriptor.digest } : {});
  }
  const platformDigests: Record<string, string> = {};
  const children: ManifestData[] = [];
  const manifests: ImageManifest[] = [];
  const absentChildren: Descriptor[] = [];
  for (const { child, platform } of selectChildren(job, parsed.manifests, policy)) {
    if (policy.presentEntriesOnly && !(await job.source.exists(child, options.signal))) {
      absentChildren.push(child);
      continue;
    }
    const bytes = await readSmall(job, child, MAX_MANIFEST_BYTES, options);
    const manifest = parseManifest(bytes, child.mediaType, `${job.label} (${platform ?? child.digest})`);
    if (isParsedIndex(manifest)) throw new AirgapError("UNSUPPORTED", `${job.label}: nested indexes are not supported (${child.digest})`);
    children.push({ descriptor: child, bytes });
    manifests.push(manifest);
    if (platform) platformDigests[platform] = child.digest;
  }
  if (policy.platforms.take === "one") return oneOf(job, children, manifests, platformDigests, policy.platforms);
  const contents = [...manifests.map((m) => ({ descriptor: m.config })), ...manifests.flatMap((m) => m.layers.map((descriptor) => ({ descriptor })))];
  return graph(job, top, children, absentChildren, contents, platformDigests);
}

async function resolveTop(job: SourceJob, { signal, cache, limit = now }: WalkOptions): Promise<ManifestData> {
  if (job.ref.digest && cache) {
    const local = await cache.readManifestByDigest(job.ref.digest);
    if (local) return local;
  }
  // A tag: HEAD before GET where the cache may spare the GET (a registry like Docker Hub counts each manifest GET
  // as a pull, not a HEAD: a rerun after a failure then pulls nothing it pulled before).
  if (!job.ref.digest && job.ref.tag !== undefined && cache && job.source.headManifest) {
    const digest = await limit(() => job.source.headManifest!(job.ref.tag!, signal)).catch(() => undefined);
    const local = digest === undefined ? undefined : await cache.readManifestByDigest(digest);
    if (local) return local;
  }
  const top = await limit(() => job.source.resolve(job.ref, signal));
  if (job.ref.digest && top.descriptor.digest !== job.ref.digest) {
    throw new AirgapError("DIGEST_MISMATCH", `${job.label}: resolved to ${top.descriptor.digest}, not the pinned digest`);
  }
  return top;
}

/** A manifest or config: from the cache when it has it (a remote sink never beats the source), else the source. */
async function readSmall(job: SourceJob, d: Descriptor, max: number, { signal, cache, limit = now }: WalkOptions): Promise<Buffer> {
  if (cache && (await cache.exists(d, signal))) return cache.fetchBytes(d, max, signal);
  return limit(() => job.source.fetchBytes(d, max, signal));
}

/** The index entries to keep: one per requested platform, or every image manifest. */
function selectChildren(job: SourceJob, entries: Descriptor[], policy: GraphPolicy): Array<{ child: Descriptor; platform?: string }> {
  const images = entries.filter((e) => isManifest(e.mediaType) || isIndex(e.mediaType));
  if (policy.platforms.take !== "these") {
    return images.map((child) => ({ child, ...(child.platform && { platform: formatPlatform(child.platform) }) }));
  }
  const chosen: Array<{ child: Descriptor; platform: string }> = [];
  const missing: string[] = [];
  for (const wanted of policy.platforms.platforms) {
    const child = images.find((e) => platformMatches(wanted, e.platform));
    if (child) chosen.push({ child, platform: formatPlatform(wanted) });
    else missing.push(formatPlatform(wanted));
  }
  if (missing.length > 0) {
    const has = images.map((e) => (e.platform ? formatPlatform(e.platform) : "unknown")).filter((p) => p !== "unknown/unknown");
    throw new AirgapError("PLATFORM_NOT_FOUND", `${job.label}: no ${missing.join(", ")} image; the index has ${has.join(", ") || "no platforms"}`, {
      hint: "choose platforms with --platform, or take every one with --all-platforms",
    });
  }
  return chosen;
}

/** The index's selected entry, as an image of its own (see {@link PlatformChoice} "one"). */
function oneOf<J extends SourceJob>(job: J, children: ManifestData[], manifests: ImageManifest[], platformDigests: Record<string, string>, choice: { platform: Platform; exact: boolean }): ResolvedImage<J> {
  const byDigest = new Map(Object.entries(platformDigests).map(([p, d]) => [d, p]));
  const i = children.length === 1 && !choice.exact ? 0 : children.findIndex((c) => c.descriptor.platform && platformMatches(choice.platform, c.descriptor.platform));
  if (i < 0) {
    const has = [...byDigest.values()].join(", ") || "none";
    throw new AirgapError("PLATFORM_NOT_FOUND", `${job.label}: no ${formatPlatform(choice.platform)} image here (it has: ${has})`, { hint: "choose one with --platform" });
  }
  const top = children[i]!;
  const platform = byDigest.get(top.descriptor.digest);
  const contents = [{ descriptor: manifests[i]!.config }, ...manifests[i]!.layers.map((descriptor) => ({ descriptor }))];
  return graph(job, top, [], [], contents, platform ? { [platform]: top.descriptor.digest } : {});
}

/** Reads a single-platform image's config to learn (and check) its platform; other configs are left alone. */
async function readConfig(job: SourceJob, config: Descriptor, policy: GraphPolicy, options: WalkOptions): Promise<{ platform?: string; bytes?: Buffer }> {
  if (!isImageConfig(config.mediaType) || !policy.readConfigs) return {};
  const bytes = await readSmall(job, config, MAX_CONFIG_BYTES, options);
  let platform: Platform | undefined;
  try {
    const json = JSON.parse(bytes.toString("utf8")) as { os?: string; architecture?: string; variant?: string };
    if (json.os && json.architecture) platform = { os: json.os, architecture: json.architecture, ...(json.variant && { variant: json.variant }) };
  } catch {
    throw new AirgapError("INVALID_MANIFEST", `${job.label}: the image config ${config.digest} is not JSON`);
  }
  const choice = policy.platforms;
  if (choice.take === "these" && choice.configMustMatch && platform && !choice.platforms.some((w) => platformMatches(w, platform))) {
    throw new AirgapError("PLATFORM_NOT_FOUND", `${job.label}: the image is ${formatPlatform(platform)} only, not ${choice.platforms.map(formatPlatform).join(", ")}`, {
      hint: "add its platform with --platform, or use --all-platforms",
    });
  }
  return { bytes, ...(platform && { platform: formatPlatform(platform) }) };
}

/** A resolved image with its distinct descriptors listed and summed. */
export function graph<J extends SourceJob>(job: J, top: ManifestData, children: ManifestData[], absentChildren: Descriptor[], contents: ResolvedImage["contents"], platformDigests: Record<string, string>): ResolvedImage<J> {
  const blobs = new Map<string, Descriptor>([[top.descriptor.digest, top.descriptor]]);
  for (const child of children) blobs.set(child.descriptor.digest, child.descriptor);
  for (const c of contents) blobs.set(c.descriptor.digest, c.descriptor);
  const all = [...blobs.values()];
  return { job, top, children, absentChildren, contents, platformDigests, blobs: all, size: all.reduce((n, d) => n + d.size, 0) };
}
