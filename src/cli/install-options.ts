/**
 * The install options `bundle install` and `bundle load` share, and the install run both drive:
 * settings → render and plan (before anything is pushed or applied) → apply and wait, or the user's script.
 */
import { readFile } from "node:fs/promises";
import type { InstallEvent, InstallMode, PreparedInstall, RenderSettings } from "../ops/install.js";
import type { ConvertedApis } from "../ops/convert-apis.js";
import type { BundleReader } from "../bundle/reader.js";
import { AirgapError, formatProblem, type Problem } from "../errors.js";
import type { Registries } from "../registry/registries.js";
import { plural } from "../util/plural.js";
import type { Cluster } from "../kube/cluster.js";
import { objectKey } from "../kube/object.js";
import { describe } from "../kube/wait.js";
import { formatRegistry, type RegistryLocation, type TargetLayout } from "../reference/target.js";
import { formatDuration, parseDuration } from "../util/duration.js";
import { REPORT_MARGIN_MS, withDeadline } from "../util/deadline.js";
import { checkOutputFolder } from "../util/output-path.js";
import type { CommandContext, OptionSpec } from "./command.js";
import { MANIFEST_SIZE_OPTION, maxManifestBytes } from "./manifest-options.js";
import { EXIT, type Output } from "./output.js";
import { DEFAULT_CLUSTER_TIMEOUT } from "./shared-options.js";

/** The install options of `--convert-apis`. */
export const CONVERT_OPTIONS: Record<string, OptionSpec> = {
  "convert-apis": { type: "boolean", describe: "Convert objects written in API versions the cluster no longer serves (CRDs and webhooks of v1beta1, Ingress, HPA v2beta1/2, PDB, CronJob, old workloads) to their successors" },
  "kube-version": { type: "string", describe: "With --convert-apis and no cluster (--dry-run, --install-script): the Kubernetes version to convert for, e.g. 1.34", requiresArg: true },
  "webhook-side-effects": { type: "string", choices: ["None", "NoneOnDryRun"], describe: "With --convert-apis: the side effects of v1beta1 webhooks that declare none (v1 refuses Unknown)", requiresArg: true },
};

/** Options of the install step. */
export const INSTALL_OPTIONS: Record<string, OptionSpec> = {
  config: { type: "string", describe: "Settings file of KEY=VALUE lines (like ai-devops.config) for {KEY} placeholders", requiresArg: true },
  set: { type: "string", array: true, describe: "A setting KEY=VALUE (repeatable; wins over --config)", requiresArg: true },
  "secret-key": { type: "string", array: true, describe: "A setting whose value is never printed (keys with SECRET, PASSWORD, TOKEN… are already)", requiresArg: true },
  "allow-unresolved": { type: "boolean", describe: "Install placeholders that have no value as they are" },
  kubeconfig: { type: "string", describe: "Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)", requiresArg: true },
  context: { type: "string", describe: "Kubeconfig context (default: its current one)", requiresArg: true },
  "request-timeout": { type: "string", describe: "Deadline of each Kubernetes API request, its credential plugin included (e.g. 30s)", default: "30s", requiresArg: true },
  "force-conflicts": { type: "boolean", describe: "Take over fields another field manager (kubectl, an operator) owns" },
  wait: { type: "boolean", describe: "Wait until Deployments, StatefulSets and DaemonSets are available and Jobs complete (--no-wait to skip)", default: true },
  timeout: { type: "string", describe: "The install's bound: every request, CRD and workload wait in it (e.g. 10m, 90s)", default: DEFAULT_CLUSTER_TIMEOUT, requiresArg: true },
  "install-script": { type: "string", describe: "Run this installer instead (REGISTRY, BUNDLE_MANIFESTS and the settings in its environment)", requiresArg: true },
  out: { type: "string", describe: "Folder for the rendered manifests (--dry-run, --install-script); new or empty unless --force", requiresArg: true },
  force: { type: "boolean", describe: "Write the rendered manifests into --out even when it already holds files" },
  ...MANIFEST_SIZE_OPTION,
  "skip-kind": { type: "string", array: true, describe: "Leave objects of this kind out of the install, e.g. a kind the cluster lacks (repeatable)", requiresArg: true },
  ...CONVERT_OPTIONS,
  "skip-preflight": { type: "boolean", describe: "Do not check the cluster (kinds, namespaces, storage, RBAC, capacity, webhooks) before going on" },
  helm: { type: "boolean", describe: "Install the bundle's charts as Helm releases with the helm on the PATH, when there is one (--no-helm: apply their rendering at save)", default: true },
};

