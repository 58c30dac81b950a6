/**
 * Install: the bundle's manifests rendered for this network (registry, settings), then applied to the cluster
 * and waited for — or written out (`--dry-run`), or handed to the user's own installer (`--install-script`).
 * `prepareInstall` does everything that needs no cluster, so `bundle load` can refuse bad settings before
 * pushing a byte.
 */
import { plural } from "../util/plural.js";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { AirgapError, type Problem } from "../errors.js";
import { applyPlan, type ApplyEvent, type AppliedObject } from "../kube/apply.js";
import type { Cluster } from "../kube/cluster.js";
import { SECRET_KEY_PATTERN, type Setting } from "../kube/config-file.js";
import { objectKey, planInstall, type PlannedObject } from "../kube/plan.js";
import { Redactor, renderManifests, secretValues, type ManifestText } from "../kube/render.js";
import { runInstallScript, type TextSink } from "../kube/script.js";
import { waitReady, type WaitEvent } from "../kube/wait.js";
import { parseReference } from "../reference/reference.js";
import { formatRegistry, targetReference, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import { pushedDigest } from "../content/kept-platforms.js";
import { isIndex } from "../oci/media-types.js";
import { DEFAULT_MAX_MANIFEST_BYTES } from "../kube/limits.js";
import { formatBytes } from "../util/size.js";
import { ENTRY } from "../bundle/format.js";
import type { BundleReader } from "../bundle/reader.js";
import type { BundleChart } from "../bundle/format.js";
import type { KubeObject } from "../kube/object.js";
import { relocation, rewriteManifest } from "../kube/rewrite.js";
import { scanManifest } from "../kube/scan.js";
import { repositoryOf } from "../reference/reference.js";
import { MAX_CHART_BYTES } from "../charts/archive.js";
import { HELM_CHART_CONTENT } from "../charts/artifact.js";
import { renderChart } from "../charts/render.js";
import { upgradeRelease, type Command, type HelmCluster, type InstalledRelease, type ReleaseSpec } from "../charts/release.js";

/** What to render with. */
export interface RenderSettings {
  registry: RegistryLocation;
  layout: TargetLayout;
  settings: ReadonlyMap<string, Setting>;
  /** `--secret-key` names (on top of the keys that look secret). */
  secretKeys: readonly string[];
  /** `--allow-unresolved`: leave unknown placeholders as they are. */
  allowUnresolved: boolean;
  /** Largest manifest file read from the bundle (`--max-manifest-size`). */
  maxManifestBytes?: number;
  /** Charts saved without a rendering (no helm at save): refused (an install), or left out (a check, an uninstall). */
  unrenderedCharts?: "refuse" | "leave-out";
  /** The closed side's `helm`: charts are rendered by it and installed as Helm releases (else from their rendering at save). */
  helm?: string;
}

/** A chart installed as a Helm release. */
export interface HelmRelease extends ReleaseSpec {
  /** Its workloads as helm renders them (relocated), waited for like the manifests'. */
  workloads: KubeObject[];
}

/** How helm's output is relocated: the same mapping `bundle helm-post-render` applies as Helm's post-renderer. */
export interface Relocation {
  registry: RegistryLocation;
  layout: TargetLayout;
  /** `repository@digest` → the digest the registry holds instead (an index of which the load pushed some platforms). */
  repins: ReadonlyMap<string, string>;
}

/** A rendered, planned install, not yet applied. */
export interface PreparedInstall {
  files: ManifestText[];
  plan: PlannedObject[];
  redactor: Redactor;
  /** Notices for the user (settings that disagree, placeholders left unresolved on purpose). */
  notices: string[];
  /** Image references as pods will name them, for the ImagePullBackOff report. */
  bundleImages: Set<string>;
  settings: ReadonlyMap<string, Setting>;
  registry: string;
  /** Charts installed as Helm releases (with {@link RenderSettings.helm}), before the plan is applied. */
  releases: HelmRelease[];
  helm?: string;
  relocation: Relocation;
}

/** Renders and plans the bundle's manifests; throws UNRESOLVED_PLACEHOLDERS listing each file:line. */
export async function prepareInstall(reader: BundleReader, options: RenderSettings): Promise<PreparedInstall> {
  const cap = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const large = reader.manifestFiles().filter((name) => reader.entries.get(name)!.size > cap);
  if (large.length > 0) {
    throw new AirgapError("INVALID_BUNDLE", `${reader.path}: ${large.length} manifest file${large.length === 1 ? " is" : "s are"} larger than ${formatBytes(cap)}`, {
      problems: large.map((name) => ({ file: name, reason: formatBytes(reader.entries.get(name)!.size) })),
      hint: "raise the limit with --max-manifest-size if the bundle was saved with a larger one",
    });
  }
  const files: ManifestText[] = await Promise.all(
    reader.manifestFiles().map(async (name) => ({ path: name.slice(ENTRY.manifestsDir.length), text: (await reader.readEntry(name)).toString("utf8") })),
  );
  const chartTexts = options.helm === undefined ? await chartFiles(reader, options.unrenderedCharts ?? "refuse") : [];
  const images = (reader.bundle.images ?? []).map((i) => parseReference(i.source));
  const repins = await targetDigests(reader);
  const repinned = (reader.bundle.images ?? []).flatMap((image, i) => (repins[i] !== image.digest ? [{ ref: images[i]!, from: image.digest, to: repins[i]! }] : []));
  const relocate: Relocation = { registry: options.registry, layout: options.layout, repins: new Map(repinned.map((r) => [`${repositoryOf(r.ref)}@${r.from}`, r.to])) };
  const charts = options.helm === undefined ? [] : await Promise.all((reader.bundle.charts ?? []).map((c) => chartRelease(reader, c, options.helm!, relocate)));
  const renderOptions = { registry: options.registry, layout: options.layout, images, settings: options.settings, repins: repinned };
  const rendered = renderManifests(files, renderOptions);
  // A chart's output gets the registry only: its braces (`{{NAME}}` in a config it templates) are its own, not our settings.
  const renderedCharts = renderManifests(chartTexts, { ...renderOptions, settings: new Map() }).files;
  const redactor = new Redactor(secretValues(options.settings, options.secretKeys, SECRET_KEY_PATTERN));
  const notices = [...rendered.notices];
  if (rendered.unresolved.length > 0) {
    if (!options.allowUnresolved) {
      throw new AirgapError("UNRESOLVED_PLACEHOLDERS", `${rendered.unresolved.length} placeholder${rendered.unresolved.length === 1 ? "" : "s"} without a value`, {
        problems: rendered.unresolved,
        hint: "give values with --config FILE or --set KEY=VALUE (or --allow-unresolved to install them as they are)",
      });
    }
    notices.push(`${rendered.unresolved.length} placeholder(s) left as they are (--allow-unresolved)`);
  }
  const bundleImages = new Set<string>();
  (reader.bundle.images ?? []).forEach((image, i) => {
    const ref = images[i]!;
    bundleImages.add(targetReference(ref, options.registry, options.layout));
    const repo = targetReference({ ...ref, tag: undefined, digest: undefined }, options.registry, options.layout);
    for (const digest of [image.digest, repins[i]!, ...Object.values(image.platformDigests ?? {})]) bundleImages.add(`${repo}@${digest}`);
  });
  // Helm's output is not ours to render ({KEY} may be a template of the chart's own): only relocated.
  const releaseFiles = charts.flatMap((c) => c.files);
  const planned = planInstall([...rendered.files, ...renderedCharts, ...releaseFiles]);
  const releases = charts.map((c): HelmRelease => {
    const mine = new Set(c.files.map((f) => f.path));
    // Hooks run and go on helm's own terms (a hook Job may be deleted once done): not waited for.
    const workloads = planned.filter((p) => mine.has(p.file) && !isHelmHook(p.object)).map((p) => ({ ...p.object, metadata: { ...p.object.metadata, namespace: p.object.metadata.namespace ?? c.release.namespace } }));
    return { ...c.release, workloads };
  });
  const releasePaths = new Set(releaseFiles.map((f) => f.path));
  const plan = planned.filter((p) => !releasePaths.has(p.file)).map((p) => (isChartNamespace(p) ? { ...p, keep: true } : p));
  return {
    files: [...rendered.files, ...renderedCharts, ...releaseFiles], plan, redactor, notices, bundleImages, settings: options.settings, registry: formatRegistry(options.registry),
    releases, relocation: relocate, ...(options.helm !== undefined && { helm: options.helm }),
  };
}

/** An object helm runs as a hook (`helm.sh/hook`), not as part of the release's steady state. */
function isHelmHook(o: KubeObject): boolean {
  const annotations = o.metadata.annotations as Record<string, unknown> | undefined;
  return annotations?.["helm.sh/hook"] !== undefined;
}

/**
 * A chart as the closed side's helm renders it (`helm template` with the values carried), every reference
 * relocated as the post-renderer will: what the release will apply, for the reference check and the wait.
 */
async function chartRelease(reader: BundleReader, c: BundleChart, helm: string, relocate: Relocation): Promise<{ release: ReleaseSpec; files: ManifestText[] }> {
  const label = `chart ${c.name} ${c.version}`;
  const entry = reader.blobEntry(c.chartDigest);
  if (!entry) throw new AirgapError("INVALID_BUNDLE", `${reader.path}: ${label}: its archive ${c.chartDigest} is not in the bundle`);
  const tgz = await reader.fetchBytes({ mediaType: HELM_CHART_CONTENT, digest: c.chartDigest, size: entry.size }, MAX_CHART_BYTES);
  const values = await Promise.all(c.values.map((v) => reader.readEntry(v)));
  const target = relocation(relocate.registry, relocate.layout, relocate.repins);
  const files = (await renderChart(helm, tgz, { release: c.release, namespace: c.namespace, values, label })).map((r) => {
    const path = `${ENTRY.chartsDir}${c.name}-${c.version}/${r.file}`;
    return { path, text: rewriteManifest(scanManifest(path, r.text), target).text, namespace: c.namespace };
  });
  return { release: { name: c.release, namespace: c.namespace, label, tgz, values }, files };
}

/** The Namespace {@link chartFiles} puts first in a chart's file: created when absent, never deleted. */
function isChartNamespace(p: PlannedObject): boolean {
  return p.file.startsWith(ENTRY.chartsDir) && p.document === 1 && p.object.kind === "Namespace" && p.object.metadata.name === p.namespace;
}

/**
 * The charts' templates as helm rendered them at save, installed like the manifests (each into its release's
 * namespace, which is created when absent and never deleted). A chart saved without helm on the PATH has no
 * rendering: INVALID_BUNDLE names it.
 */
async function chartFiles(reader: BundleReader, unrenderedCharts: "refuse" | "leave-out"): Promise<ManifestText[]> {
  const charts = (reader.bundle.charts ?? []).filter((c) => c.rendered !== undefined || unrenderedCharts === "refuse");
  const unrendered = charts.filter((c) => c.rendered === undefined);
  if (unrendered.length > 0) {
    throw new AirgapError("INVALID_BUNDLE", `${reader.path}: ${unrendered.map((c) => `chart ${c.name} ${c.version}`).join(", ")} cannot be installed: helm was not on the PATH when the bundle was saved, so ${unrendered.length === 1 ? "it was" : "they were"} not rendered`, {
      hint: "save the bundle again where helm is on the PATH; the charts themselves are in the registry (helm pull) after the load",
    });
  }
  return Promise.all(charts.map(async (c) => {
    const text = (await reader.readEntry(c.rendered!)).toString("utf8");
    const namespace = c.namespace === "default" ? "" : `---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${c.namespace}\n`;
    return { path: c.rendered!, text: `${namespace}${text}`, namespace: c.namespace };
  }));
}

/**
 * The digest each image has in the registry after a load: bundle.json's `targetDigest`, or (bundles written
 * before it was recorded) what the load pushes for an index of which only some platforms were kept.
 */
async function targetDigests(reader: BundleReader): Promise<string[]> {
  const filtered = !(reader.bundle.platforms ?? []).includes("all");
  return Promise.all((reader.bundle.images ?? []).map(async (image) => {
    if (image.targetDigest !== undefined || !filtered || !isIndex(image.mediaType)) return image.targetDigest ?? image.digest;
    const top = await reader.resolve(parseReference(image.source)).catch(() => undefined);
    return top ? pushedDigest(top, new Set(Object.values(image.platformDigests ?? {}))) : image.digest;
  }));
}

/** Writes the rendered files below `dir`; files holding a secret value are readable by their owner only. */
export async function writeRendered(prepared: PreparedInstall, dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const f of prepared.files) {
    const path = resolve(dir, f.path);
    if (!path.startsWith(`${resolve(dir)}/`)) throw new AirgapError("INVALID_BUNDLE", `manifest path ${f.path} leaves the output folder`);
    await mkdir(dirname(path), { recursive: true });
    if (prepared.redactor.redact(f.text) !== f.text) {
      // Created readable by its owner only, never readable for a moment: a file already there goes first.
      await rm(path, { force: true });
      await writeFile(path, f.text, { mode: 0o600, flag: "wx" });
    } else {
      await writeFile(path, f.text);
    }
    written.push(path);
  }
  return written;
}

