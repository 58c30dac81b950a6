/**
 * Waiting until an install is ready: Deployments, StatefulSets and DaemonSets available, Jobs complete.
 * While waiting, each workload that is not ready says why, from its pods: above all an image that cannot be
 * pulled (ImagePullBackOff, ErrImagePull), and whether that image is one the bundle carries.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { stoppedBy } from "../util/deadline.js";
import { AirgapError, type Problem } from "../errors.js";
import type { Cluster } from "./cluster.js";
import { objectKey, type KubeObject } from "./object.js";
import pLimit from "p-limit";

/** A workload not ready yet, and why. */
export interface NotReady {
  key: string;
  reason: string;
  /** Images its pods cannot pull, each with whether the bundle has it. */
  pullFailures: Array<{ image: string; reason: string; inBundle: boolean }>;
}

/** Events while waiting. */
export type WaitEvent = { type: "waiting"; notReady: NotReady[]; secondsLeft: number } | { type: "ready"; key: string };

/** How to wait. */
export interface WaitOptions {
  /** Give up at this time (epoch ms). */
  deadline: number;
  /** The rendered image references the bundle carries (as pods name them). */
  bundleImages: ReadonlySet<string>;
  /** The registry the images were loaded into, for the hint. */
  registry: string;
  onEvent?: (e: WaitEvent) => void;
  signal?: AbortSignal;
  /** Longest pause between polls (ms); they start at 250 ms. */
  maxPollMs?: number;
  /** How often to repeat an unchanged "waiting" report (ms). */
  reportEveryMs?: number;
}

const WORKLOAD_KINDS = new Set(["apps/v1/Deployment", "apps/v1/StatefulSet", "apps/v1/DaemonSet", "batch/v1/Job"]);

/** API reads at once while polling. */
const READS_AT_ONCE = 8;

/** True for the objects this waits on. */
export function isWorkload(o: KubeObject): boolean {
  return WORKLOAD_KINDS.has(`${o.apiVersion}/${o.kind}`);
}

/** Waits for every workload among `objects`; throws NOT_READY listing what is not ready (and why) at the deadline. */
export async function waitReady(cluster: Cluster, objects: readonly KubeObject[], options: WaitOptions): Promise<void> {
  let waiting = objects.filter(isWorkload);
  const limit = pLimit(READS_AT_ONCE);
  let lastReport = "";
  let lastReportAt = 0;
  for (let delay = 250; ; delay = Math.min(delay * 1.5, options.maxPollMs ?? 2000)) {
    const notReady: NotReady[] = [];
    const failed: Problem[] = [];
    // The workloads are asked about several at once (a platform has hundreds); reported in their order.
    const answers = await Promise.all(waiting.map((o) => limit(async () => {
      const live = await cluster.get(o.apiVersion, o.kind, o.metadata.name!, o.metadata.namespace);
      const state = live ? readiness(live) : { ready: false, reason: "not found (deleted?)" };
      return { o, state, pulls: !state.ready && live ? await pullFailures(cluster, live, options) : [] };
    })));
    for (const { o, state, pulls } of answers) {
      if (state.ready) {
        options.onEvent?.({ type: "ready", key: objectKey(o) });
        continue;
      }
      if (state.failed) failed.push({ text: objectKey(o), reason: state.reason });
      notReady.push({ key: objectKey(o), reason: state.reason, pullFailures: pulls });
    }
    if (failed.length > 0) throw new AirgapError("NOT_READY", `${failed.length} job${failed.length === 1 ? "" : "s"} failed`, { problems: failed });
    waiting = waiting.filter((o) => notReady.some((n) => n.key === objectKey(o)));
    if (waiting.length === 0) return;
    const now = Date.now();
    const report = JSON.stringify(notReady);
    if (report !== lastReport || now - lastReportAt >= (options.reportEveryMs ?? 15_000)) {
      options.onEvent?.({ type: "waiting", notReady, secondsLeft: Math.max(0, Math.round((options.deadline - now) / 1000)) });
      lastReport = report;
      lastReportAt = now;
    }
    if (now + delay > options.deadline) {
      throw new AirgapError("NOT_READY", `${notReady.length} workload${notReady.length === 1 ? " is" : "s are"} not ready in time`, {
        problems: notReady.map((n) => ({ text: n.key, reason: describe(n, options.registry) })),
        hint: "rerun with a longer --timeout if they are only slow; the install itself is done",
      });
    }
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    if (options.signal?.aborted) throw stoppedBy(options.signal, "stopped waiting; the objects are applied (rerun to wait again)");
  }
}

