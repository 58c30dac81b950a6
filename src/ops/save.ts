/**
 * `bundle save` as a function: registry → download cache (the copy engine) → one bundle tar.
 * Every image is attempted; if any fails, all failures are reported together and no bundle is written.
 */
import { CopyEngine, type CopyEvent, type CopyJob, type FailedImage, type ResolvedImage } from "../content/copy.js";
import { REFERRERS_POLICY, savePolicy } from "../content/policy.js";
import { pushedDigest } from "../content/kept-platforms.js";
import { preferLocal } from "../content/prefer.js";
import { join } from "node:path";
import { plural } from "../util/plural.js";
import { AirgapError, type Problem } from "../errors.js";
import { OciLayout } from "../layout/layout.js";
import type { Descriptor } from "../oci/descriptor.js";
import { formatPlatform, type Platform } from "../oci/platform.js";
import type { Imagelist } from "../reference/imagelist.js";
import { REGISTRY_PLACEHOLDER, relativeTarget, targetPath } from "../reference/target.js";
import type { Registries } from "../registry/registries.js";
import { MirroredSource, MirrorSources, servedByMirror } from "../registry/mirrored-source.js";
import type { MirrorTable } from "../registry/mirrors.js";
import { checkCoverage, type Coverage } from "../kube/coverage.js";
import { scanManifestDir } from "../kube/files.js";
import { findingName, findingPlace, type FileScan, type ImageFinding } from "../kube/finding.js";
import type { ImagelistEntry } from "../reference/imagelist.js";
import type { DockerEngine } from "../daemon/engine.js";
import type { ArchiveSource } from "../archive/source.js";
import { BUNDLE_FORMAT, type BundleImage, type BundleJson } from "../bundle/format.js";
import { assertCanWrite, recoverUnfinished } from "../bundle/journal.js";
import { BundleWriter, type ManifestFileInput, type WrittenBundle } from "../bundle/writer.js";
import { daemonSource } from "../daemon/source.js";
import { rewriteManifest } from "../kube/rewrite.js";
import { mergeInventories } from "../bundle/inventory.js";
import type { BaseInventory } from "./inventory.js";
import { holdingAlso } from "../content/held.js";
import { isIndex, isManifest } from "../oci/media-types.js";
import { resolveReferrers } from "./referrers.js";
import { bundleChart, gatherCharts } from "./charts.js";
import type { ChartSpec } from "../charts/spec.js";

/** Events of a save: the copy engine's, plus phases and bundle-writing progress. */
export type SaveEvent =
  | CopyEvent
  | { type: "phase"; phase: "download"; images?: number; bytes?: number }
  | { type: "notice"; level: "warning" | "info"; message: string };

/** Options of {@link saveBundle}. */
export interface SaveOptions {
  imagelist: Imagelist;
  /** Folder of Kubernetes manifests to rewrite and carry; absent folder = none. */
  manifestsDir?: string;
  /** True when the user named the manifests folder (then it must exist). */
  manifestsRequired?: boolean;
  /** Add images the manifests use but the imagelist lacks. */
  addManifestImages?: boolean;
  /** Warn about such images instead of failing. */
  allowMissing?: boolean;
  /** Largest manifest file read. */
  maxManifestBytes?: number;
  /** Rewrite `name:tag` to `name:tag@sha256:…` with the digest resolved now. */
  pinDigests?: boolean;
  name: string;
  version: string;
  outDir: string;
  cacheDir: string;
  force?: boolean;
  splitSize?: number;
  platforms: Platform[] | "all";
  concurrency?: number;
  registries: Registries;
  /** Pull-through mirrors of the internet side (registry/mirrors.ts); none: every image from its own registry. */
  mirrors?: MirrorTable;
  toolVersion: string;
  signal?: AbortSignal;
  onEvent?: (event: SaveEvent) => void;
  /** The local Docker engine, for `docker-daemon:` lines (and every line with `all`, i.e. `--from-daemon`). */
  docker?: { connect: () => Promise<DockerEngine>; all: boolean };
  /** Clock, for tests. */
  now?: () => Date;
  /** Carry each image's signatures, attestations, SBOMs and other referrers (default true). */
  referrers?: boolean;
  /** Make a delta: leave out the configs and layers these inventories list (what the site holds). */
  since?: BaseInventory[];
  /** Helm charts to carry (docs/charts.md). */
  charts?: ChartSpec[];
  /** The `helm` binary that renders them (undefined: none; their images are read from their values). */
  helm?: string;
}

