/**
 * Uninstalling: deleting what a plan defines, in reverse order (so a file's Namespaces and CRDs go after what
 * they hold), NotFound counted as done, then optionally waiting until the namespaces are gone and the deleted
 * workloads' pods with them (a pod leaves the API server once its kubelet has stopped its containers).
 */
import { conversionFor, convertObject, NotConvertible } from "./convert.js";
import { setTimeout as sleep } from "node:timers/promises";
import { stoppedBy } from "../util/deadline.js";
import { AirgapError } from "../errors.js";
import type { Cluster } from "./cluster.js";
import { objectKey, type KubeObject } from "./object.js";
import { isWorkload, podSelector } from "./wait.js";
import { planUninstall, type PlannedObject } from "./plan.js";

/** Events while uninstalling. */
export type UninstallEvent =
  | { type: "deleted"; key: string; outcome: "deleted" | "absent" | "skipped" | "failed"; message?: string }
  | { type: "namespaces-wait"; namespaces: string[] }
  | { type: "pods-wait"; pods: string[] };

/** The outcome of an uninstall. */
export interface UninstallResult {
  deleted: number;
  absent: number;
  failed: Array<{ key: string; message: string }>;
}

/** How to uninstall. */
export interface UninstallOptions {
  /** Wait until every Namespace the plan defines, and every pod of a deleted workload, is gone, until `deadline`. */
  wait: boolean;
  deadline: number;
  onEvent?: (e: UninstallEvent) => void;
  signal?: AbortSignal;
}

/** Deletes every object of the install plan, last first. */
export async function uninstallPlan(cluster: Cluster, plan: readonly PlannedObject[], options: UninstallOptions): Promise<UninstallResult> {
  const result: UninstallResult = { deleted: 0, absent: 0, failed: [] };
  const namespaces: string[] = [];
  const workloads: KubeObject[] = [];
  for (const { object: planned, namespace } of planUninstall(plan)) {
    if (options.signal?.aborted) throw stoppedBy(options.signal, "uninstall cancelled; rerun it: what is gone stays gone");
    let object = structuredClone(planned);
    if (object.metadata.name === undefined) {
      // A generateName object has a name only the cluster knows; it goes with its namespace.
      options.onEvent?.({ type: "deleted", key: objectKey(object), outcome: "skipped", message: "generateName: the cluster chose its name" });
      continue;
    }
    try {
      let scope = await cluster.scope(object.apiVersion, object.kind);
      // Written in a version Kubernetes removed: installed (--convert-apis) under its successor, found there.
      const successor = scope ? undefined : conversionFor(object.apiVersion, object.kind)?.to;
      if (successor) {
        scope = await cluster.scope(successor, object.kind);
        // As it was installed (a workload's selector written out, for the wait on its pods); its identity at least.
        object = convertedOrRenamed(object, successor);
      }
      // A kind the cluster no longer serves (its CRD deleted above) has no objects left.
      let outcome: "deleted" | "absent" = "absent";
      if (scope) {
        if (scope === "namespaced" && !object.metadata.namespace) object.metadata.namespace = namespace ?? cluster.defaultNamespace;
        if (scope === "cluster") delete object.metadata.namespace;
        outcome = await cluster.delete(object);
      }
      result[outcome]++;
      if (object.kind === "Namespace" && object.apiVersion === "v1") namespaces.push(object.metadata.name!);
      if (outcome === "deleted" && isWorkload(object)) workloads.push(object);
      options.onEvent?.({ type: "deleted", key: objectKey(object), outcome });
    } catch (err) {
      if (!(err instanceof AirgapError) || err.code !== "KUBE_API") throw err;
      result.failed.push({ key: objectKey(object), message: err.message });
      options.onEvent?.({ type: "deleted", key: objectKey(object), outcome: "failed", message: err.message });
    }
  }
  if (options.wait && namespaces.length > 0) await waitGone(cluster, namespaces, options);
  if (options.wait && workloads.length > 0) await waitPodsGone(cluster, workloads, options);
  return result;
}

/** Waits until no pod of the deleted workloads is left: their kubelets have stopped the containers. */
async function waitPodsGone(cluster: Cluster, workloads: readonly KubeObject[], options: UninstallOptions): Promise<void> {
  let reported = "";
  for (let delay = 250; ; delay = Math.min(delay * 1.5, 2000)) {
    const lists = await Promise.all(workloads.map((w) => cluster.list("v1", "Pod", w.metadata.namespace, podSelector(w))));
    const left = [...new Set(lists.flat().map((p) => `${p.metadata.namespace}/${p.metadata.name}`))].sort();
    if (left.length === 0) return;
    if (left.join() !== reported) options.onEvent?.({ type: "pods-wait", pods: left });
    reported = left.join();
    if (Date.now() + delay > options.deadline) {
      throw new AirgapError("NOT_READY", `${left.length} pod${left.length === 1 ? "" : "s"} of the deleted workloads still stopping: ${left.slice(0, 5).join(", ")}${left.length > 5 ? ", …" : ""}`, {
        hint: "kubectl describe pod NAME shows why (a node that does not answer, a finalizer)",
      });
    }
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    if (options.signal?.aborted) throw stoppedBy(options.signal, "stopped waiting; the deletions are requested");
  }
}

async function waitGone(cluster: Cluster, names: string[], options: UninstallOptions): Promise<void> {
  let left = names;
  let reported = "";
  for (let delay = 250; ; delay = Math.min(delay * 1.5, 2000)) {
    const present = await Promise.all(left.map(async (n) => ((await cluster.get("v1", "Namespace", n)) ? n : undefined)));
    left = present.filter((n): n is string => n !== undefined);
    if (left.length === 0) return;
    if (left.join() !== reported) options.onEvent?.({ type: "namespaces-wait", namespaces: left });
    reported = left.join();
    if (Date.now() + delay > options.deadline) {
      throw new AirgapError("NOT_READY", `namespace${left.length === 1 ? "" : "s"} still terminating: ${left.join(", ")}`, {
        hint: "kubectl get namespace NAME -o yaml shows what holds it (often a finalizer)",
      });
    }
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    if (options.signal?.aborted) throw stoppedBy(options.signal, "stopped waiting; the deletions are requested");
  }
}

/** The object as --convert-apis installed it; where it could not be converted, its identity under the successor. */
function convertedOrRenamed(object: KubeObject, successor: string): KubeObject {
  try {
    return convertObject(object, { webhookSideEffects: "None" })?.object ?? { ...object, apiVersion: successor };
  } catch (err) {
    if (err instanceof NotConvertible) return { ...object, apiVersion: successor };
    throw err;
  }
}
