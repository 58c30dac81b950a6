#!/usr/bin/env -S node --import tsx
/**
 * npm run cluster:up — a real Kubernetes control plane on 127.0.0.1 (test/helpers/control-plane.ts) with
 * simulated nodes (test/helpers/node-agent.ts), left running in the background. Idempotent: when it runs
 * already, it only says so. Builds the binaries first when they are missing (scripts/cluster/build.sh; the
 * first build takes ~10-20 minutes on 2 cores, later ones nothing). Its last line is the admin kubeconfig.
 * State: CLUSTER_DIR (default $TMPDIR/airgap-bundle-cluster). npm run cluster:down stops it.
 */
import { spawn, spawnSync } from "node:child_process";
import { openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { adminApi, controlPlaneUnavailable, processAlive as alive, startControlPlane } from "../../test/helpers/control-plane.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLUSTER_DIR = process.env.CLUSTER_DIR ?? join(tmpdir(), "airgap-bundle-cluster");

/** What cluster:up leaves for cluster:down and for a second cluster:up. */
interface State { url: string; kubeconfig: string; restrictedKubeconfig: string; pids: number[] }

const state = await readFile(join(CLUSTER_DIR, "state.json"), "utf8").then((t) => JSON.parse(t) as State, () => undefined);
if (state && state.pids.every(alive)) {
  const api = await adminApi(state.url, join(CLUSTER_DIR, "pki"));
  if ((await api("GET", "/readyz").catch(() => ({ status: 0 }))).status === 200) {
    process.stderr.write(`cluster: already running at ${state.url}\n`);
    process.stdout.write(`${state.kubeconfig}\n`);
    process.exit(0);
  }
}
if (state) for (const pid of state.pids) if (alive(pid)) process.kill(pid, "SIGKILL");
await rm(CLUSTER_DIR, { recursive: true, force: true });
await mkdir(CLUSTER_DIR, { recursive: true });

if (await controlPlaneUnavailable()) {
  process.stderr.write("cluster: building kube-apiserver, kube-controller-manager, kube-scheduler and etcd from their Go modules (once; ~10-20 minutes on 2 cores on a fresh machine)\n");
  const started = Date.now();
  const ticker = setInterval(() => process.stderr.write(`cluster: still building (${Math.round((Date.now() - started) / 60_000)} min)\n`), 60_000);
  const built = spawnSync("bash", [join(ROOT, "scripts", "cluster", "build.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  clearInterval(ticker);
  if (built.status !== 0) {
    process.stderr.write("cluster: the build failed (see above)\n");
    process.exit(1);
  }
}
const cluster = await startControlPlane({ dir: CLUSTER_DIR, detached: true });
const log = openSync(join(CLUSTER_DIR, "logs", "node-agent.log"), "a");
const agent = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "cluster", "node-agent.mts"), CLUSTER_DIR, cluster.url], { cwd: ROOT, detached: true, stdio: ["ignore", log, log] });
agent.unref();
const next: State = { url: cluster.url, kubeconfig: cluster.kubeconfig, restrictedKubeconfig: cluster.restrictedKubeconfig, pids: [...cluster.pids, agent.pid!] };
await writeFile(join(CLUSTER_DIR, "state.json"), JSON.stringify(next, null, 2));
// Ready when the simulated node is.
for (let i = 0; i < 100; i++) {
  const nodes = await cluster.api("GET", "/api/v1/nodes");
  if (((nodes.body.items as unknown[] | undefined) ?? []).length > 0) break;
  await new Promise((r) => setTimeout(r, 200));
}
process.stderr.write(`cluster: Kubernetes ${process.env.K8S_VERSION ?? "v1.34.4"} at ${cluster.url}, one simulated node; restricted kubeconfig: ${cluster.restrictedKubeconfig}\n`);
process.stdout.write(`${cluster.kubeconfig}\n`);
