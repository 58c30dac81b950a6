/**
 * `bundle load` as a function: verify the bundle, push every image into the private registry through
 * the copy engine (bundle → registry), then prove it arrived: `/v2/_catalog` lists every target
 * repository, every target tag resolves to the bundle's digest, and — when the bundle carries manifests —
 * every image reference of the rendered manifests resolves (what the cluster will pull).
 */
import pLimit from "p-limit";
import { CopyEngine, type CopiedImage, type CopyEvent, type CopyJob, type FailedImage } from "../content/copy.js";
import type { ResolvedImage } from "../content/graph.js";
import { loadPolicy } from "../content/policy.js";
import type { Descriptor } from "../oci/descriptor.js";
import { isImageConfig } from "../oci/media-types.js";
import { asPushed } from "../content/kept-platforms.js";
import { AirgapError, formatProblem, type Problem } from "../errors.js";
import type { ManifestText } from "../kube/render.js";
import { requireReferences, type ReferenceCheck } from "./check-references.js";
import { prepareInstall } from "./install.js";
import { parseReference } from "../reference/reference.js";
import { assertNoTargetCollisions, digestTag, targetPath, targetReference, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import type { Registries } from "../registry/registries.js";
import { RegistryRepository } from "../registry/repository.js";
import type { BundleReader } from "../bundle/reader.js";
import { verifyBundle } from "./verify.js";
import { prepareDelta } from "./delta.js";
import type { ReadOnlyTarget } from "../content/target.js";
import { plural } from "../util/plural.js";
import { pushReferrers } from "./referrers.js";
import { pushCharts, type LoadedChart } from "./load-charts.js";

/** Events of a load: the copy engine's, plus phases, notices, and the images' outcome before the references are checked. */
export type LoadEvent =
  | CopyEvent
  | { type: "phase"; phase: "verify" | "push" | "check" | "references"; images?: number; bytes?: number }
  | { type: "notice"; level: "warning" | "info"; message: string }
  | { type: "pushed"; result: LoadResult };

/** Registry checks at once after the push. */
const CHECKS_AT_ONCE = 16;

/** Options of {@link loadBundle}. */
export interface LoadOptions {
  /** The bundle, open; the caller closes it (and may have read its manifests already). */
  reader: BundleReader;
  /** Older bundles that supply what a delta relies on and the target lacks (open; the caller closes them). */
  bases?: BundleReader[];
  registry: RegistryLocation;
  layout?: TargetLayout;
  registries: Registries;
  /** "verified": the caller checked the bundle already (bundle load does, before rendering its manifests). */
  verify: "fast" | "deep" | "skip" | "verified";
  /** Tag images pulled by digest alone with {@link digestTag} (default true; `--no-digest-tags`). */
  digestTags?: boolean;
  concurrency?: number;
  signal?: AbortSignal;
  onEvent?: (event: LoadEvent) => void;
  /**
   * The bundle's manifests as the cluster will get them (rendered with the install's settings), whose image
   * references are asked of the registry after the push. Without it, a bundle with manifests is rendered with
   * the registry and layout alone (placeholders left as they are). `false`: no such check.
   */
  rendered?: readonly ManifestText[] | false;
}

/** One image after the load. */
export interface LoadedImage {
  source: string;
  target: string;
  digest: string;
  pushed: number;
  skipped: number;
  mounted: number;
  /** The target tag (or digest) resolves to the bundle's digest, and the repository is listed. */
  verified: boolean;
  /** The bundle's digest of the image, when what was pushed differs (an index whose platforms were filtered at save). */
  indexDigest?: string;
  /** Why the pushed digest differs from the bundle's. */
  note?: string;
  problem?: string;
}

/** What a load did. */
export interface LoadResult {
  images: LoadedImage[];
  /** Whether `/v2/_catalog` could be read (Harbor forbids it to non-admins). */
  catalog: "checked" | "unavailable";
  uploadedBytes: number;
  seconds: number;
  problems: Problem[];
  /** The rendered-reference check, when the images arrived and the bundle carries manifests. */
  references?: ReferenceCheck;
  /** The bundle's Helm charts, pushed (empty: it carries none). */
  charts: LoadedChart[];
}

/** Loads a bundle into a registry. Throws before pushing anything when verification fails. */
export async function loadBundle(options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const layout = options.layout ?? "host";
  const emit = (e: LoadEvent) => options.onEvent?.(e);
  const host = options.registries.host(options.registry.host);
  // Reach the registry (scheme, auth challenge) while the bundle is checked (the CLI starts this earlier
  // still, before the bundle is opened); a failure here surfaces at the first real request.
  void host.base(options.signal).catch(() => undefined);
  const reader = options.reader;
  emit({ type: "phase", phase: "verify" });
  if (options.verify === "skip") emit({ type: "notice", level: "warning", message: "--skip-verify: the bundle's checksums were not checked" });
  // A bundle verified before and unchanged since is not hashed again by the fast check (a re-run is quick).
  else if (options.verify !== "verified") await verifyBundle(reader, { deep: options.verify === "deep", trustStamps: options.verify === "fast" });

  // A registry that does not answer, or is not a registry, is one line before anything else is tried.
  await host.base(options.signal).catch((err: unknown) => {
    if (!(err instanceof AirgapError) || err.code === "ABORTED") throw err;
    throw new AirgapError(err.code, err.message, { cause: err, hint: `nothing was pushed: ${err.hint ?? "is the registry running, and is --registry its address?"}` });
  });

  // A delta: what it relies on must be in the target (or a --base bundle) before anything is pushed.
  let source: ReadOnlyTarget = reader;
  let homes = new Map<string, string>();
  if (reader.bundle.base) {
    for (const b of options.bases ?? []) if (options.verify !== "skip") await verifyBundle(b, { deep: false, trustStamps: true });
    ({ source, homes } = await prepareDelta(reader, options.bases ?? [], { registry: options.registry, host, ...(options.signal && { signal: options.signal }) }));
    emit({ type: "notice", level: "info", message: `a delta: ${plural(reader.bundle.base.external.count, "config and layer", "configs and layers")} it left out are in ${options.registry.host}${(options.bases ?? []).length > 0 ? " or the --base bundles" : ""}` });
  }

  const images = reader.bundle.images ?? [];
  const refs = images.map((i) => parseReference(i.source));
  assertNoTargetCollisions(refs, layout);
  const repositories = refs.map((ref) => new RegistryRepository(host, targetPath(ref, options.registry.prefix, layout)));
  const jobs: CopyJob[] = images.map((image, i) => ({
    label: image.source,
    ref: refs[i]!,
    source,
    sink: repositories[i]!,
    ...(refs[i]!.tag !== undefined && { tagAs: refs[i]! }),
  }));

  const counts = new Map(images.map((i) => [i.source, { pushed: 0, skipped: 0, mounted: 0 }]));
  let uploadedBytes = 0;
  const onEvent = (e: CopyEvent) => {
    if (e.type === "blob-done") {
      const c = counts.get(e.label);
      if (c) c[e.how === "copied" ? "pushed" : e.how === "present" ? "skipped" : "mounted"]++;
      if (e.how === "copied") uploadedBytes += e.size;
    }
    emit(e);
  };
  emit({ type: "phase", phase: "push", images: images.length });
  const engine = new CopyEngine({
    // After the .sha256 check every byte of the tar is proved; the registry checks each digest again.
    policy: loadPolicy(options.verify !== "skip"),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.signal && { signal: options.signal }),
    onEvent,
  });
  // Blobs the site holds are mounted from where they are into the repositories that need them.
  for (const [digest, path] of homes) engine.heldAt(host.host, path, digest);
  const effective = new Map<string, { digest: string; note?: string }>();
  // When every image turns out to be in place already (a re-load), nothing is pushed, so the catalog read
  // now proves as much as one read after the push: ask for it alongside the first checks, and stop it as
  // soon as an image needs pushing (a registry's catalog may span many pages).
  const early = new AbortController();
  const stopEarly = () => early.abort();
  options.signal?.addEventListener("abort", stopEarly, { once: true });
  const earlyCatalog = host.catalog(early.signal).catch(() => null);
  const resolved = await Promise.all(jobs.map((job) => engine.resolve(job)));
  // What each image is pushed as, and whether bundle.json agrees, is settled before the first byte is pushed.
  const pushed = resolved.map((r) => ("error" in r ? r : asPushed(r)));
  const disagree: Problem[] = [];
  for (const p of pushed) {
    if ("error" in p) continue;
    const recorded = images.find((i) => i.source === p.job.label);
    const want = recorded?.targetDigest ?? recorded?.digest;
    if (want !== undefined && want !== p.top.descriptor.digest) disagree.push({ file: "bundle.json", text: p.job.label, reason: `records ${want}, but its graph in the bundle gives ${p.top.descriptor.digest}` });
  }
  if (disagree.length > 0) {
    early.abort();
    throw new AirgapError("INVALID_BUNDLE", `${reader.path}: bundle.json and the bundle's manifests disagree; nothing was pushed`, { problems: disagree, hint: "the bundle was altered after it was saved: copy it again from the source medium" });
  }
  // The manifests were hashed as they were read, and so were the configs the resolve read; the others are hashed
  // too before the first push (a few KB each): a bundle altered with its sidecar made again is refused whole, not
  // after its intact images went in.
  const altered = [
    ...resolved.flatMap((r) => ("error" in r && (r.error.code === "DIGEST_MISMATCH" || r.error.code === "SIZE_MISMATCH") ? [{ text: r.job.label, reason: r.error.message }] : [])),
    ...(await alteredConfigs(reader, resolved)),
  ];
  if (altered.length > 0) {
    early.abort();
    throw new AirgapError("VERIFY_FAILED", `${reader.path}: ${plural(altered.length, "manifest or config", "manifests or configs")} in the bundle ${altered.length === 1 ? "does" : "do"} not match ${altered.length === 1 ? "its digest" : "their digests"}; nothing was pushed`, {
      problems: altered, hint: "the bundle was altered after it was saved: copy it again from the source medium",
    });
  }
  const results = await Promise.all(pushed.map(async (r, i) => {
    if ("error" in r) {
      early.abort();
      return r;
    }
    const filtered = r !== resolved[i];
    // An image pulled by digest alone gets a tag naming the digest it has in the target (see digestTag).
    if (options.digestTags !== false && refs[i]!.tag === undefined && refs[i]!.digest !== undefined) {
      const { digest: _pinned, ...name } = refs[i]!;
      r = { ...r, job: { ...r.job, tagAs: { ...name, tag: digestTag(r.top.descriptor.digest) } } };
    }
    const job = r.job;
    if (filtered) {
      effective.set(job.label, { digest: r.top.descriptor.digest, note: r.children.length === 0 ? "one platform kept at save: tagged to its manifest" : "platforms filtered at save: a new index of those kept" });
    }
    const result = await engine.transfer(r);
    if ("error" in result || result.foundInPlace !== true) early.abort();
    return result;
  }));
  options.signal?.removeEventListener("abort", stopEarly);
  if (options.signal?.aborted) throw new AirgapError("ABORTED", "load cancelled; rerun to finish: what was pushed is kept");
  const failed = new Map(results.filter((r): r is FailedImage => "error" in r).map((f) => [f.job.label, f.error.message]));
  // Images the registry answered for during this run (tag → digest by HEAD) need not be asked again.
  const foundInPlace = new Set(results.filter((r): r is CopiedImage => !("error" in r) && r.foundInPlace === true).map((r) => r.job.label));

  // Signatures, attestations and SBOMs after their images (those that arrived), then checked in place.
  const referrers = reader.bundle.referrers ?? [];
  const sinkOf = (subject: string) => (failed.has(subject) ? undefined : repositories[images.findIndex((i) => i.source === subject)]);
  const referrerProblems = referrers.length === 0 ? [] : await pushReferrers(referrers, engine, source, sinkOf, options.signal);
  if (referrers.length > 0) emit({ type: "notice", level: "info", message: `${plural(referrers.length, "signature, attestation or SBOM", "signatures, attestations and SBOMs")} pushed after their images` });

  // Helm charts, as OCI charts under charts/ (each checked by its tag).
  const charts = await pushCharts(reader, options.registry, host, options.signal);
  if (charts.length > 0) emit({ type: "notice", level: "info", message: `${plural(charts.length, "Helm chart")} pushed: ${charts.map((c) => c.target).join(", ")}` });

  emit({ type: "phase", phase: "check" });
  const catalogRequest = early.signal.aborted ? host.catalog(options.signal) : earlyCatalog.then((c) => (c === null ? host.catalog(options.signal) : c));
  const check = pLimit(CHECKS_AT_ONCE);
  const headChecks = images.map((image, i) => check(async (): Promise<string | undefined> => {
    const ref = refs[i]!;
    const digest = effective.get(image.source)?.digest ?? image.digest;
    if (failed.has(image.source)) return undefined;
    const sink = repositories[i]!;
    if (!foundInPlace.has(image.source)) {
      const got = await sink.headManifest(ref.tag ?? digest, options.signal).catch(() => undefined);
      if (got !== digest) return `${targetReference(ref, options.registry, layout)} resolves to ${got ?? "nothing"}, not ${digest}`;
    }
    if (ref.tag !== undefined && ref.digest !== undefined && ref.digest === digest && (await sink.headManifest(ref.digest, options.signal).catch(() => undefined)) !== ref.digest) {
      return `${ref.digest} is not in ${sink.path}`;
    }
    if (options.digestTags !== false && ref.tag === undefined && ref.digest !== undefined) {
      const pin = digestTag(digest);
      const got = await sink.headManifest(pin, options.signal).catch(() => undefined);
      if (got !== digest) return `${sink.path}:${pin} resolves to ${got ?? "nothing"}, not ${digest}`;
    }
    return undefined;
  }));
  const catalog = await catalogRequest.catch((err: Error) => {
    emit({ type: "notice", level: "warning", message: `${err.message}; checking each image instead` });
    return null;
  });
  if (catalog === undefined) emit({ type: "notice", level: "warning", message: `${options.registry.host} does not list /v2/_catalog to us; checking each image instead` });
  const listed = new Set(catalog ?? []);
  const loaded: LoadedImage[] = await Promise.all(
    images.map(async (image, i) => {
      const ref = refs[i]!;
      const digest = effective.get(image.source)?.digest ?? image.digest;
      // A reference pinned to an index whose platforms were filtered names, in the target, what was pushed.
      const target = targetReference(ref.digest !== undefined && effective.has(image.source) ? { ...ref, digest } : ref, options.registry, layout);
      const base = { source: image.source, target, digest, ...counts.get(image.source)!, ...(effective.has(image.source) && { indexDigest: image.digest, note: effective.get(image.source)!.note }) };
      const failure = failed.get(image.source);
      if (failure) return { ...base, verified: false, problem: failure };
      const repo = targetPath(ref, options.registry.prefix, layout);
      if (catalog && !listed.has(repo)) return { ...base, verified: false, problem: `${repo} is not listed in /v2/_catalog` };
      const problem = await headChecks[i];
      return problem === undefined ? { ...base, verified: true } : { ...base, verified: false, problem };
    }),
  );
  const problems: Problem[] = [
    ...loaded.filter((l) => !l.verified).map((l) => ({ text: l.source, reason: l.problem ?? "not verified" })),
    ...referrerProblems,
    ...charts.filter((c) => !c.verified).map((c) => ({ text: `chart ${c.name} ${c.version}`, reason: c.problem ?? "not verified" })),
  ];
  const result: LoadResult = { images: loaded, catalog: catalog ? "checked" : "unavailable", uploadedBytes, seconds: (Date.now() - started) / 1000, problems, charts };
  emit({ type: "pushed", result });
  // What the cluster will pull: only once the images are in (a failed load is said as that, not as missing references).
  if (problems.length === 0 && options.rendered !== false && reader.installs()) {
    emit({ type: "phase", phase: "references" });
    const files = options.rendered ?? (await prepareInstall(reader, { registry: options.registry, layout, settings: new Map(), secretKeys: [], allowUnresolved: true, unrenderedCharts: "leave-out" })).files;
    result.references = await requireReferences(files, options.registry, host, {
      ...(options.signal && { signal: options.signal }),
      notice: (level, message, problem) => emit({ type: "notice", level, message: problem ? `${formatProblem(problem)} (${message})` : message }),
    });
  }
  return result;
}

/** Largest config hashed before a push (a config is a few KB; a descriptor that says more is a layer in disguise). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * The configs of the resolved images whose bytes in the bundle do not match their digests. Those the resolve read
 * (a single image's, to check its platform) were verified there; the rest (an index's children's) are read here,
 * each once.
 */
async function alteredConfigs(reader: BundleReader, resolved: ReadonlyArray<ResolvedImage | FailedImage>): Promise<Problem[]> {
  const configs = new Map<string, Descriptor>();
  for (const r of resolved) {
    if ("error" in r) continue;
    for (const c of r.contents) if (!c.bytes && isImageConfig(c.descriptor.mediaType) && c.descriptor.size <= MAX_CONFIG_BYTES) configs.set(c.descriptor.digest, c.descriptor);
  }
  const problems: Problem[] = [];
  for (const d of configs.values()) {
    if (!(await reader.exists(d))) continue; // a delta's config the site holds
    await reader.fetchBytes(d, MAX_CONFIG_BYTES).catch((err: Error) => problems.push({ text: d.digest, reason: err.message }));
  }
  return problems;
}
