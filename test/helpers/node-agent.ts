/**
 * SIMULATED NODES — only the FALLBACK for machines where the real node (node.ts: the kubelet with containerd)
 * cannot start: not root, no cgroups, no network namespaces (`realNodeUnavailable` says which, and the callers
 * say it aloud; in CI that is a failure, never this fallback). Everything else in the cluster is real. This agent
 * plays the part of the kubelets, through the real API server:
 *
 * - registers Nodes (`node-1`, …) with a Ready condition and allocatable cpu, memory and pods, and lifts the
 *   not-ready taint the API server puts on a new node (the node lifecycle controller's part);
 * - for each pod the real scheduler binds to one of them, "pulls" its images: a HEAD of each image's manifest
 *   in the REAL test registry it names (127.0.0.1 only; any other host cannot be reached from here, as in a
 *   closed network). All present → the pod's status becomes Running and Ready (a Job's pod: Succeeded); one
 *   missing → its container waits in ErrImagePull, then ImagePullBackOff, naming the image, as a kubelet
 *   reports it; the pull is tried again every few seconds;
 * - confirms the deletion of its pods (a kubelet does so once the containers stopped), so namespaces terminate.
 *
 * Not simulated: containers do not run (no probes, no logs, no exit codes but 0), no volumes are mounted, no
 * node leases are renewed (the node lifecycle controller is off in the control plane).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ControlPlane } from "./control-plane.js";

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** A running agent. */
export interface NodeAgent {
  nodes: string[];
  stop(): Promise<void>;
}

interface Pod {
  metadata: { name: string; namespace: string; deletionTimestamp?: string; ownerReferences?: Array<{ kind: string }> };
  spec: { nodeName?: string; containers: Array<{ name: string; image: string }>; initContainers?: Array<{ name: string; image: string }> };
  status?: { phase?: string; containerStatuses?: Array<{ state?: { waiting?: { reason?: string } } }> };
}

