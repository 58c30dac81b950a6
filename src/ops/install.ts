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
  files.push(...(await chartFiles(reader, options.unrenderedCharts ?? "refuse")));
  const images = (reader.bundle.images ?? []).map((i) => parseReference(i.source));
  const repins = await targetDigests(reader);
  const rendered = renderManifests(files, {
    registry: options.registry, layout: options.layout, images, settings: options.settings,
    repins: (reader.bundle.images ?? []).flatMap((image, i) => (repins[i] !== image.digest ? [{ ref: images[i]!, from: image.digest, to: repins[i]! }] : [])),
  });
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
  const plan = planInstall(rendered.files).map((p) => (isChartNamespace(p) ? { ...p, keep: true } : p));
  return { files: rendered.files, plan, redactor, notices, bundleImages, settings: options.settings, registry: formatRegistry(options.registry) };
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
export type InstallEvent = ApplyEvent | WaitEvent | { type: "phase"; phase: "apply" | "wait" | "script"; objects?: number } | { type: "notice"; message: string };

/** How to apply and wait. */
export interface ApplyInstallOptions {
  force: boolean;
  wait: boolean;
  timeoutMs: number;
  onEvent?: (e: InstallEvent) => void;
  signal?: AbortSignal;
}

/** The outcome of an applied install. */
export interface InstallResult {
  objects: AppliedObject[];
  created: number;
  configured: number;
  unchanged: number;
  waited: boolean;
}

/** Applies the plan, then (with `wait`) waits until the workloads are ready. Throws INSTALL_FAILED / NOT_READY. */
export async function applyInstall(cluster: Cluster, prepared: PreparedInstall, options: ApplyInstallOptions): Promise<InstallResult> {
  const deadline = Date.now() + options.timeoutMs;
  const redact = (t: string) => prepared.redactor.redact(t);
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
  const result = { objects, created: count("created"), configured: count("configured"), unchanged: count("unchanged"), waited: false };
  if (!options.wait) return result;
  options.onEvent?.({ type: "phase", phase: "wait" });
  await waitReady(cluster, objects.map((o) => o.object), {
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
