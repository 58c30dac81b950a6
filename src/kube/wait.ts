/**
 * Waiting until an install is ready: Deployments, StatefulSets and DaemonSets available, Jobs complete.
 * While waiting, each workload that is not ready says why, from its pods as the kubelet reports them: above all
 * an image that cannot be pulled (ImagePullBackOff, ErrImagePull, in the container runtime's words) and whether
 * that image is one the bundle carries, and a container that keeps exiting (CrashLoopBackOff, a failed Job's
 * pod) with its exit code and the last line it wrote.
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
  /** Images its pods cannot pull, each with whether the bundle has it, and the runtime's message. */
  pullFailures: Array<{ image: string; reason: string; inBundle: boolean; message?: string }>;
  /** Containers that exited with an error (a crash loop, a failed Job's pod). */
  crashes: Crash[];
}

/** A container that exited with an error, as its kubelet reports it. */
export interface Crash {
  /** `namespace/pod`. */
  pod: string;
  container: string;
  /** `CrashLoopBackOff`, or `Error` for a pod that is not restarted. */
  reason: string;
  exitCode?: number;
  /** The last line it wrote (read through the API server). */
  lastLine?: string;
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
  /** How long a workload must stay available before it counts as ready (ms; default 2 s). */
  settleMs?: number;
}

const WORKLOAD_KINDS = new Set(["apps/v1/Deployment", "apps/v1/StatefulSet", "apps/v1/DaemonSet", "batch/v1/Job"]);

/** API reads at once while polling. */
const READS_AT_ONCE = 8;

/** How long a workload must stay available, its containers not restarting, before it counts as ready. */
const SETTLE_MS = 2000;

/** When a workload was first seen available, and its pods' restarts then. */
interface ReadySince {
  at: number;
  restarts: number;
}

const NO_PROBLEMS = { pullFailures: [], crashes: [], restarts: 0 };

/**
 * A Deployment whose container exits a moment after it starts is "available" for that moment (a pod without a
 * readiness probe is ready once running): a workload counts as ready only when it stayed available for
 * `settleMs` with no container exiting or restarting meanwhile.
 */
function settled(key: string, state: Readiness, pods: PodProblems, seen: Map<string, ReadySince>, settleMs: number): Readiness {
  const since = seen.get(key);
  if (pods.crashes.length > 0 || (since && pods.restarts !== since.restarts)) {
    seen.delete(key);
    return { ready: false, reason: `${state.reason}, but a container keeps exiting` };
  }
  if (!since) seen.set(key, { at: Date.now(), restarts: pods.restarts });
  if (!since || Date.now() - since.at < settleMs) return { ready: false, reason: `${state.reason}; seeing that it stays up` };
  return state;
}

/** True for the objects this waits on. */
export function isWorkload(o: KubeObject): boolean {
  return WORKLOAD_KINDS.has(`${o.apiVersion}/${o.kind}`);
}

