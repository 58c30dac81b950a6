#!/usr/bin/env -S node --import tsx
/**
 * npm run cluster:up — a real Kubernetes cluster on this machine, left running in the background: the control
 * plane on 127.0.0.1 (test/helpers/control-plane.ts) and one real node (test/helpers/node.ts: the kubelet with
 * Debian's containerd, pods on a bridge of its own). Where the real node cannot start (not root, no cgroups), a
 * simulated node (test/helpers/node-agent.ts) stands in and it says why. Idempotent: when it runs already, it
 * only says so. Builds the binaries first when they are missing (scripts/cluster/build.sh; the first build
 * takes ~10-20 minutes on 2 cores, later ones nothing). Its last line is the admin kubeconfig.
 * State: CLUSTER_DIR (default $TMPDIR/airgap-bundle-cluster). npm run cluster:down stops it.
 */
import { spawn, spawnSync } from "node:child_process";
import { access, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { adminApi, controlPlaneBin, controlPlaneUnavailable, processAlive as alive, startControlPlane } from "../../test/helpers/control-plane.js";
import { realNodeUnavailable, startRealNode, stopRealNode, type RealNodeState } from "../../test/helpers/node.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLUSTER_DIR = process.env.CLUSTER_DIR ?? join(tmpdir(), "airgap-bundle-cluster");

/** What cluster:up leaves for cluster:down and for a second cluster:up. */
export interface State { url: string; kubeconfig: string; restrictedKubeconfig: string; pids: number[]; node?: RealNodeState }

const state = await readFile(join(CLUSTER_DIR, "state.json"), "utf8").then((t) => JSON.parse(t) as State, () => undefined);
if (state && [...state.pids, ...(state.node?.pids ?? [])].every(alive)) {
  const api = await adminApi(state.url, join(CLUSTER_DIR, "pki"));
  if ((await api("GET", "/readyz").catch(() => ({ status: 0 }))).status === 200) {
    process.stderr.write(`cluster: already running at ${state.url}\n`);
    process.stdout.write(`${state.kubeconfig}\n`);
    process.exit(0);
  }
}
// What is left of an earlier cluster is stopped and removed (its node's mounts and bridge first).
if (state?.node) await stopRealNode(state.node);
if (state) for (const pid of state.pids) if (alive(pid)) process.kill(pid, "SIGKILL");
await rm(CLUSTER_DIR, { recursive: true, force: true });
await mkdir(CLUSTER_DIR, { recursive: true });

const kubeletMissing = await access(join(controlPlaneBin(), "kubelet")).then(() => false, () => true);
if ((await controlPlaneUnavailable()) || kubeletMissing) {
  process.stderr.write("cluster: building kube-apiserver, kube-controller-manager, kube-scheduler, the kubelet and etcd from their Go modules (once; ~10-20 minutes on 2 cores on a fresh machine)\n");
  const started = Date.now();
  const ticker = setInterval(() => process.stderr.write(`cluster: still building (${Math.round((Date.now() - started) / 60_000)} min)\n`), 60_000);
  const built = spawnSync("bash", [join(ROOT, "scripts", "cluster", "build.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  clearInterval(ticker);
  if (built.status !== 0) {
    process.stderr.write("cluster: the build failed (see above)\n");
    process.exit(1);
  }
}
const why = await realNodeUnavailable();
const cluster = await startControlPlane({ dir: CLUSTER_DIR, detached: true, simulatedNodes: why !== undefined });
const next: State = { url: cluster.url, kubeconfig: cluster.kubeconfig, restrictedKubeconfig: cluster.restrictedKubeconfig, pids: [...cluster.pids] };
let nodeLine: string;
if (why) {
  const log = openSync(join(CLUSTER_DIR, "logs", "node-agent.log"), "a");
  const agent = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "cluster", "node-agent.mts"), CLUSTER_DIR, cluster.url], { cwd: ROOT, detached: true, stdio: ["ignore", log, log] });
  agent.unref();
  next.pids.push(agent.pid!);
  await writeFile(join(CLUSTER_DIR, "state.json"), JSON.stringify(next, null, 2));
  for (let i = 0; i < 100; i++) {
    const nodes = await cluster.api("GET", "/api/v1/nodes");
    if (((nodes.body.items as unknown[] | undefined) ?? []).length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  nodeLine = `one simulated node (no container runs: ${why})`;
} else {
  await writeFile(join(CLUSTER_DIR, "state.json"), JSON.stringify(next, null, 2));
  const node = await startRealNode(cluster, { dir: join(CLUSTER_DIR, "node"), detached: true }).catch(async (err: unknown) => {
    for (const pid of next.pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    process.stderr.write(`cluster: the node did not start: ${(err as Error).message}\n`);
    process.exit(1);
  });
  next.node = { name: node.name, dir: node.dir, bridge: node.bridge, socket: node.socket, pids: node.pids };
  await writeFile(join(CLUSTER_DIR, "state.json"), JSON.stringify(next, null, 2));
  nodeLine = `node ${node.name} (kubelet with ${node.runtimeVersion}, pods on ${node.bridge}); its containerd reads registry hosts from ${node.hostsDir} (bundle node-config --out ${node.hostsDir})`;
}
process.stderr.write(`cluster: Kubernetes ${process.env.K8S_VERSION ?? "v1.34.4"} at ${cluster.url}, ${nodeLine}; restricted kubeconfig: ${cluster.restrictedKubeconfig}\n`);
process.stdout.write(`${cluster.kubeconfig}\n`);
