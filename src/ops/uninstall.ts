/**
 * `bundle uninstall` as a function: the bundle's manifests rendered for their identities (kind, namespace, name;
 * other placeholders may stay), then every object deleted last first, and — with `wait` — the namespaces and the
 * deleted workloads' pods waited for (kube/uninstall.ts).
 */
import { AirgapError } from "../errors.js";
import type { Cluster } from "../kube/cluster.js";
import { uninstallPlan, type UninstallEvent, type UninstallResult } from "../kube/uninstall.js";
import { plural } from "../util/plural.js";
import type { BundleReader } from "../bundle/reader.js";
import { prepareInstall, type PreparedInstall, type RenderSettings } from "./install.js";
import { releaseExists, uninstallRelease, type HelmCluster } from "../charts/release.js";

/** Renders the plan an uninstall deletes; UNRESOLVED_PLACEHOLDERS when a name or namespace has no value. */
export async function prepareUninstall(reader: BundleReader, settings: RenderSettings): Promise<PreparedInstall> {
  if (reader.manifestFiles().length === 0 && (reader.bundle.charts ?? []).length === 0) throw new AirgapError("INVALID_ARGUMENT", `${reader.path} carries no manifests or charts`);
  const prepared = await prepareInstall(reader, { ...settings, allowUnresolved: true, unrenderedCharts: "leave-out" });
  const unnamed = prepared.plan.filter((p) => /\{[A-Za-z_]/.test(`${p.object.metadata.name ?? ""}${p.object.metadata.namespace ?? ""}`));
  if (unnamed.length > 0) {
    throw new AirgapError("UNRESOLVED_PLACEHOLDERS", `${unnamed.length} object${unnamed.length === 1 ? "'s" : "s'"} name or namespace is a placeholder without a value`, {
      problems: unnamed.map((p) => ({ file: p.file, text: `${p.object.kind} ${p.object.metadata.name ?? ""}`, reason: "give its value with --config or --set" })),
    });
  }
  return prepared;
}

/** Deletes what `prepared` plans from `cluster`; INSTALL_FAILED listing what could not be deleted. */
export async function uninstallPrepared(
  prepared: PreparedInstall,
  cluster: Cluster,
  options: { wait: boolean; deadline: number; signal?: AbortSignal; onEvent?: (e: UninstallEvent) => void },
): Promise<UninstallResult> {
  await cluster.ping();
  const result = await uninstallPlan(cluster, prepared.plan, options);
  if (result.failed.length > 0) {
    throw new AirgapError("INSTALL_FAILED", `${plural(result.failed.length, "object")} could not be deleted`, { problems: result.failed.map((f) => ({ text: f.key, reason: f.message })) });
  }
  return result;
}

/**
 * The bundle's charts that were installed as Helm releases, uninstalled by `helm uninstall` (their namespaces
 * stay); returns the plan without what they held, and the releases removed. A chart installed from its rendering
 * (no release of its name in its namespace) stays in the plan.
 */
export async function uninstallReleases(
  reader: BundleReader,
  prepared: PreparedInstall,
  helm: string,
  options: HelmCluster & { wait: boolean; deadline: number; onRelease?: (name: string, namespace: string) => void },
): Promise<{ prepared: PreparedInstall; removed: string[] }> {
  const removed: string[] = [];
  const released = new Set<string>();
  for (const c of reader.bundle.charts ?? []) {
    const bound = { ...options, timeoutMs: Math.max(1000, options.deadline - Date.now()) };
    if (!(await releaseExists(helm, c.release, c.namespace, bound))) continue;
    await uninstallRelease(helm, c.release, c.namespace, bound);
    options.onRelease?.(c.release, c.namespace);
    removed.push(c.release);
    if (c.rendered !== undefined) released.add(c.rendered);
  }
  return { prepared: { ...prepared, plan: prepared.plan.filter((p) => !released.has(p.file)) }, removed };
}