/**
 * The command's context bounded by its `--timeout`: the signal aborts (TIMED_OUT naming the option) when it runs
 * out, and `deadline` says when, for the waits inside to end a moment before with their report.
 */
export function boundedByTimeout(context: CommandContext, args: Record<string, unknown>, what: string, fallback: string): CommandContext & { deadline: number } {
  const ms = parseDuration(String(args.timeout ?? fallback), "--timeout");
  return { ...context, signal: withDeadline(context.signal, ms, "--timeout", what), deadline: Date.now() + ms };
}

/** The cluster `--kubeconfig`/`--context` name, every request bounded by `--request-timeout` and `signal` (nothing contacted yet). */
export async function clusterFrom(args: Record<string, unknown>, signal: AbortSignal): Promise<Cluster> {
  const { connectCluster } = await import("../kube/cluster.js");
  return connectCluster({
    ...(args.kubeconfig !== undefined && { kubeconfig: String(args.kubeconfig) }),
    ...(args.context !== undefined && { context: String(args.context) }),
    requestTimeoutMs: parseDuration(String(args["request-timeout"] ?? "30s"), "--request-timeout"),
    signal,
  });
}

/** Reads `--config` and `--set` into render settings. */
export async function renderSettingsFrom(args: Record<string, unknown>, registry: RegistryLocation, layout: TargetLayout): Promise<RenderSettings> {
  const { parseConfigFile, parseSetValues, mergeSettings } = await import("../kube/config-file.js");
  const configFile = args.config as string | undefined;
  let fromFile: ReturnType<typeof parseConfigFile> = [];
  if (configFile !== undefined) {
    let text: string;
    try {
      text = await readFile(configFile, "utf8");
    } catch (err) {
      throw new AirgapError("FILE_NOT_FOUND", `--config: cannot read ${configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    fromFile = parseConfigFile(text, configFile);
  }
  return {
    registry, layout,
    settings: mergeSettings(fromFile, parseSetValues((args.set as string[] | undefined) ?? [])),
    secretKeys: (args["secret-key"] as string[] | undefined) ?? [],
    allowUnresolved: args["allow-unresolved"] === true,
    maxManifestBytes: maxManifestBytes(args),
  };
}

/** A prepared install and, unless a script or a dry run does the work, the cluster it goes to (already answering). */
export interface InstallPreflight {
  prepared: PreparedInstall;
  cluster?: Cluster;
}

/**
 * Everything that can fail before the cluster is touched: settings, rendering, the plan, and whether a cluster
 * answers. `bundle load` runs this before pushing, so a wrong setting costs seconds, not a whole load.
 */
export async function preflightInstall(reader: BundleReader, args: Record<string, unknown>, out: Output, registry: RegistryLocation, layout: TargetLayout, command: "load" | "install", signal: AbortSignal): Promise<InstallPreflight> {
  parseDuration(String(args.timeout ?? DEFAULT_CLUSTER_TIMEOUT), "--timeout");
  parseDuration(String(args["request-timeout"] ?? "30s"), "--request-timeout");
  // Checked before anything else is done, so that a run that fails later has written nowhere it should not.
  if (args.out !== undefined && (args["dry-run"] === true || args["install-script"] !== undefined)) await checkOutputFolder(String(args.out), { force: args.force === true, option: "--out" });
  const { prepareInstall } = await import("../ops/install.js");
  const offline = args["dry-run"] === true || args["install-script"] !== undefined;
  const helm = offline ? undefined : await releaseHelm(reader, args, out);
  let prepared = withoutKinds(await prepareInstall(reader, { ...(await renderSettingsFrom(args, registry, layout)), ...(helm && { helm }) }), (args["skip-kind"] as string[] | undefined) ?? [], out);
  out.setRedactor((t) => prepared.redactor.redact(t));
  for (const n of prepared.notices) out.warn(n);
  const convert = args["convert-apis"] === true;
  // Offline, conversions follow --kube-version; else the cluster says what it serves.
  if (offline && (!convert || args["kube-version"] !== undefined)) return { prepared: convert ? await convertedBy(prepared, args, out) : prepared };
  let cluster: Cluster;
  let version: string;
  try {
    cluster = await clusterFrom(args, signal);
    version = await cluster.ping();
  } catch (err) {
    // A load can go on without the cluster: say how (install has no such option).
    if (command === "load" && err instanceof AirgapError && (err.code === "NO_KUBECONFIG" || err.code === "KUBE_UNREACHABLE")) {
      throw new AirgapError(err.code, err.message, { cause: err, hint: `${err.hint ?? "fix the cluster settings"}; or pass --no-install to only push the images` });
    }
    if (offline && err instanceof AirgapError && (err.code === "NO_KUBECONFIG" || err.code === "KUBE_UNREACHABLE")) {
      throw new AirgapError(err.code, err.message, { cause: err, hint: "--convert-apis asks the cluster which API versions it serves; without one, name its version with --kube-version (e.g. 1.34)" });
    }
    throw err;
  }
  out.info(`cluster: ${cluster.server} (Kubernetes ${version}), default namespace ${cluster.defaultNamespace}`);
  if (convert && args["kube-version"] !== undefined) out.warn(`--kube-version ${String(args["kube-version"])} is not used: the cluster answers, and what it serves decides what is converted`);
  if (convert) prepared = await convertedBy(prepared, args, out, cluster);
  return offline ? { prepared } : { prepared, cluster };
}

/**
 * The helm the bundle's charts are installed with as releases: the one on the PATH unless `--no-helm`; said once
 * either way (a chart saved without a rendering needs it).
 */
async function releaseHelm(reader: BundleReader, args: Record<string, unknown>, out: Output): Promise<string | undefined> {
  const charts = reader.bundle.charts ?? [];
  if (charts.length === 0) return undefined;
  if (args.helm === false) {
    out.info(`--no-helm: ${plural(charts.length, "chart")} installed from ${charts.length === 1 ? "its" : "their"} rendering at save, applied like the manifests`);
    return undefined;
  }
  const { findHelm } = await import("../charts/render.js");
  const helm = await findHelm();
  if (helm === undefined) out.info(`helm is not on the PATH: ${plural(charts.length, "chart")} installed from ${charts.length === 1 ? "its" : "their"} rendering at save, applied like the manifests`);
  else out.info(`${plural(charts.length, "chart")} installed as Helm release${charts.length === 1 ? "" : "s"} with ${helm}, image references relocated by its post-renderer`);
  return helm;
}

/**
 * The prepared install with its objects converted to the API versions the cluster serves (or, without one,
 * those `--kube-version` serves); each conversion said once per kind, and what the user should know per object.
 */
async function convertedBy(prepared: PreparedInstall, args: Record<string, unknown>, out: Output, cluster?: Cluster): Promise<PreparedInstall> {
  const { convertApis, removedIn } = await import("../ops/convert-apis.js");
  const version = args["kube-version"] === undefined ? undefined : String(args["kube-version"]);
  const needs = cluster
    ? async (apiVersion: string, kind: string, to: string) => (await cluster.resource(apiVersion, kind)) === undefined && (await cluster.resource(to, kind)) !== undefined
    : removedIn(kubeVersion(version!));
  const sideEffects = args["webhook-side-effects"] as "None" | "NoneOnDryRun" | undefined;
  const converted = await convertApis(prepared.plan, prepared.files, needs, { ...(sideEffects && { webhookSideEffects: sideEffects }) });
  reportConversions(converted, out);
  return { ...prepared, plan: converted.plan, files: converted.files };
}

/** Says each conversion once per kind and version, then what the user should know per object. */
export function reportConversions(converted: Pick<ConvertedApis, "kinds" | "notes">, out: Output): void {
  for (const k of converted.kinds) out.info(`converted ${plural(k.count, k.kind)} ${k.from} → ${sameGroup(k.from, k.to) ? k.to.split("/").pop() : k.to}`);
  for (const n of converted.notes) out.info(`  ${n}`);
}

/** `--kube-version`, checked. */
export function kubeVersion(text: string): string {
  if (!/^v?\d+\.\d+(\.\d+)?$/.test(text.trim())) throw new AirgapError("INVALID_ARGUMENT", `--kube-version: "${text}" is not a Kubernetes version (e.g. 1.34)`);
  return text.trim();
}

function sameGroup(a: string, b: string): boolean {
  return a.includes("/") && b.includes("/") && a.split("/")[0] === b.split("/")[0];
}

/** The prepared install without the objects of the kinds `--skip-kind` names (said once per kind). */
export function withoutKinds(prepared: PreparedInstall, kinds: readonly string[], out: Output): PreparedInstall {
  if (kinds.length === 0) return prepared;
  const skip = new Set(kinds.map((k) => k.toLowerCase()));
  const left = prepared.plan.filter((p) => skip.has(p.object.kind.toLowerCase()));
  for (const kind of new Set(left.map((p) => p.object.kind))) {
    out.warn(`--skip-kind ${kind}: leaving out ${left.filter((p) => p.object.kind === kind).map((p) => objectKey(p.object)).join(", ")}`);
  }
  return { ...prepared, plan: prepared.plan.filter((p) => !skip.has(p.object.kind.toLowerCase())) };
}

/** Renders the bundle's manifests only to check their references (`load --no-install`): unresolved settings are left. */
export async function prepareForCheck(reader: BundleReader, args: Record<string, unknown>, registry: RegistryLocation, layout: TargetLayout): Promise<PreparedInstall> {
  const { prepareInstall } = await import("../ops/install.js");
  return prepareInstall(reader, { ...(await renderSettingsFrom(args, registry, layout)), allowUnresolved: true, unrenderedCharts: "leave-out" });
}

/**
 * Asks the registry for every image reference of the rendered manifests (what the cluster will pull); throws
 * LOAD_FAILED listing each one that does not resolve with its file:line. References to other registries are warned of.
 */
export async function checkRenderedReferences(
  files: PreparedInstall["files"],
  registry: RegistryLocation,
  connection: { registries: Registries },
  out: Output,
  context: CommandContext,
): Promise<void> {
  const { requireReferences } = await import("../ops/check-references.js");
  await requireReferences(files, registry, connection.registries.host(registry.host), { signal: context.signal, notice: referenceNotice(out) });
}

/** How the CLI says what the rendered-reference check found. */
export function referenceNotice(out: Output): (level: "warning" | "info", message: string, problem?: Problem) => void {
  return (level, message, problem) => {
    if (level === "info") out.info(message);
    else out.warn(problem ? `${formatProblem(problem)} (${message})` : message);
  };
}

/** Runs the install (apply and wait, the script, or the dry run); returns the exit code. */
export async function performInstall(pre: InstallPreflight, reader: BundleReader, args: Record<string, unknown>, out: Output, context: CommandContext): Promise<number> {
  const { install, describePlan, planKey } = await import("../ops/install.js");
  const outcome = await install(pre.prepared, installMode(pre, reader, args, out, context), { onEvent: installRenderer(out, pre.prepared.registry), signal: context.signal });
  switch (outcome.kind) {
    case "dry-run":
      out.result(
        [`would apply ${plural(outcome.plan.length, "object")}, in this order:`, ...describePlan(outcome.plan).map((l) => `  ${l}`), `rendered ${plural(outcome.files.length, "file")} into ${outcome.out}`].join("\n"),
        { dryRun: true, out: outcome.out, files: outcome.files, plan: outcome.plan.map((p) => ({ file: p.file, document: p.document, object: planKey(p) })) },
      );
      return EXIT.OK;
    case "script":
      if (outcome.exitCode !== 0) out.info(`install script exited with ${outcome.exitCode}`);
      return outcome.exitCode;
    case "apply": {
      const r = outcome.result;
      const releases = r.releases.length === 0 ? "" : `; ${plural(r.releases.length, "Helm release")} (${r.releases.map((x) => `${x.name} revision ${x.revision}`).join(", ")})`;
      const summary = `${plural(r.objects.length, "object")}: ${r.created} created, ${r.configured} configured, ${r.unchanged} unchanged${releases}${r.waited ? "; every workload ready" : ""}`;
      if (out.json) out.jsonLine({ type: "install-summary", created: r.created, configured: r.configured, unchanged: r.unchanged, releases: r.releases, ready: r.waited });
      else out.info(summary);
      return EXIT.OK;
    }
  }
}

/** The install mode the options ask for: --dry-run, --install-script, else apply to the cluster. */
function installMode(pre: InstallPreflight, reader: BundleReader, args: Record<string, unknown>, out: Output, context: CommandContext): InstallMode {
  if (args["dry-run"]) return { kind: "dry-run", out: String(args.out ?? "rendered") };
  if (args["install-script"] !== undefined) {
    return {
      kind: "script",
      script: String(args["install-script"]),
      ...(args.out !== undefined && { out: String(args.out) }),
      bundleName: reader.bundle.name, bundleVersion: reader.bundle.version,
      ...(args.kubeconfig !== undefined && { kubeconfig: String(args.kubeconfig) }),
      stdout: out.resultStream, stderr: out.errorStream,
    };
  }
  if (!pre.cluster) throw new AirgapError("KUBE_UNREACHABLE", "no cluster to install into");
  const relocation = pre.prepared.relocation;
  return {
    kind: "apply",
    cluster: pre.cluster,
    helm: {
      ...(args.kubeconfig !== undefined && { kubeconfig: String(args.kubeconfig) }),
      ...(args.context !== undefined && { context: String(args.context) }),
      // helm runs this very tool (`bundle helm-post-render`) on the release's manifests before applying them.
      postRenderer: {
        command: process.execPath,
        args: [process.argv[1]!, "helm-post-render", "--registry", formatRegistry(relocation.registry), "--target-layout", relocation.layout, ...[...relocation.repins].flatMap(([from, to]) => ["--repin", `${from}=${to}`])],
      },
    },
    force: args["force-conflicts"] === true,
    wait: args.wait !== false,
    // The waits end a moment before the command's bound, so that what is not ready is said.
    timeoutMs: context.deadline !== undefined ? Math.max(0, context.deadline - REPORT_MARGIN_MS - Date.now()) : parseDuration(String(args.timeout ?? DEFAULT_CLUSTER_TIMEOUT), "--timeout"),
  };
}

/** Prints install events: one line per object (stdout), waiting reports (stderr), or JSON lines. */
function installRenderer(out: Output, registry: string): (e: InstallEvent) => void {
  return (e) => {
    if (out.json) {
      out.jsonLine(e);
      return;
    }
    switch (e.type) {
      case "applied":
        out.result(`${e.key} ${e.outcome}${e.message ? `: ${e.message}` : ""}`, e);
        break;
      case "crd-wait":
        out.info(`waiting for CustomResourceDefinition ${e.crd} to be Established (before the first ${e.kind})`);
        break;
      case "phase":
        if (e.phase === "wait") out.info("waiting until every workload is ready");
        break;
      case "release":
        out.result(`release ${e.name} (${e.chart}) in ${e.namespace}: revision ${e.revision} ${e.status}`, e);
        break;
      case "ready":
        out.info(`ready: ${e.key}`);
        break;
      case "waiting":
        out.info(`not ready yet (${formatDuration(e.secondsLeft * 1000)} left):`);
        for (const n of e.notReady) out.info(`  ${n.key}: ${describe(n, registry)}`);
        break;
      case "notice":
        out.warn(e.message);
        break;
    }
  };
}