/** What a save did. */
export interface SaveResult {
  bundle: WrittenBundle;
  json: BundleJson;
  /** A delta: the configs and layers left out because the site holds them. */
  external?: { count: number; bytes: number };
  images: number;
  uniqueBlobs: number;
  uniqueBytes: number;
  /** Bytes not stored twice thanks to deduplication (sum of image sizes minus unique bytes). */
  dedupSavedBytes: number;
  seconds: number;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Checks `--name` and `--version`, which become a file name. */
export function checkNameVersion(name: string, version: string): void {
  if (!NAME.test(name)) throw new AirgapError("INVALID_ARGUMENT", `invalid bundle name "${name}"`, { hint: "use lower-case letters, digits, . _ - (it becomes the file name)" });
  if (!VERSION.test(version)) throw new AirgapError("INVALID_ARGUMENT", `invalid bundle version "${version}"`, { hint: "use letters, digits, . _ + - (e.g. 5.1.0)" });
}

/**
 * The failures of a save as one error listing every failed image with its line and reason. Images that failed
 * for the same reason (a registry host that cannot be reached) are one line, with their count and lines.
 */
function failuresError(imagelist: Imagelist, failures: FailedImage[], lineOf: Map<string, number>, total: number): AirgapError {
  const failed = failures
    .map((f) => ({ line: lineOf.get(f.job.label) ?? 0, error: f.error }))
    .sort((a, b) => a.line - b.line);
  const byReason = new Map<string, number[]>();
  for (const f of failed) byReason.set(f.error.message, [...(byReason.get(f.error.message) ?? []), f.line]);
  const problems: Problem[] = [...byReason].map(([reason, lines]) =>
    lines.length === 1
      ? { file: imagelist.file, line: lines[0]!, reason }
      : { file: imagelist.file, line: lines[0]!, reason: `${reason} — ${plural(lines.length, "image")} (lines ${lines.join(", ")})` },
  );
  // The failures' own hints first (e.g. --ca-file, log in), each once.
  const hints = [...new Set(failed.map((f) => f.error.hint).filter((h): h is string => h !== undefined))];
  if (failed.some((f) => f.error.code === "NETWORK" && /does not resolve|unreachable/.test(f.error.message))) hints.unshift("is this host online? bundle save needs the registries the imagelist names (or a mirror)");
  hints.push("rerun when fixed: images already downloaded are kept in the cache");
  return new AirgapError("IMAGES_FAILED", `${failed.length} of ${plural(total, "image")} failed; no bundle was written`, { problems, hint: hints.join("; ") });
}

/** Resolves every image, then writes each blob straight into the bundle (from the cache when it is there). */
export async function saveBundle(options: SaveOptions): Promise<SaveResult> {
  const started = Date.now();
  checkNameVersion(options.name, options.version);
  await assertCanWrite(options.outDir, options.name, options.version, options.force ?? false);
  const scans = await scanManifestDir(options.manifestsDir ?? "manifests", options.manifestsRequired ?? false, options.maxManifestBytes);
  const signal = options.signal;
  const mirrors = new MirrorSources(options.mirrors, options.registries, (message) => options.onEvent?.({ type: "notice", level: "warning", message }));
  // Charts first (a few KB each): the images they deploy join the manifests' before anything is downloaded.
  const charts = await gatherCharts(options.charts ?? [], { registries: options.registries, sourceFor: (ref, label) => mirrors.source(ref, label), helm: options.helm, ...(signal && { signal }) });
  if (charts.some((c) => c.found === "values")) {
    options.onEvent?.({ type: "notice", level: "warning", message: "helm is not on the PATH: the charts' images are read from their values and helm.sh/images annotations, not from their rendered templates" });
  }
  const findings = [...scans.flatMap((s) => s.findings), ...charts.flatMap((c) => c.findings)];
  const entries = withManifestImages(options, findings);
  const coverage = checkCoverage(findings, entries);
  reportCoverage(options, coverage);
  const lineOf = new Map(entries.map((e) => [e.normalized, e.line]));
  const fromDaemon = (e: ImagelistEntry) => e.transport === "docker-daemon" || options.docker?.all === true;
  // Inputs checked, the network now: reach each registry (scheme, auth challenge) while the cache is opened;
  // a failure here surfaces at the first real request, with the image that made it.
  const sources = new Map(entries.filter((e) => !fromDaemon(e)).map((e) => [e, mirrors.source(e.ref, e.normalized)]));
  const hosts = [...sources.values()].flatMap((s) => (s instanceof MirroredSource ? s.hosts : [s.mountDomain]));
  for (const host of new Set(hosts)) void options.registries.host(host).base(signal).catch(() => undefined);

  const layout = await OciLayout.open(options.cacheDir);
  // Blobs that a killed run had already written into its unfinished bundle go to the cache first.
  await recoverUnfinished(options.outDir, options.name, options.version, layout);
  options.onEvent?.({ type: "phase", phase: "download", images: entries.length });
  const engine = new CopyEngine({
    policy: savePolicy(options.platforms),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(signal && { signal }),
    ...(options.onEvent && { onEvent: options.onEvent }),
  });
  let daemon: ArchiveSource | undefined;
  if (entries.some(fromDaemon)) {
    if (!options.docker) throw new AirgapError("INVALID_ARGUMENT", "docker-daemon: images need a Docker engine");
    daemon = daemonSource(options.docker.connect, layout);
  }
  const jobs: CopyJob[] = entries.map((e) => ({
    label: e.normalized,
    ref: e.ref,
    source: sources.get(e) ?? daemon!,
    sink: layout,
  }));
  const transportOf = new Map(entries.filter(fromDaemon).map((e) => [e.normalized, "docker-daemon" as const]));
  const resolved = await Promise.all(jobs.map((job) => engine.resolve(job)));
  const ok = resolved.filter((r): r is ResolvedImage => !("error" in r));
  const failed = resolved.filter((r): r is FailedImage => "error" in r);
  const aborted = () => new AirgapError("ABORTED", "save cancelled; rerun to resume: what was downloaded is in the cache");

  if (failed.length > 0) {
    // No bundle this time: fetch the others into the cache, so a rerun after the fix is fast.
    const more = await Promise.all(ok.map((r) => engine.transfer(r)));
    if (signal?.aborted) throw aborted();
    throw failuresError(options.imagelist, [...failed, ...more.filter((r): r is FailedImage => "error" in r)], lineOf, entries.length);
  }
  if (signal?.aborted) throw aborted();
  // Signatures, attestations and SBOMs travel with their images: copied like images, recorded apart.
  const referrers = options.referrers === false ? [] : await resolveReferrers(ok, new CopyEngine({ policy: REFERRERS_POLICY, ...(signal && { signal }), ...(options.onEvent && { onEvent: options.onEvent }) }), signal);
  const carried = [...ok, ...referrers.map((r) => r.image)];

  const all = new Map<string, Descriptor>();
  for (const image of carried) for (const d of image.blobs) if (!all.has(d.digest)) all.set(d.digest, d);
  // A delta carries every manifest (a few KB each: every graph can be read from it) and the configs and layers the
  // site lacks; those it holds are recorded as the delta's base, each with a repository that holds it.
  const held = mergeInventories((options.since ?? []).map((b) => b.inventory)).blobs;
  const external = [...all.values()].filter((d) => !isManifest(d.mediaType) && !isIndex(d.mediaType) && held[d.digest] !== undefined);
  const left = new Set(external.map((d) => d.digest));
  const blobs = new Map([...all].filter(([digest]) => !left.has(digest)));
  // Laid out in the order they will be written: manifests and configs, in memory (verified) since the resolve,
  // go with the headers (the bundle's hash then need not wait for each image's manifest, which the copy writes
  // after its layers); then the rest largest first, the order the engine starts them in (first seen first
  // among equals).
  const inMemory = new Map<string, Buffer>();
  for (const image of carried) for (const m of [image.top, ...image.children, ...image.contents]) if (m.bytes) inMemory.set(m.descriptor.digest, m.bytes);
  for (const c of charts) {
    for (const b of [c.artifact.manifest, c.artifact.config, ...c.artifact.layers]) {
      inMemory.set(b.descriptor.digest, b.bytes);
      if (!blobs.has(b.descriptor.digest)) blobs.set(b.descriptor.digest, b.descriptor);
    }
  }
  const order = [...blobs.values()].map((d, i) => ({ d, i, early: inMemory.has(d.digest) }));
  order.sort((a, b) => Number(b.early) - Number(a.early) || (a.early ? 0 : b.d.size - a.d.size) || a.i - b.i);
  const uniqueBytes = [...blobs.values()].reduce((n, d) => n + d.size, 0);
  const totalBytes = ok.reduce((n, i) => n + i.size, 0);
  const target = bundleTarget(options, coverage, ok);
  const manifests = rewriteForBundle(scans, target);
  const json = bundleJson(options, ok, lineOf, transportOf, manifests, blobs.size, uniqueBytes);
  if (referrers.length > 0) json.referrers = referrers.map((r) => r.referrer);
  const chartEntries = charts.map((c) => bundleChart(c, coverage, target));
  if (charts.length > 0) json.charts = chartEntries.map((e) => e.json);
  if (options.since) {
    json.base = {
      inventories: options.since.map((b) => ({ sha256: b.sha256, source: b.inventory.source, created: b.inventory.created })),
      blobs: external.map((d) => ({ digest: d.digest, size: d.size, repository: held[d.digest]!.repository })),
      external: { count: external.length, bytes: external.reduce((n, d) => n + d.size, 0) },
    };
  }

  const writer = await BundleWriter.open({
    outDir: options.outDir,
    contents: {
      bundle: json,
      index: [
        ...ok.map((i) => ({ descriptor: i.top.descriptor, ref: i.job.label })),
        ...referrers.map((r) => ({ descriptor: r.image.top.descriptor, ref: r.referrer.name })),
        ...chartEntries.map((e) => ({ descriptor: e.manifest, ref: e.json.target })),
      ],
      blobs: order.map((l) => l.d),
      manifests,
      files: chartEntries.flatMap((e) => e.files),
      imagelistText: `${entries.map((e) => e.normalized).join("\n")}\n`,
    },
    ...(options.force !== undefined && { force: options.force }),
    ...(options.splitSize !== undefined && { splitSize: options.splitSize }),
    known: inMemory,
  });
  let bundle: WrittenBundle;
  try {
    const sink = holdingAlso(writer.sink, left);
    // A layer cut off by an earlier run (Ctrl-C) resumes from the bytes that run kept.
    const onResume = (d: Descriptor, from: number) => options.onEvent?.({ type: "notice", level: "info", message: `resuming ${d.digest} from byte ${from} of ${d.size} (kept from an interrupted save)` });
    const results = await Promise.all(carried.map((r) => engine.transfer(r, { ...r.job, source: preferLocal(layout, r.job.source, onResume), sink })));
    if (signal?.aborted) throw aborted();
    const transferFailed = results.filter((r): r is FailedImage => "error" in r);
    if (transferFailed.length > 0) {
      // A write failure (a full disk) is the story, not the list of images it broke.
      const io = transferFailed.find((f) => f.error.code === "DISK_FULL" || f.error.code === "IO");
      throw io ? io.error : failuresError(options.imagelist, transferFailed, lineOf, entries.length);
    }
    bundle = await writer.finish();
  } catch (err) {
    await writer.abort(layout);
    throw err;
  }
  return {
    bundle,
    json,
    ...(json.base && { external: json.base.external }),
    images: ok.length,
    uniqueBlobs: blobs.size,
    uniqueBytes,
    dedupSavedBytes: totalBytes - [...all.values()].reduce((n, d) => n + d.size, 0),
    seconds: (Date.now() - started) / 1000,
  };
}

/** The imagelist, plus (with addManifestImages) the images manifests and charts use that it lacks. */
function withManifestImages(options: SaveOptions, findings: ImageFinding[]): ImagelistEntry[] {
  const entries = [...options.imagelist.entries];
  if (!options.addManifestImages) return entries;
  const missing = checkCoverage(findings, entries).missing;
  const known = new Set(entries.map((e) => e.normalized));
  for (const m of missing) {
    if (m.finding.kind !== "image" || known.has(m.name)) continue;
    known.add(m.name);
    entries.push({ source: m.finding.raw, normalized: m.name, ref: m.finding.ref, line: 0 });
    options.onEvent?.({ type: "notice", level: "info", message: `added ${m.name} (used by ${findingPlace(m.finding, options.manifestsDir ?? "manifests")})` });
  }
  return entries;
}

/** Fails on images the manifests use but nobody carries (or warns, with allowMissing); tells of unused entries. */
function reportCoverage(options: SaveOptions, coverage: Coverage): void {
  const problems: Problem[] = coverage.missing.map((m) => ({
    file: m.finding.origin ? `${m.finding.origin}: ${m.finding.file}` : join(options.manifestsDir ?? "manifests", m.finding.file),
    ...(m.finding.line > 0 && { line: m.finding.line }),
    reason: `${m.name} is not in the imagelist${m.nearest ? ` (nearest: ${m.nearest.normalized}${m.nearest.line ? `, line ${m.nearest.line}` : ""})` : ""}`,
  }));
  if (problems.length > 0 && !options.allowMissing) {
    throw new AirgapError("MISSING_IMAGES", `the manifests${coverage.missing.some((m) => m.finding.origin) ? " and charts" : ""} use ${problems.length} image reference${problems.length === 1 ? "" : "s"} that the imagelist lacks; nothing was downloaded`, {
      problems,
      hint: "add them to the imagelist, or pass --add-manifest-images to fetch them too (--allow-missing to go on without them)",
    });
  }
  for (const p of problems) options.onEvent?.({ type: "notice", level: "warning", message: `${p.file}:${p.line}: ${p.reason}` });
  // With no manifests at all, every entry is "unused": say nothing.
  if (coverage.uses.size === 0) return;
  for (const e of coverage.unused) {
    options.onEvent?.({ type: "notice", level: "info", message: `${options.imagelist.file}:${e.line}: ${e.normalized} is not used by any manifest` });
  }
}

/** The digest the private registry will hold for an image: its own, or what the load pushes for a filtered index. */
function targetDigest(image: ResolvedImage): string {
  return pushedDigest(image.top, new Set(image.children.map((c) => c.descriptor.digest)));
}

/** Rewrites every manifest with `target` ({@link bundleTarget}: `{{REGISTRY}}/<host>/<path>…`), checked, as bundle entries. */
function rewriteForBundle(scans: FileScan[], target: (f: ImageFinding) => string): ManifestFileInput[] {
  return scans.map((scan) => {
    const rewritten = rewriteManifest(scan, target);
    const names = [...new Set(scan.findings.map(findingName))];
    return { path: `manifests/${scan.file}`, content: Buffer.from(rewritten.text), images: names };
  });
}

/**
 * What a reference becomes in a carried manifest: `{{REGISTRY}}/<host>/<path>…`, rendered at load. A reference pinned
 * to an index of which only some platforms are kept is pinned to what the load pushes instead (the kept manifest,
 * or the new index of the kept ones): the index digest would not resolve there.
 */
function bundleTarget(options: SaveOptions, coverage: Coverage, images: ResolvedImage[]): (f: ImageFinding) => string {
  const byName = new Map(images.map((i) => [i.job.label, i]));
  const manifestsDir = options.manifestsDir ?? "manifests";
  return (f: ImageFinding): string => {
    if (f.kind === "repository") return `${REGISTRY_PLACEHOLDER}/${targetPath(f.ref)}`;
    let ref = f.ref;
    const entry = coverage.uses.get(f)?.[0];
    const image = entry && byName.get(entry.normalized);
    if (image) {
      const pushed = targetDigest(image);
      if (ref.digest !== undefined && ref.digest === image.top.descriptor.digest && pushed !== ref.digest) {
        ref = { ...ref, digest: pushed };
        const kept = Object.keys(image.platformDigests).join(", ");
        options.onEvent?.({
          type: "notice", level: "warning",
          message: `${findingPlace(f, manifestsDir)}: ${f.raw} pins a multi-platform index of which the bundle keeps ${kept} only; pinned to ${pushed} instead (what the load pushes; --all-platforms keeps the index)`,
        });
      } else if (options.pinDigests && ref.digest === undefined) {
        ref = { ...ref, digest: pushed };
      }
    }
    return `${REGISTRY_PLACEHOLDER}/${relativeTarget(ref)}`;
  };
}

function bundleJson(
  options: SaveOptions,
  images: ResolvedImage[],
  lineOf: Map<string, number>,
  transportOf: Map<string, "docker-daemon">,
  manifests: Array<ManifestFileInput & { images?: string[] }>,
  count: number,
  bytes: number,
): BundleJson {
  const created = (options.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    format: BUNDLE_FORMAT,
    name: options.name,
    version: options.version,
    created,
    tool: { name: "airgap-bundle", version: options.toolVersion },
    platforms: options.platforms === "all" ? ["all"] : options.platforms.map(formatPlatform),
    images: images.map((i): BundleImage => {
      return {
        source: i.job.label,
        line: lineOf.get(i.job.label) ?? 0,
        digest: i.top.descriptor.digest,
        mediaType: i.top.descriptor.mediaType,
        platformDigests: i.platformDigests,
        ...(targetDigest(i) !== i.top.descriptor.digest && { targetDigest: targetDigest(i) }),
        size: i.size,
        target: relativeTarget(i.job.ref),
        ...(transportOf.has(i.job.label) && { transport: transportOf.get(i.job.label)! }),
        ...(servedByMirror(i.job.source, i.job.ref) !== undefined && { mirror: servedByMirror(i.job.source, i.job.ref)! }),
      };
    }),
    manifests: manifests.map((m) => ({ path: m.path, images: m.images ?? [] })),
    blobs: { count, bytes },
    base: null,
  };
}
