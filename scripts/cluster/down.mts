#!/usr/bin/env -S node --import tsx
/**
 * npm run cluster:down — stops what cluster:up started, by process id, and removes its state: the real node's
 * pods, containers and shims, its mounts, network namespaces and bridge first, then the control plane.
 */
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminApi, processAlive as alive } from "../../test/helpers/control-plane.js";
import { stopRealNode, type RealNodeState } from "../../test/helpers/node.js";

const dir = process.env.CLUSTER_DIR ?? join(tmpdir(), "airgap-bundle-cluster");
const state = await readFile(join(dir, "state.json"), "utf8").then((t) => JSON.parse(t) as { url: string; pids: number[]; node?: RealNodeState }, () => undefined);
if (!state) {
  process.stderr.write(`cluster: nothing to stop (no ${join(dir, "state.json")})\n`);
  process.exit(0);
}
if (state.node) {
  const api = await adminApi(state.url, join(dir, "pki")).catch(() => undefined);
  await stopRealNode(state.node, api);
}
for (const pid of [...state.pids].reverse()) if (alive(pid)) process.kill(pid, "SIGTERM");
for (let i = 0; i < 50 && state.pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
for (const pid of state.pids) if (alive(pid)) process.kill(pid, "SIGKILL");
await rm(dir, { recursive: true, force: true });
const count = state.pids.length + (state.node?.pids.length ?? 0);
process.stderr.write(`cluster: stopped ${count} processes${state.node ? `, the node's containers, mounts and bridge ${state.node.bridge}` : ""}, and removed ${dir}\n`);