/** Events of an install. */
export type InstallEvent =
  | ApplyEvent
  | WaitEvent
  | { type: "phase"; phase: "apply" | "wait" | "script" | "releases"; objects?: number }
  | { type: "notice"; message: string }
  | ({ type: "release"; chart: string } & InstalledRelease);

/** How to apply and wait. */
export interface ApplyInstallOptions {
  force: boolean;
  wait: boolean;
  timeoutMs: number;
  /** How helm reaches the cluster and runs our post-renderer (needed when the install has releases). */
  helm?: HelmCluster & { postRenderer: Command };
  onEvent?: (e: InstallEvent) => void;
  signal?: AbortSignal;
}

/** The outcome of an applied install. */
export interface InstallResult {
  objects: AppliedObject[];
  releases: InstalledRelease[];
  created: number;
  configured: number;
  unchanged: number;
  waited: boolean;
}

/**
 * Installs each chart as a Helm release (`helm upgrade --install`, our relocation as its post-renderer), first:
 * what a platform installs beside it (cert-manager, an operator) is what its manifests need.
 */
async function installReleases(prepared: PreparedInstall, options: ApplyInstallOptions, deadline: number): Promise<InstalledRelease[]> {
  if (prepared.releases.length === 0) return [];
  if (prepared.helm === undefined || options.helm === undefined) throw new AirgapError("INSTALL_FAILED", "charts to install as Helm releases, but no helm to install them with");
  options.onEvent?.({ type: "phase", phase: "releases", objects: prepared.releases.length });
  const installed: InstalledRelease[] = [];
  for (const r of prepared.releases) {
    const release = await upgradeRelease(prepared.helm, r, { ...options.helm, forceConflicts: options.force, timeoutMs: Math.max(1000, deadline - Date.now()), ...(options.signal && { signal: options.signal }) });
    if (release.status !== "deployed") throw new AirgapError("INSTALL_FAILED", `${r.label}: release ${r.name} in ${r.namespace} is ${release.status} (revision ${release.revision})`, { hint: `see helm history ${r.name} -n ${r.namespace}` });
    options.onEvent?.({ type: "release", chart: r.label, ...release });
    installed.push(release);
  }
  return installed;
}