/** The label selector of a workload's pods: its selector's labels (a Job's pods carry its name). */
export function podSelector(workload: KubeObject): string {
  const labels = (workload.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels;
  return labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") : `job-name=${workload.metadata.name}`;
}

/** Waits for every workload among `objects`; throws NOT_READY listing what is not ready (and why) at the deadline. */
export async function waitReady(cluster: Cluster, objects: readonly KubeObject[], options: WaitOptions): Promise<void> {
  let waiting = objects.filter(isWorkload);
  const limit = pLimit(READS_AT_ONCE);
  const seen = new Map<string, ReadySince>();
  let lastReport = "";
  let lastReportAt = 0;
  for (let delay = 250; ; delay = Math.min(delay * 1.5, options.maxPollMs ?? 2000)) {
    const notReady: NotReady[] = [];
    const failed: Problem[] = [];
    // The workloads are asked about several at once (a platform has hundreds); reported in their order.
    const answers = await Promise.all(waiting.map((o) => limit(async () => {
      const live = await cluster.get(o.apiVersion, o.kind, o.metadata.name!, o.metadata.namespace);
      let state = live ? readiness(live) : { ready: false, reason: "not found (deleted?)" };
      // A Job's Complete is final; a server's pods count only once they stayed up (see settled()).
      const pods = live && (!state.ready || o.kind !== "Job") ? await podProblems(cluster, live, options) : NO_PROBLEMS;
      if (state.ready && o.kind !== "Job") state = settled(objectKey(o), state, pods, seen, options.settleMs ?? SETTLE_MS);
      return { o, state, pods };
    })));
    for (const { o, state, pods: { restarts: _, ...pods } } of answers) {
      if (state.ready) {
        options.onEvent?.({ type: "ready", key: objectKey(o) });
        continue;
      }
      const n: NotReady = { key: objectKey(o), reason: state.reason, ...pods };
      if (state.failed) failed.push({ text: objectKey(o), reason: describe(n, options.registry) });
      notReady.push(n);
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

/** One line for a workload that is not ready: its state, per unpullable image what to do, per crash its last words. */
export function describe(n: NotReady, registry: string): string {
  const pulls = n.pullFailures.map((p) => {
    const said = p.message ? `: ${p.message}` : "";
    if (!p.inBundle) return `${p.reason} for ${p.image}${said} (NOT in the bundle: add it to the imagelist and save again)`;
    const plain = p.message?.includes("server gave HTTP response to HTTPS client") === true;
    return `${p.reason} for ${p.image}${said} (the bundle has it: ${plain ? `${registry} speaks plain HTTP and the nodes' containerd does not know it` : `can the nodes pull from ${registry}?`}; bundle node-config writes the nodes' containerd configuration)`;
  });
  const crashes = n.crashes.map((c) =>
    `${c.reason}: container ${c.container} of pod ${c.pod}${c.exitCode === undefined ? "" : ` exited ${c.exitCode}`}${c.lastLine ? `, its last line: ${JSON.stringify(c.lastLine)}` : ""}`,
  );
  return [n.reason, ...pulls, ...crashes].join("; ");
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
interface Terminated {
  exitCode?: number;
  reason?: string;
}
interface ContainerStatus {
  name?: string;
  restartCount?: number;
  image?: string;
  state?: { waiting?: { reason?: string; message?: string }; terminated?: Terminated };
  lastState?: { terminated?: Terminated };
}

const PULL_FAILURES = new Set(["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"]);

/** Crashed containers of one workload whose last line is read (each a request to the node). */
const LOGS_PER_WORKLOAD = 3;

/** What a workload's pods report. */
type PodProblems = Pick<NotReady, "pullFailures" | "crashes"> & { restarts: number };

/** What the workload's pods report: images they fail to pull, containers that exited with an error, restarts. */
async function podProblems(cluster: Cluster, workload: KubeObject, options: WaitOptions): Promise<PodProblems> {
  const pods = (await cluster.list("v1", "Pod", workload.metadata.namespace, podSelector(workload))) as Pod[];
  const pulls = new Map<string, NotReady["pullFailures"][number]>();
  const crashes: Crash[] = [];
  let restarts = 0;
  for (const pod of pods) {
    for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      restarts += c.restartCount ?? 0;
      const waiting = c.state?.waiting;
      if (waiting?.reason && PULL_FAILURES.has(waiting.reason) && c.image) {
        const message = runtimeWords(waiting.message);
        pulls.set(c.image, { image: c.image, reason: waiting.reason, inBundle: options.bundleImages.has(c.image), ...(message && { message }) });
        continue;
      }
      const ended = c.state?.terminated ?? (waiting?.reason === "CrashLoopBackOff" ? c.lastState?.terminated : undefined);
      if (!ended || ended.exitCode === 0 || !c.name) continue;
      crashes.push({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, container: c.name, reason: waiting?.reason ?? ended.reason ?? "Error", ...(ended.exitCode !== undefined && { exitCode: ended.exitCode }) });
    }
  }
  await Promise.all(crashes.slice(0, LOGS_PER_WORKLOAD).map(async (c) => {
    const [namespace, pod] = c.pod.split("/") as [string, string];
    const last = (await cluster.podLog(namespace, pod, c.container, 1))?.trimEnd().split("\n").pop();
    if (last) c.lastLine = last.length > 200 ? `${last.slice(0, 200)}…` : last;
  }));
  return { pullFailures: [...pulls.values()], crashes, restarts };
}

/**
 * The container runtime's own reason, without the layers around it: containerd's `rpc error: code = NotFound desc
 * = failed to pull and unpack image "X": failed to resolve reference "X": X: not found` is said from `failed to
 * resolve reference`; the kubelet's `Back-off pulling image "X": ErrImagePull: …` from the same place.
 */
export function runtimeWords(message: string | undefined): string | undefined {
  if (!message) return undefined;
  let words = message.includes(" desc = ") ? message.slice(message.lastIndexOf(" desc = ") + " desc = ".length) : message;
  words = words.replace(/^Back-off pulling image "[^"]*"(: )?/, "").replace(/^failed to pull and unpack image "[^"]*": /, "");
  return words.trim() || undefined;
}