/** HEAD of an image's manifest in its registry; undefined when pulled, else why not (as a kubelet words it). */
function pull(image: string): Promise<string | undefined> {
  const at = image.indexOf("@");
  const name = at >= 0 ? image.slice(0, at) : image;
  const slash = name.indexOf("/");
  const host = slash >= 0 ? name.slice(0, slash) : "docker.io";
  if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host)) return Promise.resolve(`dial tcp: lookup ${host.replace(/:\d+$/, "")}: no such host`);
  const rest = name.slice(slash + 1);
  const colon = rest.lastIndexOf(":");
  const repo = colon > rest.lastIndexOf("/") ? rest.slice(0, colon) : rest;
  const reference = at >= 0 ? image.slice(at + 1) : colon > rest.lastIndexOf("/") ? rest.slice(colon + 1) : "latest";
  const ask = (secure: boolean) =>
    new Promise<number>((resolve) => {
      const send = secure ? httpsRequest : httpRequest;
      const req = send(`${secure ? "https" : "http"}://${host}/v2/${repo}/manifests/${reference}`, { method: "HEAD", headers: { accept: ACCEPT }, rejectUnauthorized: false, timeout: 5000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => resolve(0));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  return ask(false).then(async (status) => {
    const s = status === 0 || status === 400 ? await ask(true) : status;
    if (s === 200) return undefined;
    if (s === 401) return `failed to pull image "${image}": unauthorized`;
    if (s === 0) return `failed to pull image "${image}": dial tcp ${host}: connect: connection refused`;
    return `failed to pull image "${image}": ${image}: not found`;
  });
}

/** Starts the agent with `count` nodes against the control plane; polls pods twice a second. */
export async function startNodeAgent(cluster: Pick<ControlPlane, "api">, count = 1): Promise<NodeAgent> {
  const nodes = Array.from({ length: count }, (_, i) => `node-${i + 1}`);
  const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  for (const name of nodes) {
    const node = { apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" } } };
    const created = await cluster.api("POST", "/api/v1/nodes", node);
    if (created.status !== 201 && created.status !== 409) throw new Error(`registering ${name}: ${JSON.stringify(created.body)}`);
    const resources = { cpu: "8", memory: "32Gi", pods: "110", "ephemeral-storage": "100Gi" };
    const status = {
      status: {
        capacity: resources, allocatable: resources,
        conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "simulated by the test node agent", lastHeartbeatTime: now(), lastTransitionTime: now() }],
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }, { type: "Hostname", address: name }],
        nodeInfo: { kubeletVersion: "simulated", containerRuntimeVersion: "none://simulated", operatingSystem: "linux", architecture: "amd64", osImage: "simulated", kernelVersion: "", kubeProxyVersion: "", machineID: "", systemUUID: "", bootID: "" },
      },
    };
    const patched = await cluster.api("PATCH", `/api/v1/nodes/${name}/status`, status, "application/merge-patch+json");
    if (patched.status !== 200) throw new Error(`setting ${name} Ready: ${JSON.stringify(patched.body)}`);
    // The API server taints a new node not-ready; the node lifecycle controller (off here: nothing renews node
    // leases) would lift it once the node is Ready. The agent does.
    const untainted = await cluster.api("PATCH", `/api/v1/nodes/${name}`, { spec: { taints: null } }, "application/merge-patch+json");
    if (untainted.status !== 200) throw new Error(`untainting ${name}: ${JSON.stringify(untainted.body)}`);
  }
  const failing = new Map<string, { since: number; reason: string; tried: number }>();
  const done = new Set<string>();
  let stopped = false;
  const tick = async () => {
    const list = await cluster.api("GET", "/api/v1/pods").catch(() => undefined);
    const pods = ((list?.body.items as Pod[] | undefined) ?? []).filter((p) => p.spec.nodeName && nodes.includes(p.spec.nodeName));
    for (const pod of pods) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
      if (pod.metadata.deletionTimestamp) {
        await cluster.api("DELETE", path, { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 }).catch(() => undefined);
        continue;
      }
      if (done.has(key) && pod.status?.phase !== "Pending") continue;
      const f = failing.get(key);
      if (f && Date.now() - f.tried < 2000) continue;
      const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
      const problems = await Promise.all(containers.map(async (c) => ({ c, why: await pull(c.image) })));
      const bad = problems.filter((p) => p.why !== undefined);
      const started = now();
      let status: Record<string, unknown>;
      if (bad.length === 0) {
        const job = pod.metadata.ownerReferences?.some((o) => o.kind === "Job") === true;
        const state = job ? { terminated: { exitCode: 0, reason: "Completed", startedAt: started, finishedAt: started } } : { running: { startedAt: started } };
        status = {
          phase: job ? "Succeeded" : "Running", hostIP: "127.0.0.1", podIP: "10.244.0.1", startTime: started,
          conditions: [
            { type: "PodScheduled", status: "True" }, { type: "Initialized", status: "True" },
            { type: "ContainersReady", status: job ? "False" : "True" }, { type: "Ready", status: job ? "False" : "True" },
          ].map((c) => ({ ...c, lastTransitionTime: started })),
          containerStatuses: pod.spec.containers.map((c) => ({ name: c.name, image: c.image, imageID: c.image, ready: !job, started: !job, restartCount: 0, state })),
        };
        done.add(key);
        failing.delete(key);
      } else {
        // The first failed pull is ErrImagePull; later ones back off, as a kubelet's do.
        const reason = f ? "ImagePullBackOff" : "ErrImagePull";
        failing.set(key, { since: f?.since ?? Date.now(), reason, tried: Date.now() });
        status = {
          phase: "Pending", hostIP: "127.0.0.1", startTime: started,
          conditions: [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "False", reason: "ContainersNotReady" }].map((c) => ({ ...c, lastTransitionTime: started })),
          containerStatuses: pod.spec.containers.map((c) => {
            const why = bad.find((b) => b.c.name === c.name)?.why;
            const waiting = why === undefined ? { reason: "PodInitializing" } : { reason, message: reason === "ErrImagePull" ? why : `Back-off pulling image "${c.image}": ${why}` };
            return { name: c.name, image: c.image, imageID: "", ready: false, started: false, restartCount: 0, state: { waiting } };
          }),
        };
      }
      await cluster.api("PATCH", `${path}/status`, { status }, "application/merge-patch+json").catch(() => undefined);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    nodes,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