/** Applies the plan, then (with `wait`) waits until the workloads are ready. Throws INSTALL_FAILED / NOT_READY. */
export async function applyInstall(cluster: Cluster, prepared: PreparedInstall, options: ApplyInstallOptions): Promise<InstallResult> {
  const deadline = Date.now() + options.timeoutMs;
  const redact = (t: string) => prepared.redactor.redact(t);
  const releases = await installReleases(prepared, options, deadline);
  options.onEvent?.({ type: "phase", phase: "apply", objects: prepared.plan.length });
  const objects = await applyPlan(cluster, prepared.plan, {
    force: options.force, deadline, redact,
    ...(options.onEvent && { onEvent: options.onEvent }),
    ...(options.signal && { signal: options.signal }),
  });
  const failed = objects.filter((o) => o.outcome === "failed");
  if (failed.length > 0) {
    const problems: Problem[] = failed.map((o) => ({ file: o.planned.file, text: o.key, reason: o.message ?? "failed" }));
    throw new AirgapError("INSTALL_FAILED", `${failed.length} of ${plural(objects.length, "object")} could not be applied`, {
      problems, hint: "fix them and run the install again: applying is idempotent",
    });
  }
  const count = (o: string) => objects.filter((x) => x.outcome === o).length;
  const result = { objects, releases, created: count("created"), configured: count("configured"), unchanged: count("unchanged"), waited: false };
  if (!options.wait) return result;
  options.onEvent?.({ type: "phase", phase: "wait" });
  await waitReady(cluster, [...prepared.releases.flatMap((r) => r.workloads), ...objects.map((o) => o.object)], {
    deadline, bundleImages: prepared.bundleImages, registry: prepared.registry,
    ...(options.onEvent && { onEvent: options.onEvent }),
    ...(options.signal && { signal: options.signal }),
  });
  return { ...result, waited: true };
}