/** One line for a workload that is not ready: its state and, per unpullable image, what to do. */
export function describe(n: NotReady, registry: string): string {
  const pulls = n.pullFailures.map((p) =>
    p.inBundle
      ? `${p.reason} for ${p.image} (the bundle has it: can the nodes pull from ${registry}? a plain-HTTP registry must be listed as insecure in containerd/docker)`
      : `${p.reason} for ${p.image} (NOT in the bundle: add it to the imagelist and save again)`,
  );
  return [n.reason, ...pulls].join("; ");
}

interface Readiness {
  ready: boolean;
  failed?: boolean;
  reason: string;
}

type Status = Record<string, number | undefined> & { conditions?: Array<{ type?: string; status?: string; message?: string }> };

/** Whether a workload is ready, as `kubectl rollout status` and `kubectl wait --for=condition=complete` judge it. */
function readiness(o: KubeObject): Readiness {
  const spec = (o.spec ?? {}) as { replicas?: number; completions?: number };
  const status = (o.status ?? {}) as Status;
  const generation = (o.metadata as { generation?: number }).generation;
  // Jobs report no observedGeneration; the other controllers do once they have acted on the latest spec.
  if (o.kind !== "Job" && generation !== undefined && (status.observedGeneration ?? 0) < generation) return { ready: false, reason: "the controller has not seen the latest spec yet" };
  const want = spec.replicas ?? 1;
  switch (o.kind) {
    case "Deployment": {
      const available = status.availableReplicas ?? 0;
      const updated = status.updatedReplicas ?? 0;
      return { ready: updated >= want && available >= want, reason: `${available}/${want} replicas available` };
    }
    case "StatefulSet": {
      const ready = status.readyReplicas ?? 0;
      return { ready: ready >= want && (status.updatedReplicas ?? want) >= want, reason: `${ready}/${want} replicas ready` };
    }
    case "DaemonSet": {
      const desired = status.desiredNumberScheduled ?? 0;
      const available = status.numberAvailable ?? 0;
      return { ready: available >= desired && (status.updatedNumberScheduled ?? desired) >= desired, reason: `${available}/${desired} pods available` };
    }
    default: {
      const conditions = status.conditions ?? [];
      const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
      if (failed) return { ready: false, failed: true, reason: `failed: ${failed.message ?? "no message"}` };
      if (conditions.some((c) => c.type === "Complete" && c.status === "True")) return { ready: true, reason: "complete" };
      return { ready: false, reason: `${status.succeeded ?? 0}/${spec.completions ?? 1} completions` };
    }
  }
}

type Pod = KubeObject & { status?: { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] } };
interface ContainerStatus {
  image?: string;
  state?: { waiting?: { reason?: string; message?: string } };
}

const PULL_FAILURES = new Set(["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"]);

/** The images the workload's pods fail to pull. */
async function pullFailures(cluster: Cluster, workload: KubeObject, options: WaitOptions): Promise<NotReady["pullFailures"]> {
  const labels = (workload.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels;
  const selector = labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") : `job-name=${workload.metadata.name}`;
  const pods = (await cluster.list("v1", "Pod", workload.metadata.namespace, selector)) as Pod[];
  const seen = new Map<string, NotReady["pullFailures"][number]>();
  for (const pod of pods) {
    for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const reason = c.state?.waiting?.reason;
      if (!reason || !PULL_FAILURES.has(reason) || !c.image) continue;
      seen.set(c.image, { image: c.image, reason, inBundle: options.bundleImages.has(c.image) });
    }
  }
  return [...seen.values()];
}