/** How to run the user's installer. */
export interface ScriptInstallOptions {
  script: string;
  /** Where to write the rendered manifests (`--out`); a private temporary folder, removed after, if not given. */
  out?: string;
  bundleName: string;
  bundleVersion: string;
  kubeconfig?: string;
  stdout: TextSink;
  stderr: TextSink;
  onEvent?: (e: InstallEvent) => void;
  signal?: AbortSignal;
}

/** Runs `--install-script` with REGISTRY, BUNDLE_MANIFESTS and the settings in its environment; resolves to its exit code. */
export async function scriptInstall(prepared: PreparedInstall, options: ScriptInstallOptions): Promise<number> {
  const dir = options.out ?? (await mkdtemp(join(tmpdir(), "airgap-manifests-")));
  try {
    await writeRendered(prepared, dir);
    const env: Record<string, string> = {};
    for (const s of prepared.settings.values()) env[s.key] = s.value;
    Object.assign(env, {
      REGISTRY: prepared.settings.get("REGISTRY")?.value ?? prepared.registry,
      BUNDLE_MANIFESTS: resolve(dir),
      BUNDLE_NAME: options.bundleName,
      BUNDLE_VERSION: options.bundleVersion,
      ...(options.kubeconfig && { KUBECONFIG: resolve(options.kubeconfig) }),
    });
    options.onEvent?.({ type: "phase", phase: "script" });
    return await runInstallScript({
      path: options.script, env, stdout: options.stdout, stderr: options.stderr,
      redact: (line) => prepared.redactor.redact(line),
      onNotice: (message) => options.onEvent?.({ type: "notice", message }),
      ...(options.signal && { signal: options.signal }),
    });
  } finally {
    if (options.out === undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** A planned object's `Kind/namespace/name` (the namespace as written; the cluster may default it). */
export function planKey(p: PlannedObject): string {
  return objectKey(p.object);
}

/** The plan as lines for `--dry-run`: `Kind/namespace/name  (file)`. */
export function describePlan(plan: readonly PlannedObject[]): string[] {
  return plan.map((p) => `${planKey(p)}  (${p.file})`);
}

/**
 * The three ways an install ends, chosen by the caller: the rendered manifests written for a look (`--dry-run`),
 * the user's installer run on them (`--install-script`), or applied to the cluster (and waited for).
 */
export type InstallMode =
  | { kind: "dry-run"; out: string }
  | ({ kind: "script" } & Omit<ScriptInstallOptions, "onEvent" | "signal">)
  | ({ kind: "apply"; cluster: Cluster } & Omit<ApplyInstallOptions, "onEvent" | "signal">);

/** What an install did, for the caller to report. */
export type InstallOutcome =
  | { kind: "dry-run"; out: string; files: string[]; plan: PlannedObject[] }
  | { kind: "script"; exitCode: number }
  | { kind: "apply"; result: InstallResult };

/** Installs a prepared bundle in the chosen mode. */
export async function install(prepared: PreparedInstall, mode: InstallMode, options: { onEvent?: (e: InstallEvent) => void; signal?: AbortSignal } = {}): Promise<InstallOutcome> {
  switch (mode.kind) {
    case "dry-run":
      return { kind: "dry-run", out: mode.out, files: await writeRendered(prepared, mode.out), plan: prepared.plan };
    case "script": {
      const { kind: _, ...script } = mode;
      return { kind: "script", exitCode: await scriptInstall(prepared, { ...script, ...options }) };
    }
    case "apply": {
      const { kind: _, cluster, ...apply } = mode;
      return { kind: "apply", result: await applyInstall(cluster, prepared, { ...apply, ...options }) };
    }
  }
}
